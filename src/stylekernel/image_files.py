"""Image files: the one home of decoding, tensor <-> PIL conversion, saving, listing and naming.

Used by the data layer, ``stylekernel stylize``, ``stylekernel predict`` (the prediction writer),
the evaluation package and image logging. Its parts, top to bottom:

* **Decoding.** :func:`load_image` turns a path or an in-memory encoded file into an RGB
  ``PIL.Image.Image``. Valid but unusual files are converted (grayscale, 16-bit, palette, CMYK,
  alpha, EXIF orientation); files that cannot be decoded raise
  :class:`stylekernel.errors.ImageDecodeError` with a short human reason, never a PIL traceback.
  Large JPEGs can be decoded at a reduced scale (libjpeg's DCT scaling, PIL's *draft mode*) when
  the caller says how many pixels it needs (``min_side``): a 2400x1800 photo that will be resized
  to a shorter side of 512 is decoded at 1/2 scale (1200x900), roughly 3-4x faster than a full
  decode.
* **Pixel budget.** An image whose stored size (after any draft reduction) exceeds
  :func:`max_pixels` is refused from its header, before its pixels are decoded: a 17 KB PNG can
  claim 12000x12000 pixels. The budget is, in order: the ``max_pixels`` argument of
  :func:`load_image`, the innermost :func:`pixel_budget` block (``stylekernel stylize
  --max-pixels``), ``$STYLEKERNEL_MAX_PIXELS``, and otherwise the machine's memory (or the
  process's cgroup limit) divided by :data:`BYTES_PER_PIXEL`. Pillow's own decompression-bomb
  limit (about 179 MP) still applies.
* **Conversion.** :func:`pil_to_tensor` / :func:`tensor_to_pil` (float in [0, 1] <-> 8-bit RGB,
  torchvision's v2 functional API for the layout, round-half-to-even of ``x * 255`` after
  clamping), :func:`to_uint8` and :func:`quantize` (the 256 levels an 8-bit file holds).
* **Saving.** :func:`save_image`: atomic (:func:`stylekernel.atomic.atomic_write`: temporary file
  in the same folder, fsync, ``os.replace``); the format follows the extension (:data:`OUTPUT_FORMATS`).
* **Listing.** One extension list, :data:`IMAGE_EXTENSIONS`, and one folder listing,
  :func:`list_images`: the entries of a folder named like images (any case), not hidden, not
  recursive, sorted by file name.
* **Names.** :func:`image_id`: an image's id is its file name without the image extension
  (characters that cannot be in a file name replaced by ``_``). A stylized image of content
  ``c`` and style ``s`` is named ``<id of c>__<id of s>.<ext>`` (:func:`stylized_name`), and
  :func:`parse_stylized_name` reads a name back against the content and style ids (a name that
  reads two ways is an error, never a guess).
* **Pairs files.** :func:`read_pairs_file`: one ``content<comma or TAB>style`` pair per line.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import os
import re
import warnings
from pathlib import Path
from struct import error as struct_error
from typing import Any, BinaryIO, Iterator, Sequence

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from stylekernel.atomic import atomic_write
from stylekernel.errors import ConfigError, ImageDecodeError, StyleKernelError

__all__ = [
    "BYTES_PER_PIXEL",
    "IMAGE_EXTENSIONS",
    "OUTPUT_FORMATS",
    "SEPARATOR",
    "AmbiguousNameError",
    "OutputWriteError",
    "assign_ids",
    "draft_scale",
    "image_id",
    "is_image_name",
    "list_images",
    "load_image",
    "max_pixels",
    "parse_stylized_name",
    "pil_to_tensor",
    "pixel_budget",
    "quantize",
    "read_pairs_file",
    "save_image",
    "scan_images",
    "sniff_reason",
    "stylized_name",
    "tensor_to_pil",
    "to_rgb",
    "to_uint8",
]

#: File name extensions (lower case, with the dot) treated as images everywhere: folder sources,
#: ``stylekernel data check``, ``stylekernel stylize`` folders, evaluation folders, figures.
#: Matching is case-insensitive.
IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".jpg",
    ".jpeg",
    ".png",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
    ".ppm",
    ".pgm",
    ".pbm",
)

#: Memory an input pixel is assumed to cost on its way through stylization (decoded image, float
#: tensors, padded copies, output): the default budget is memory / this.
BYTES_PER_PIXEL = 256
ENV_MAX_PIXELS = "STYLEKERNEL_MAX_PIXELS"
_BUDGET: contextvars.ContextVar[int | None] = contextvars.ContextVar("stylekernel_pixel_budget", default=None)


def _memory_bytes() -> int:
    """Physical memory, or the cgroup (container) limit when that is smaller."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 16 << 30
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < total:
            total = int(text)
    return total


