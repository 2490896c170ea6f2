"""Colour preservation against PIL's YCbCr conversion and a numpy mean/covariance reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from stylekernel.color import match_color_histogram, preserve_luminance, rgb_to_ycbcr, ycbcr_to_rgb
from stylekernel.inference import pil_to_tensor


def test_ycbcr_matches_pil(rand_rgb):
    image = rand_rgb(40, 24, seed=3)
    ours = rgb_to_ycbcr(pil_to_tensor(image))[0].permute(1, 2, 0).numpy() * 255
    pil = np.asarray(image.convert("YCbCr"), dtype=np.float64)
    assert np.abs(ours - pil).max() <= 1.01  # PIL rounds to 8 bits


def test_ycbcr_round_trip():
    x = torch.rand(2, 3, 8, 9)
    torch.testing.assert_close(ycbcr_to_rgb(rgb_to_ycbcr(x)), x, atol=1e-5, rtol=0)


def test_preserve_luminance_takes_luma_from_output_and_chroma_from_content():
    torch.manual_seed(0)
    stylized = 0.3 + 0.4 * torch.rand(1, 3, 16, 16)  # mid-range: no clamping happens
    content = 0.3 + 0.4 * torch.rand(1, 3, 16, 16)
    out = preserve_luminance(stylized, content)
    yo, ys, yc = rgb_to_ycbcr(out), rgb_to_ycbcr(stylized), rgb_to_ycbcr(content)
    torch.testing.assert_close(yo[:, 0], ys[:, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(yo[:, 1:], yc[:, 1:], atol=1e-5, rtol=0)
    assert out.min() >= 0 and out.max() <= 1


def test_preserve_luminance_shape_mismatch():
    with pytest.raises(ValueError):
        preserve_luminance(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 5))


def test_histogram_matching_matches_mean_and_covariance():
    rng = np.random.default_rng(0)
    # correlated colours, spread small enough that nothing is clamped
    src = 0.5 + 0.03 * (rng.standard_normal((3, 3)) @ rng.standard_normal((3, 32 * 32)))
    tgt = 0.45 + 0.025 * (rng.standard_normal((3, 3)) @ rng.standard_normal((3, 20 * 24)))
    src, tgt = np.clip(src, 0.01, 0.99), np.clip(tgt, 0.01, 0.99)
    out = match_color_histogram(torch.tensor(src).view(1, 3, 32, 32).float(), torch.tensor(tgt).view(3, 20, 24).float())
    assert out.shape == (1, 3, 32, 32)
    o = out.view(3, -1).double().numpy()
    assert 0.0 < o.min() and o.max() < 1.0  # the check below is only exact without clamping
    np.testing.assert_allclose(o.mean(1), tgt.mean(1), atol=1e-5)
    np.testing.assert_allclose(np.cov(o, bias=True), np.cov(tgt, bias=True), atol=2e-4)


def test_histogram_matching_of_gray_images_is_finite():
    gray = torch.full((1, 3, 8, 8), 0.5)
    out = match_color_histogram(gray, torch.rand(1, 3, 8, 8))
    assert torch.isfinite(out).all()


def test_pil_round_trip_helper(rand_rgb):
    image = rand_rgb(10, 7)
    from stylekernel.inference import tensor_to_pil

    assert np.array_equal(np.asarray(tensor_to_pil(pil_to_tensor(image))), np.asarray(image))
    assert isinstance(tensor_to_pil(torch.rand(3, 4, 5)), Image.Image)
