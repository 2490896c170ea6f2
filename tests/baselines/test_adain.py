"""AdaIN: the transform puts the style's channel statistics on the normalised content, with the
peer's unbiased std by default and the biased one on request."""

from __future__ import annotations

import pytest
import torch

from stylekernel.baselines.adain import AdaINNet

from ._reference import mvn_ref


@pytest.mark.parametrize("unbiased", [True, False])
def test_transform_is_mvn_times_style_std_plus_style_mean(unbiased: bool) -> None:
    torch.manual_seed(0)
    net = AdaINNet(encoder_weights="random", unbiased_std=unbiased)
    content = torch.randn(2, 512, 6, 10, dtype=torch.float64) * 3.0 + 1.0
    style = torch.randn(2, 512, 5, 7, dtype=torch.float64) * torch.rand(1, 512, 1, 1, dtype=torch.float64) * 4.0 - 0.5
    out = net.transform({"relu4_1": content}, {"relu4_1": style})
    assert out.shape == content.shape and out.dtype == torch.float64

    n = 5 * 7
    s_mean = style.mean(dim=(2, 3))
    s_var = ((style - s_mean[..., None, None]) ** 2).sum(dim=(2, 3)) / (n - 1 if unbiased else n)
    s_std = (s_var + 1e-5).sqrt()
    expected = mvn_ref(content, unbiased=unbiased) * s_std[..., None, None] + s_mean[..., None, None]
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(out.mean(dim=(2, 3)), s_mean, rtol=1e-8, atol=1e-8)


def test_only_the_decoder_trains() -> None:
    net = AdaINNet(encoder_weights="random")
    assert net.parameter_count() == sum(p.numel() for p in net.decoder.parameters())