def max_pixels(override: int | None = None) -> int:
    """The pixel budget in force (see the module docstring); ``override`` wins when given."""
    if override is not None:
        return int(override)
    scoped = _BUDGET.get()
    if scoped is not None:
        return scoped
    env = os.environ.get(ENV_MAX_PIXELS, "").strip()
    if env:
        try:
            value = int(float(env))
        except ValueError:
            raise ImageDecodeError(f"${ENV_MAX_PIXELS}", f"must be a number of pixels, got {env!r}") from None
        if value >= 1:
            return value
    return _memory_bytes() // BYTES_PER_PIXEL


@contextlib.contextmanager
def pixel_budget(pixels: int | None) -> Iterator[None]:
    """Images loaded inside this block may have at most ``pixels`` pixels (None: the default)."""
    token = _BUDGET.set(None if pixels is None else int(pixels))
    try:
        yield
    finally:
        _BUDGET.reset(token)


#: libjpeg can decode at 1/1, 1/2, 1/4 and 1/8 of the full resolution.
_JPEG_SCALES: tuple[int, ...] = (8, 4, 2, 1)


def draft_scale(size: tuple[int, int], min_side: int) -> int:
    """The largest JPEG reduction factor (8, 4, 2 or 1) that keeps the shorter side >= ``min_side``.

    libjpeg rounds reduced sizes up, so a side of length ``n`` decoded at scale ``s`` has
    ``ceil(n / s)`` pixels.

    Args:
        size: ``(width, height)`` of the full-resolution image.
        min_side: smallest acceptable shorter side after reduction (pixels, >= 1).
    """
    short = min(size)
    for scale in _JPEG_SCALES:
        if scale <= short and -(-short // scale) >= min_side:
            return scale
    return 1


def sniff_reason(head: bytes) -> str | None:
    """A human reason for bytes that are obviously not an image (HTML, text, JSON), else ``None``."""
    stripped = head.lstrip().lower()
    if not stripped:
        return "file contains only whitespace"
    if stripped.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body")):
        return "not an image: the file is HTML/XML (often a failed download saved under an image name)"
    if stripped[:1] in (b"{", b"["):
        return "not an image: the file looks like JSON text"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "not an image: the file is plain text"


def _open_source(source: str | os.PathLike[str] | bytes, name: str | None) -> tuple[BinaryIO, str]:
    """Open ``source`` as a binary stream and return it with the label used in error messages."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        label = name or "<in-memory image>"
        if not data:
            raise ImageDecodeError(label, "empty file (0 bytes)")
        return io.BytesIO(data), label
    path = Path(source)
    label = name or str(path)
    if not path.exists():
        raise ImageDecodeError(label, "file not found")
    if path.is_dir():
        raise ImageDecodeError(label, "is a directory, not an image file")
    try:
        size = path.stat().st_size
        if size == 0:
            raise ImageDecodeError(label, "empty file (0 bytes)")
        return open(path, "rb"), label  # noqa: SIM115 - closed by the caller
    except PermissionError:
        raise ImageDecodeError(label, "permission denied") from None
    except OSError as exc:
        raise ImageDecodeError(label, f"cannot open file ({exc.strerror or exc})") from None


def _array_to_uint8(array: np.ndarray) -> np.ndarray:
    """Map a high-bit-depth or float array to uint8, using the value range of its type."""
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        finite = np.nan_to_num(array.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        peak = 1.0 if finite.size == 0 or float(finite.max()) <= 1.0 else 255.0
        return np.clip(np.round(finite / peak * 255.0), 0, 255).astype(np.uint8)
    values = array.astype(np.int64)
    peak = int(values.max()) if values.size else 0
    # 16-bit data (PNG/TIFF "I;16" or "I") uses the full 0..65535 range; data that already fits in
    # 8 bits (some TIFFs store 8-bit values in 32-bit ints) is kept as it is.
    if peak > 255:
        values = np.round(np.clip(values, 0, 65535) / 257.0).astype(np.int64)
    return np.clip(values, 0, 255).astype(np.uint8)


def _flatten_alpha(image: Image.Image) -> Image.Image:
    """Composite an image with transparency onto a white background; returns RGB."""
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB (alpha composited on white)."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        gray = _array_to_uint8(np.asarray(image))
        return Image.fromarray(gray, mode="L").convert("RGB")
    if mode == "P":
        if "transparency" in image.info:
            return _flatten_alpha(image)
        return image.convert("RGB")
    if mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        if mode in ("La", "RGBa"):  # premultiplied alpha
            image = image.convert("RGBA" if mode == "RGBa" else "LA")
        return _flatten_alpha(image)
    if mode in ("L", "1") and "transparency" in image.info:
        return _flatten_alpha(image)
    return image.convert("RGB")


def load_image(
    source: str | os.PathLike[str] | bytes,
    *,
    min_side: int | None = None,
    name: str | None = None,
    max_pixels: int | None = None,
) -> Image.Image:
    """Decode an image file into an 8-bit RGB ``PIL.Image.Image``.

    Conversions applied to valid but unusual files:

    * EXIF orientation is applied (the result is upright, as a photo viewer shows it).
    * Grayscale (``L``, ``1``) is replicated to three channels; 16-bit and 32-bit integer images
      (``I;16``, ``I``) are scaled from 0..65535 to 0..255; float images (``F``) from 0..1
      (or clipped to 0..255 when their values exceed 1).
    * Palette images are expanded; CMYK and YCbCr are converted to RGB.
    * Images with an alpha channel (``RGBA``, ``LA``, ``PA``, palette or grayscale with a
      transparent colour) are **alpha-composited on a white background**, so transparent
      regions become white rather than the arbitrary colour stored under them.
    * Multi-frame files (GIF, TIFF) yield their first frame.

    Args:
        source: a file path, or the encoded bytes of an image file.
        min_side: when given and the file is a JPEG, decode with PIL's draft mode at the
            smallest scale (1/2, 1/4 or 1/8) whose shorter side is still ``>= min_side``; the
            shorter side of the result is never smaller than ``min_side`` unless the stored
            image itself is smaller. Other formats always decode at full size.
        name: label used in error messages (defaults to the path, or ``<in-memory image>``).
        max_pixels: the pixel budget for this call (default: see :func:`max_pixels`).

    Returns:
        An RGB image (``mode == "RGB"``), fully loaded (the file is closed).

    Raises:
        ImageDecodeError: the path is missing or a directory, the file is empty, truncated,
            text/HTML, of an unknown format, or corrupt, or larger than the pixel budget.
            ``exc.reason`` is a short human reason.
    """
    if min_side is not None and min_side < 1:
        raise ValueError(f"min_side must be >= 1, got {min_side}")
    stream, label = _open_source(source, name)
    try:
        head = stream.read(512)
        stream.seek(0)
        try:
            with warnings.catch_warnings():
                # Pillow warns about odd-but-readable files (e.g. "Possibly corrupt EXIF data");
                # what matters is whether the pixels decode, which is checked below.
                warnings.simplefilter("ignore")
                image = Image.open(stream)
                width, height = image.size
                scale = 1
                if min_side is not None and image.format == "JPEG":
                    scale = draft_scale(image.size, min_side)
                    if scale > 1:
                        image.draft(image.mode, (width // scale, height // scale))
                _check_budget(label, width, height, scale, max_pixels)
                image.load()
                image = ImageOps.exif_transpose(image) or image
                rgb = to_rgb(image)
                rgb.load()
        except ImageDecodeError:
            raise
        except UnidentifiedImageError:
            raise ImageDecodeError(label, sniff_reason(head) or "unrecognised image format") from None
        except Image.DecompressionBombError as exc:
            raise ImageDecodeError(label, f"image too large ({exc})") from None
        except (OSError, SyntaxError, ValueError, IndexError, TypeError, EOFError, struct_error) as exc:
            raise ImageDecodeError(label, _reason_from_exception(exc)) from None
    finally:
        stream.close()
    if rgb.width < 1 or rgb.height < 1:
        raise ImageDecodeError(label, "image has zero width or height")
    return rgb


def _check_budget(label: str, width: int, height: int, scale: int, override: int | None) -> None:
    """ImageDecodeError when the pixels to decode (``scale``: JPEG draft reduction) exceed the budget."""
    pixels = -(-width // scale) * -(-height // scale)
    budget = max_pixels(override)
    if pixels > budget:
        raise ImageDecodeError(
            label,
            f"{width}x{height} = {pixels:,} pixels to decode exceed the pixel budget of {budget:,} "
            f"(raise it with --max-pixels or ${ENV_MAX_PIXELS}; refused before decoding)",
        )


def _reason_from_exception(exc: BaseException) -> str:
    """Shorten a Pillow exception into a one-line reason."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = text.lower()
    if "truncated" in lowered or "premature end" in lowered or isinstance(exc, EOFError):
        return "truncated image data (incomplete file)"
    return f"corrupt image data ({text[:160]})"



# --- conversion -------------------------------------------------------------------------------
def pil_to_tensor(image: Image.Image) -> Tensor:
    """RGB PIL image -> (1, 3, H, W) float32 in [0, 1] (``uint8 / 255``)."""
    from torchvision.transforms.v2.functional import pil_to_tensor as _pil_to_uint8

    return _pil_to_uint8(image.convert("RGB")).unsqueeze(0).float().div_(255.0)


def to_uint8(x: Tensor) -> Tensor:
    """(..., H, W) float in [0, 1] -> uint8 on the CPU: round-half-to-even of ``x * 255`` after clamping."""
    return x.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).cpu()


