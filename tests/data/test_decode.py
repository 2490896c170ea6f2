"""load_image (stylekernel.image_files): conversions of odd-but-valid files, clear errors for broken ones, draft mode."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stylekernel.image_files import IMAGE_EXTENSIONS, draft_scale, load_image
from stylekernel.data.transforms import resize_shorter
from stylekernel.errors import ImageDecodeError, StyleKernelError

from .conftest import encode, gradient_image


def as_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int64)


def test_rgb_png_roundtrip_is_exact(tmp_path: Path) -> None:
    image = gradient_image(33, 21)
    path = tmp_path / "a.png"
    image.save(path)
    out = load_image(path)
    assert out.mode == "RGB" and out.size == (33, 21)
    np.testing.assert_array_equal(as_array(out), as_array(image))
    np.testing.assert_array_equal(as_array(load_image(path.read_bytes())), as_array(image))


def test_grayscale_is_replicated() -> None:
    gray = np.arange(0, 240, dtype=np.uint8).reshape(12, 20)
    out = as_array(load_image(encode(Image.fromarray(gray, "L"), "PNG")))
    assert out.shape == (12, 20, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray)


def test_16bit_grayscale_is_scaled_not_clipped() -> None:
    values = (np.arange(16 * 16, dtype=np.uint32).reshape(16, 16) * 257).astype(np.uint16)  # 0..65535
    source = Image.fromarray(values)
    assert source.mode.startswith("I;16")
    out = as_array(load_image(encode(source, "PNG")))
    expected = np.round(values.astype(np.float64) / 257.0)  # naive reference: 16 -> 8 bit
    np.testing.assert_array_equal(out[..., 0], expected)
    assert out.max() == 255 and out.min() == 0  # full range kept (PIL's convert would clip)


def test_palette_and_transparent_palette() -> None:
    rgb = gradient_image(16, 16)
    palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    out = as_array(load_image(encode(palette, "PNG")))
    np.testing.assert_array_equal(out, as_array(palette.convert("RGB")))
    transparent = palette.copy()
    transparent.info["transparency"] = int(np.asarray(palette)[0, 0])
    out = as_array(load_image(encode(transparent, "PNG")))
    assert tuple(out[0, 0]) == (255, 255, 255)  # transparent index -> white


def test_rgba_composited_on_white() -> None:
    array = np.zeros((4, 4, 4), np.uint8)
    array[..., 0] = 200  # red channel
    array[..., 3] = np.array([0, 64, 128, 255], np.uint8)[None, :]  # alpha varies by column
    out = as_array(load_image(encode(Image.fromarray(array, "RGBA"), "PNG")))
    alpha = array[..., 3].astype(np.float64) / 255.0
    expected_r = np.round(200 * alpha + 255 * (1 - alpha))
    expected_g = np.round(255 * (1 - alpha))
    np.testing.assert_allclose(out[..., 0], expected_r, atol=1)
    np.testing.assert_allclose(out[..., 1], expected_g, atol=1)


def test_la_composited_on_white() -> None:
    array = np.zeros((3, 3, 2), np.uint8)
    array[..., 0] = 0
    array[..., 1] = 0  # fully transparent black
    out = as_array(load_image(encode(Image.fromarray(array, "LA"), "PNG")))
    assert (out == 255).all()


def test_cmyk_jpeg_converted() -> None:
    cmyk = Image.new("CMYK", (24, 24), (0, 255, 255, 0))  # pure red in CMYK
    out = as_array(load_image(encode(cmyk, "JPEG", quality=95)))
    assert out.shape == (24, 24, 3)
    r, g, b = out[12, 12]
    assert r > 240 and g < 20 and b < 20


@pytest.mark.parametrize("orientation, expected_size", [(1, (40, 20)), (3, (40, 20)), (6, (20, 40)), (8, (20, 40))])
def test_exif_orientation_applied(orientation: int, expected_size: tuple[int, int]) -> None:
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 10, 10))  # blue top-left marker
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = load_image(encode(image, "PNG", exif=exif.tobytes()))
    assert out.size == expected_size
    arr = as_array(out)
    # naive reference: where the blue marker must end up after the rotation
    corner = {1: arr[0, 0], 3: arr[-1, -1], 6: arr[0, -1], 8: arr[-1, 0]}[orientation]
    assert corner[2] > 200 and corner[0] < 60


def test_tiny_image_is_valid() -> None:
    out = load_image(encode(Image.new("RGB", (1, 1), (10, 20, 30)), "PNG"), min_side=512)
    assert out.size == (1, 1) and tuple(as_array(out)[0, 0]) == (10, 20, 30)


def test_gif_first_frame() -> None:
    frames = [Image.new("P", (8, 8), i) for i in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    assert load_image(buffer.getvalue()).mode == "RGB"


def broken_files(tmp_path: Path) -> dict[str, Path]:
    good = encode(gradient_image(64, 48), "JPEG")
    files = {
        "zero": tmp_path / "zero.jpg",
        "truncated": tmp_path / "truncated.jpg",
        "html": tmp_path / "page.jpg",
        "text": tmp_path / "notes.png",
        "garbage": tmp_path / "garbage.jpg",
        "corrupt_png": tmp_path / "corrupt.png",
    }
    files["zero"].write_bytes(b"")
    files["truncated"].write_bytes(good[: len(good) // 2])
    files["html"].write_bytes(b"<!DOCTYPE html><html><body>Access denied</body></html>")
    files["text"].write_text("just some text\n")
    files["garbage"].write_bytes(bytes(range(256)) * 4)
    png = bytearray(encode(gradient_image(32, 32), "PNG"))
    png[60:120] = b"\x00" * 60  # smash the IDAT data
    files["corrupt_png"].write_bytes(bytes(png))
    return files


def test_broken_files_raise_clear_errors(tmp_path: Path) -> None:
    files = broken_files(tmp_path)
    reasons = {}
    for name, path in files.items():
        with pytest.raises(ImageDecodeError) as info:
            load_image(path)
        assert isinstance(info.value, StyleKernelError)
        assert info.value.path == str(path)
        assert "\n" not in str(info.value)
        reasons[name] = info.value.reason
    assert "empty" in reasons["zero"]
    assert "truncated" in reasons["truncated"]
    assert "HTML" in reasons["html"]
    assert "text" in reasons["text"]
    assert reasons["garbage"] == "unrecognised image format"
    assert reasons["corrupt_png"]


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ImageDecodeError, match="file not found"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageDecodeError, match="directory"):
        load_image(tmp_path)
    with pytest.raises(ImageDecodeError, match="empty"):
        load_image(b"")


def test_image_extensions_constant() -> None:
    assert ".jpg" in IMAGE_EXTENSIONS and ".png" in IMAGE_EXTENSIONS
    assert all(e.startswith(".") and e == e.lower() for e in IMAGE_EXTENSIONS)


# ----------------------------------------------------------------------------- draft mode


@pytest.mark.parametrize(
    "size, min_side, expected",
    [((2400, 1800), 512, 2), ((2400, 1800), 256, 4), ((2400, 1800), 200, 8), ((512, 384), 512, 1),
     ((512, 384), 384, 1), ((512, 384), 192, 2), ((4000, 3000), 375, 8), ((4000, 3000), 376, 4), ((10, 7), 1, 4)],
)
def test_draft_scale(size: tuple[int, int], min_side: int, expected: int) -> None:
    assert draft_scale(size, min_side) == expected
    if expected > 1:  # the reduced shorter side is still large enough, and halving again is not
        assert -(-min(size) // expected) >= min_side
    if expected < 8 and 2 * expected <= min(size):
        assert -(-min(size) // (2 * expected)) < min_side


@pytest.mark.parametrize("size, min_side", [((2400, 1800), 512), ((1999, 1501), 256), ((1203, 901), 300)])
def test_draft_decode_matches_full_decode(size: tuple[int, int], min_side: int) -> None:
    data = encode(gradient_image(*size, seed=3), "JPEG", quality=92)
    drafted = load_image(data, min_side=min_side)
    full = load_image(data)
    scale = draft_scale(size, min_side)
    assert scale > 1
    assert drafted.size == (-(-size[0] // scale), -(-size[1] // scale))  # decoded fewer pixels
    assert min(drafted.size) >= min_side
    # After resizing to the training size, draft and full decode agree closely. libjpeg rounds
    # reduced sizes up, so the longer side may differ by one pixel; compare the same geometry.
    small = resize_shorter(drafted, min_side)
    reference = resize_shorter(full, min_side)
    assert abs(small.width - reference.width) <= 1 and abs(small.height - reference.height) <= 1
    a = as_array(small).astype(np.float64)
    b = as_array(full.resize(small.size, Image.Resampling.BICUBIC)).astype(np.float64)
    assert np.abs(a - b).mean() < 2.0
    assert np.abs(a - b).max() < 40


def test_draft_not_applied_to_png_or_small_targets() -> None:
    png = encode(gradient_image(900, 700), "PNG")
    assert load_image(png, min_side=100).size == (900, 700)
    jpeg = encode(gradient_image(900, 700), "JPEG")
    assert load_image(jpeg, min_side=700).size == (900, 700)


def test_draft_respects_exif_rotation() -> None:
    image = gradient_image(1600, 1200)
    exif = Image.Exif()
    exif[0x0112] = 6
    out = load_image(encode(image, "JPEG", exif=exif.tobytes()), min_side=300)
    assert out.size == (300, 400)  # decoded at 1/4, then rotated upright
