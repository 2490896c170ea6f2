"""Stylizer: equality with the network's own forward, blending, masks, sizes, odd images, precision."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, features

from stylekernel.color import rgb_to_ycbcr
from stylekernel.errors import CheckpointError, ConfigError, ImageDecodeError
from stylekernel.inference import (
    Stylizer,
    fit_max_side,
    fit_style_to_stride,
    mask_weights,
    normalise_weights,
    pad_to_multiple,
    pil_to_tensor,
    style_target_size,
)


@pytest.fixture(scope="module")
def plain(net) -> Stylizer:
    """Untiled, on the in-memory net (no checkpoint round trip)."""
    return Stylizer(net, style_size=None, tile_size=None)


def naive(net, content, styles, *, weights=None, alpha=1.0, maps=None):
    """Reference written out step by step: encode, transform each style, blend, alpha, decode."""
    with torch.no_grad():
        fc = net.encode(content)
        ts = [net.transform(fc, net.encode(s)) for s in styles]
        if maps is not None:
            z = sum(m * t for m, t in zip(maps, ts))
        else:
            w = weights or [1.0 / len(styles)] * len(styles)
            z = sum(wi * t for wi, t in zip(w, ts))
        z = alpha * z + (1 - alpha) * fc["relu4_1"]
        return net.decode(z).clamp(0, 1)


# --- the tensor core ------------------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [1.0, 0.4, 0.0])
def test_single_style_equals_network_forward(net, plain, alpha):
    torch.manual_seed(0)
    c, s = torch.rand(1, 3, 48, 64), torch.rand(1, 3, 40, 56)
    with torch.no_grad():
        ref = net(c, s, alpha=alpha).clamp(0, 1)
    out = plain.stylize_tensor(c, [s], alpha=alpha)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    assert 0.05 < out.std() and 0 < out.mean() < 1  # the fixture network gives real contrast


def test_alpha_changes_the_output(plain):
    c, s = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    assert (plain.stylize_tensor(c, [s], alpha=1.0) - plain.stylize_tensor(c, [s], alpha=0.0)).abs().max() > 0.05


def test_tiled_stylizer_equals_untiled(net, plain):
    """No seams: 32-px tiles (2 x 2 for the encoder, 2 x 2 for the decoder) give the untiled result."""
    tiled = Stylizer(net, style_size=None, tile_size=32)
    c, s = torch.rand(1, 3, 64, 56), torch.rand(1, 3, 32, 32)
    torch.testing.assert_close(tiled.stylize_tensor(c, [s]), plain.stylize_tensor(c, [s]), atol=1e-5, rtol=0)


def test_odd_size_is_reflect_padded_and_cropped(net, plain):
    c, s = torch.rand(1, 3, 37, 50), torch.rand(1, 3, 32, 32)
    out = plain.stylize_tensor(c, [s])
    assert out.shape == (1, 3, 37, 50)
    padded = F.pad(c, (0, 6, 0, 3), mode="reflect")  # 40 x 56, by hand
    torch.testing.assert_close(out, naive(net, padded, [s])[..., :37, :50], atol=1e-5, rtol=0)


def test_two_styles_blend_transformed_features(net, plain):
    c, s1, s2 = torch.rand(1, 3, 32, 40), torch.rand(1, 3, 32, 32), torch.rand(1, 3, 29, 51)
    s2_ref = s2[..., :24, :48]  # styles are cropped to multiples of the stride
    out = plain.stylize_tensor(c, [s1, s2], style_weights=[7, 3])  # normalised to 0.7 / 0.3
    torch.testing.assert_close(out, naive(net, c, [s1, s2_ref], weights=[0.7, 0.3]), atol=1e-5, rtol=0)
    only1 = plain.stylize_tensor(c, [s1, s2], style_weights=[1, 0])
    torch.testing.assert_close(only1, plain.stylize_tensor(c, [s1]), atol=1e-5, rtol=0)


def test_mask_with_two_styles_white_is_style_one(net, plain):
    c, s1, s2 = torch.rand(1, 3, 32, 48), torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    white, black = torch.ones(1, 1, 32, 48), torch.zeros(1, 1, 32, 48)
    torch.testing.assert_close(plain.stylize_tensor(c, [s1, s2], mask=white), plain.stylize_tensor(c, [s1]), atol=1e-5, rtol=0)
    torch.testing.assert_close(plain.stylize_tensor(c, [s1, s2], mask=black), plain.stylize_tensor(c, [s2]), atol=1e-5, rtol=0)
    half = torch.zeros(1, 1, 32, 48)
    half[..., :24] = 1.0  # left half white -> style 1; the boundary falls on a relu4_1 cell edge
    m = torch.zeros(1, 1, 4, 6)
    m[..., :3] = 1.0
    torch.testing.assert_close(plain.stylize_tensor(c, [s1, s2], mask=half), naive(net, c, [s1, s2], maps=[m, 1 - m]), atol=1e-5, rtol=0)


def test_mask_with_one_style_keeps_content_under_black(net, plain):
    c, s = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    black = torch.zeros(1, 1, 32, 32)
    torch.testing.assert_close(plain.stylize_tensor(c, [s], mask=black), plain.stylize_tensor(c, [s], alpha=0.0), atol=1e-5, rtol=0)


def test_mask_weights_rule():
    m = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]).view(1, 1, 1, 5)
    w = torch.stack([t.flatten() for t in mask_weights(m, 3)])  # style i owns level (3 - i) / 2
    expected = torch.tensor([[0, 0, 0, 0.5, 1], [0, 0.5, 1, 0.5, 0], [1, 0.5, 0, 0, 0]])
    torch.testing.assert_close(w, expected)
    w2 = mask_weights(m, 2)
    torch.testing.assert_close(w2[0], m)
    torch.testing.assert_close(w2[1], 1 - m)


def test_weight_validation():
    assert normalise_weights(None, 4) == [0.25] * 4
    assert normalise_weights([2, 6], 2) == [0.25, 0.75]
    for bad in ([1], [0, 0], [-1, 2], [float("nan"), 1]):
        with pytest.raises(ConfigError):
            normalise_weights(bad, 2)


# --- geometry ------------------------------------------------------------------------------------
@pytest.mark.parametrize("hw", [(9, 9), (1, 1), (1, 40), (40, 1), (2, 3), (16, 16), (17, 100)])
def test_pad_to_multiple(hw):
    x = torch.rand(1, 3, *hw)
    y = pad_to_multiple(x, 8, min_size=16)
    assert y.shape[-2] % 8 == 0 and y.shape[-1] % 8 == 0 and min(y.shape[-2:]) >= 16
    torch.testing.assert_close(y[..., : hw[0], : hw[1]], x)
    if 1 < hw[0] < y.shape[-2] < 2 * hw[0]:  # one reflection: row H + k mirrors row H - 2 - k
        torch.testing.assert_close(y[..., hw[0], : hw[1]], x[..., hw[0] - 2, :])


def test_style_is_cropped_to_the_stride():
    s = torch.rand(1, 3, 29, 51)
    torch.testing.assert_close(fit_style_to_stride(s, 8), s[..., :24, :48])
    tiny = fit_style_to_stride(torch.rand(1, 3, 5, 20), 8)
    assert tiny.shape == (1, 3, 8, 16)


def test_size_rules():
    assert fit_max_side((4000, 3000), 1000) == (1000, 750)
    assert fit_max_side((400, 300), 1000) == (400, 300)
    assert fit_max_side((400, 300), None) == (400, 300)
    assert style_target_size((1024, 768), 512) == (683, 512)
    assert style_target_size((9, 9), 512) == (512, 512)  # small styles are upscaled
    assert style_target_size((100, 4000), 512) == (51, 2048)  # longer side capped at 4x
    assert style_target_size((123, 45), None) == (123, 45)


# --- the PIL / path API ---------------------------------------------------------------------------
def test_public_import_and_input_kinds(stylizer, rand_rgb, tmp_path):
    from stylekernel import Stylizer as Lazy

    assert Lazy is Stylizer
    content, style = rand_rgb(40, 24, seed=1), rand_rgb(30, 30, seed=2)
    content.save(tmp_path / "c.png")
    style.save(tmp_path / "s.png")
    by_pil = stylizer.stylize(content, style, alpha=0.8)
    by_path = stylizer.stylize(tmp_path / "c.png", str(tmp_path / "s.png"), alpha=0.8)
    by_tensor = stylizer.stylize(pil_to_tensor(content)[0], pil_to_tensor(style), alpha=0.8)
    assert by_pil.size == (40, 24) and by_pil.mode == "RGB"
    assert np.array_equal(np.asarray(by_pil), np.asarray(by_path))
    assert np.array_equal(np.asarray(by_pil), np.asarray(by_tensor))


def _exif_rotated_jpeg(path: Path, image: Image.Image) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    image.save(path, format="JPEG", exif=exif)


def _odd_images(rand_rgb, tmp_path: Path) -> dict[str, tuple[Path, tuple[int, int]]]:
    base = rand_rgb(36, 20, seed=5)
    out: dict[str, tuple[Path, tuple[int, int]]] = {}

    def put(name: str, image: Image.Image, size: tuple[int, int] | None = None, **kwargs) -> None:
        path = tmp_path / name
        image.save(path, **kwargs)
        out[name] = (path, size or image.size)

    put("gray.png", base.convert("L"))
    put("gray16.png", Image.fromarray(np.asarray(base.convert("L"), dtype=np.uint16) * 257))  # mode I;16
    put("palette.png", base.convert("P", palette=Image.Palette.ADAPTIVE, colors=16))
    put("rgba.png", Image.merge("RGBA", (*base.split(), Image.linear_gradient("L").resize(base.size))))
    put("la.png", Image.merge("LA", (base.convert("L"), Image.new("L", base.size, 128))))
    put("cmyk.jpg", base.convert("CMYK"), format="JPEG")
    put("tiny.png", rand_rgb(9, 9, seed=6))
    put("panorama.png", rand_rgb(1000, 40, seed=7))
    put("one_row.png", rand_rgb(30, 1, seed=8))
    if features.check("webp"):
        put("image.webp", base, format="WEBP")
    rotated = tmp_path / "exif_rotated.jpg"
    _exif_rotated_jpeg(rotated, base)
    out["exif_rotated.jpg"] = (rotated, (base.height, base.width))  # displayed upright: sides swap
    return out


def test_odd_but_valid_images_just_work(stylizer, rand_rgb, tmp_path):
    images = _odd_images(rand_rgb, tmp_path)
    for name, (path, size) in images.items():
        out = stylizer.stylize(path, path)  # also as the style image
        assert out.size == size, name
        assert out.mode == ("RGBA" if name in ("rgba.png", "la.png") else "RGB"), name
        assert np.isfinite(np.asarray(out, dtype=np.float32)).all()


def test_alpha_is_put_back(stylizer, rand_rgb, tmp_path):
    base = rand_rgb(24, 16)
    alpha = Image.linear_gradient("L").resize(base.size)
    rgba = Image.merge("RGBA", (*base.split(), alpha))
    out = stylizer.stylize(rgba, base)
    assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(alpha))
    assert stylizer.stylize(rgba, base, keep_alpha=False).mode == "RGB"


def test_max_side_downscales_and_says_so(stylizer, rand_rgb, caplog):
    with caplog.at_level(logging.WARNING):
        out = stylizer.stylize(rand_rgb(120, 60), rand_rgb(20, 20), max_side=40)
    assert out.size == (40, 20)
    assert "downscaled" in caplog.text


def test_preserve_color_luminance_keeps_content_chroma(stylizer, rand_rgb):
    content, style = rand_rgb(32, 32, seed=1), rand_rgb(32, 32, seed=9)
    out = stylizer.stylize(content, style, preserve_color="luminance")
    chroma = rgb_to_ycbcr(pil_to_tensor(out))[:, 1:]
    chroma_c = rgb_to_ycbcr(pil_to_tensor(content))[:, 1:]
    plain_chroma = rgb_to_ycbcr(pil_to_tensor(stylizer.stylize(content, style)))[:, 1:]
    err = (chroma - chroma_c).abs().mean()
    assert err < 0.02 and err < 0.5 * (plain_chroma - chroma_c).abs().mean()


def test_preserve_color_histogram_changes_the_style_colours(stylizer, rand_rgb):
    content, style = rand_rgb(32, 32, seed=1), rand_rgb(32, 32, seed=9)
    a = np.asarray(stylizer.stylize(content, style, preserve_color="histogram"), dtype=np.float32)
    b = np.asarray(stylizer.stylize(content, style), dtype=np.float32)
    assert np.abs(a - b).max() > 0


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_is_close_to_fp32(net, plain, precision):
    c, s = torch.rand(1, 3, 32, 40), torch.rand(1, 3, 32, 32)
    low = Stylizer(net, precision=precision, style_size=None, tile_size=None).stylize_tensor(c, [s])
    assert low.dtype == torch.float32
    assert (low - plain.stylize_tensor(c, [s])).abs().max() < 0.05


def test_bad_arguments_raise_config_errors(stylizer, net, rand_rgb):
    img = rand_rgb(16, 16)
    for kwargs in ({"alpha": 1.5}, {"preserve_color": "sepia"}, {"style_weights": [1, 2]},
                   {"mask": img, "style_weights": [1.0]}, {"max_side": 0}):  # fmt: skip
        with pytest.raises(ConfigError):
            stylizer.stylize(img, img, **kwargs)
    for kwargs in ({"precision": "int8"}, {"device": "cuda:7"} if not torch.cuda.is_available() else {"tile_size": 0}):
        with pytest.raises(ConfigError):
            Stylizer(net, **kwargs)
    with pytest.raises(ConfigError):
        stylizer.stylize(torch.rand(2, 3, 8, 8), img)


def test_bad_files_raise_one_clear_error(stylizer, tmp_path, rand_rgb):
    (tmp_path / "page.jpg").write_text("<!DOCTYPE html><html><body>404</body></html>")
    with pytest.raises(ImageDecodeError, match="HTML"):
        stylizer.stylize(tmp_path / "page.jpg", rand_rgb(16, 16))
    with pytest.raises(ImageDecodeError):
        stylizer.stylize(rand_rgb(16, 16), tmp_path / "missing.png")


def test_from_checkpoint_rejects_non_checkpoints(tmp_path):
    bad = tmp_path / "model.ckpt"
    bad.write_text("not a checkpoint")
    with pytest.raises(CheckpointError):
        Stylizer.from_checkpoint(bad)


def test_feature_cache_encodes_each_image_once(net, monkeypatch):
    calls: list[tuple[int, ...]] = []
    original = net.encode
    monkeypatch.setattr(net, "encode", lambda image, layers=None: calls.append(tuple(image.shape)) or original(image, layers))
    cached = Stylizer(net, style_size=None, tile_size=None)
    c1, c2, s = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), torch.rand(1, 3, 24, 24)
    first = cached.stylize_tensor(c1, [s])
    assert len(calls) == 2
    torch.testing.assert_close(cached.stylize_tensor(c1, [s], alpha=0.5), cached.stylize_tensor(c1, [s], alpha=0.5))
    assert len(calls) == 2  # content and style came from the cache
    cached.stylize_tensor(c2, [s])
    assert len(calls) == 3  # only the new content was encoded
    uncached = Stylizer(net, style_size=None, tile_size=None, feature_cache_bytes=0)
    torch.testing.assert_close(uncached.stylize_tensor(c1, [s]), first)
    assert len(calls) == 5


def test_relu5_1_network_any_size(make_net):
    net5 = make_net(use_relu5_1=True)
    st = Stylizer(net5, style_size=None, tile_size=None)
    for hw in [(9, 9), (20, 37)]:
        c, s = torch.rand(1, 3, *hw), torch.rand(1, 3, 20, 20)
        out = st.stylize_tensor(c, [s])
        assert out.shape == (1, 3, *hw) and torch.isfinite(out).all()
    c = torch.rand(1, 3, 32, 48)
    with torch.no_grad():
        ref = net5(c, s[..., :16, :16], alpha=0.6).clamp(0, 1)  # styles are cropped to the stride
    torch.testing.assert_close(st.stylize_tensor(c, [s], alpha=0.6), ref, atol=1e-5, rtol=0)