def quantize(x: Tensor) -> Tensor:
    """Round images in [0, 1] to the 256 levels an 8-bit file holds (same dtype and device)."""
    return (x.clamp(0, 1) * 255).round() / 255


def tensor_to_pil(x: Tensor) -> Image.Image:
    """(3, H, W) or (1, 3, H, W) float in [0, 1] -> RGB PIL image (rounded to 8 bits by :func:`to_uint8`)."""
    from torchvision.transforms.v2.functional import to_pil_image

    if x.dim() == 4:
        x = x[0]
    if x.dim() != 3 or x.shape[0] != 3:
        raise ConfigError(f"expected a (3, H, W) or (1, 3, H, W) image tensor, got shape {tuple(x.shape)}")
    return to_pil_image(to_uint8(x), mode="RGB")


# --- saving -----------------------------------------------------------------------------------
class OutputWriteError(StyleKernelError, OSError):
    """An output image could not be written (disk full, permission denied, ...)."""


#: Output extensions (lower case, with the dot) -> PIL format names.
OUTPUT_FORMATS: dict[str, str] = {
    ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF",
}  # fmt: skip


def save_image(image: Image.Image | Tensor, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write ``image`` atomically: a temporary file in the same folder, fsync, then ``os.replace``.

    ``image`` is a PIL image or a (3, H, W) / (1, 3, H, W) float tensor in [0, 1] (rounded by
    :func:`tensor_to_pil`). The format follows the extension (:data:`OUTPUT_FORMATS`; JPEG and
    WebP at quality 95); formats without alpha get an RGBA image composited on white. Raises
    :class:`ConfigError` when the file exists and ``overwrite`` is False, or the extension is
    unknown, and :class:`OutputWriteError` when the file system refuses the write. A failed write
    leaves no file, not even a temporary one.
    """
    p = Path(path)
    fmt = OUTPUT_FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise ConfigError(f"output {p}: unknown image extension {p.suffix!r} (use one of {sorted(OUTPUT_FORMATS)})")
    if p.is_dir():
        raise ConfigError(f"output {p} is a directory")
    if p.exists() and not overwrite:
        raise ConfigError(f"output {p} exists (pass --overwrite to replace it)")
    if isinstance(image, Tensor):
        image = tensor_to_pil(image)
    if image.mode == "RGBA" and fmt in ("JPEG", "BMP"):
        image = to_rgb(image)
    kwargs = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(p) as tmp, open(tmp, "wb") as f:
            image.save(f, format=fmt, **kwargs)
    except OSError as exc:
        raise OutputWriteError(f"cannot write {p}: {exc.strerror or exc}") from None
    return p


# --- listing ----------------------------------------------------------------------------------
def is_image_name(path: str | os.PathLike[str]) -> bool:
    """Whether the file name ends with one of :data:`IMAGE_EXTENSIONS` (any case)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def scan_images(folder: str | os.PathLike[str]) -> tuple[list[Path], int]:
    """The image entries of ``folder`` (see :func:`list_images`) and how many other entries it holds.

    Entries named like images are returned even when they are not files (a directory called
    ``x.jpg``), so the caller reports them rather than silently skipping them.
    """
    images, ignored = [], 0
    for entry in sorted(Path(folder).iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        if is_image_name(entry):
            images.append(entry)
        else:
            ignored += 1
    return images, ignored


def list_images(folder: str | os.PathLike[str], what: str = "image") -> list[Path]:
    """Image entries directly inside ``folder``: named with an :data:`IMAGE_EXTENSIONS` ending (any
    case), not hidden (no leading dot), sorted by file name (Python string order).

    Raises :class:`ConfigError` (one line, naming ``what``) when the folder does not exist or holds
    no image.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ConfigError(f"{what} folder {root} does not exist or is not a folder")
    images, _ = scan_images(root)
    if not images:
        raise ConfigError(f"{what} folder {root} holds no image files ({', '.join(IMAGE_EXTENSIONS)})")
    return images


# --- names ------------------------------------------------------------------------------------
#: Joins the content id and the style id in a stylized image's name.
SEPARATOR = "__"
#: Characters that cannot be part of a file name (path separators, control characters).
_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]+")


class AmbiguousNameError(ConfigError):
    """A stylized file name reads as more than one (content, style) pair, or as none."""


def image_id(name: Any) -> str:
    """The id of an image from its file name (or any id): the name without its image extension.

    ``"photo.jpg"`` -> ``"photo"``; ``"sub/a.PNG"`` -> ``"sub_a"``; ``"photo 1"`` -> ``"photo 1"``.
    Runs of path separators and control characters become ``_`` and leading dots are dropped, so
    an id never leaves its folder; an empty id is ``"unnamed"``. A 0-d tensor gives its value.
    """
    if isinstance(name, Tensor):
        name = name.item()
    text = str(name)
    if is_image_name(text):
        text = text[: -len(Path(text).suffix)]
    text = _UNSAFE.sub("_", text).lstrip(".")
    return text or "unnamed"


def assign_ids(paths: Sequence[Path]) -> dict[Path, str]:
    """:func:`image_id` of each file; files whose ids collide use their whole name with dots as ``_``."""
    ids = {p: image_id(p.name) for p in paths}
    counts: dict[str, int] = {}
    for i in ids.values():
        counts[i] = counts.get(i, 0) + 1
    return {p: i if counts[i] == 1 else _UNSAFE.sub("_", p.name.replace(".", "_")) for p, i in ids.items()}


def stylized_name(content_id: str, style_id: str, ext: str = "png") -> str:
    """The file name of the stylization of ``content_id`` with ``style_id``: ``<content>__<style>.<ext>``."""
    return f"{content_id}{SEPARATOR}{style_id}.{ext.lstrip('.')}"


def parse_stylized_name(name: str, content_ids: Sequence[str], style_ids: Sequence[str]) -> tuple[str, str]:
    """(content id, style id) of a stylized file ``<content>__<style>.<ext>`` (the inverse of :func:`stylized_name`).

    Every split of the name at a ``__`` is tried against the known ids; exactly one must match.
    Raises :class:`AmbiguousNameError` when none matches or when several do (for example content
    ids ``a`` and ``a__b`` with style ids ``b__x`` and ``x`` read ``a__b__x.png`` two ways).
    """
    stem = image_id(name)
    parts = stem.split(SEPARATOR)
    c_known, s_known = set(content_ids), set(style_ids)
    readings = [
        (a, b)
        for k in range(1, len(parts))
        if (a := SEPARATOR.join(parts[:k])) in c_known and (b := SEPARATOR.join(parts[k:])) in s_known
    ]
    if not readings:
        raise AmbiguousNameError(f"{name}: no <content>{SEPARATOR}<style> reading")
    if len(readings) > 1:
        options = " or ".join(f"content {a!r} + style {b!r}" for a, b in readings)
        raise AmbiguousNameError(f"{name}: ambiguous, reads as {options}")
    return readings[0]


# --- pairs files ------------------------------------------------------------------------------
_PAIR_HEADERS = {("content", "style"), ("content_id", "style_id")}
_COMMENT = re.compile(r"(^|\s)#.*$")


def read_pairs_file(path: str | os.PathLike[str], *, what: str = "pairs file") -> list[tuple[str, str]]:
    """Pairs ``[(content, style), ...]`` from a pairs file, in file order.

    Format: one pair per line, ``content<comma or TAB>style`` (spaces around the names are
    stripped). Blank lines are skipped; ``#`` at the start of a line or after a space starts a
    comment. A first line ``content,style`` or ``content_id,style_id`` (any case) is a header.
    What the names are is the caller's business: ids of the test sources (``stylekernel fit``'s
    ``pairs_file``) or file names relative to the content and style folders (``evaluate``).
    Raises :class:`ConfigError` naming the file and line on a bad line, or when it lists no pair.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"{what} {file} does not exist")
    pairs: list[tuple[str, str]] = []
    for number, raw in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        line = _COMMENT.sub("", raw).strip()
        if not line:
            continue
        parts = [p.strip() for p in (line.split("\t") if "\t" in line else line.split(","))]
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"{what} {file} line {number}: expected 'content,style', got {raw.strip()!r}")
        if not pairs and tuple(p.lower() for p in parts) in _PAIR_HEADERS:
            continue
        pairs.append((parts[0], parts[1]))
    if not pairs:
        raise ConfigError(f"{what} {file} lists no pairs")
    return pairs
