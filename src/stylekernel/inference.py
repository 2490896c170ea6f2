"""Stylizer: stylize image files of any size with a trained network (``stylekernel stylize``).

The I/O half: images in (paths, PIL images, tensors, through :mod:`stylekernel.image_files`), the
style-size and ``max_side`` rules, colour preservation and the alpha channel; the tensors go
through :class:`stylekernel.engine.StylizationEngine` (padding, tiling, alpha, blends and masks
at the feature level, precision, device, memory), the engine ``predict`` and ``evaluate`` call too.

    from stylekernel import Stylizer
    stylizer = Stylizer.from_checkpoint("model.ckpt")
    image = stylizer.stylize("photo.jpg", "painting.jpg", alpha=0.8)      # -> PIL.Image
    image = stylizer.stylize(photo, [s1, s2], style_weights=[0.7, 0.3])   # blend two styles
    image = stylizer.stylize(photo, [s1, s2], mask="mask.png")            # s1 on white, s2 on black

Inputs may be paths, ``PIL.Image`` objects or float tensors in [0, 1] ((3, H, W) or (1, 3, H, W)).

The rules (each one documented where it is implemented; the engine's are repeated in :mod:`stylekernel.engine`):

* **Size.** The output has exactly the content's size (after EXIF orientation). Internally the
  content is reflect-padded at the bottom/right to a multiple of the network stride (at least two
  strides per side) and the output is cropped back. ``max_side`` downscales the content (and the
  mask) so that its longer side is at most that many pixels; this is logged, never silent.
* **Style size.** Each style image is resized (antialiased bicubic) so that its shorter side is
  ``style_size`` (default :data:`DEFAULT_STYLE_SIZE`), unless that would make its longer side exceed
  ``4 * style_size``, in which case the longer side is ``4 * style_size``. ``style_size=None``
  keeps the style's own size. The resized style is then cropped at the bottom/right to a
  multiple of the stride (fewer than 8 pixels; a side shorter than the stride is padded).
* **alpha.** z = alpha * stylized + (1 - alpha) * relu4_1(content), in feature space.
* **Several styles.** The transformed features of each style are blended with ``style_weights``
  (normalised to sum to 1; equal weights by default): z = sum_i w_i T(content, style_i).
* **Mask.** A grayscale image m in [0, 1] (white = 1), resized to the content. With one style,
  m says where the style applies (black keeps the content's features). With n >= 2 styles, style
  i (1-based) owns the gray level (n - i) / (n - 1) (so with two styles, white -> style 1 and
  black -> style 2) and in-between levels blend the two nearest styles linearly (hat weights
  that sum to 1). Weights are averaged over each stride x stride cell at feature resolution.
* **Colour.** ``preserve_color``: ``"luminance"`` or ``"histogram"`` (see :mod:`stylekernel.color`).
* **Transparency.** Images are decoded by :func:`stylekernel.image_files.load_image`, which
  composites transparent pixels on white. With ``keep_alpha=True`` (default) the content's alpha
  channel is put back on the stylized result, which is then an RGBA image.
* **Memory.** The encoder, the transform and the decoder all run in overlapping tiles of
  ``tile_size`` pixels (exact, see :mod:`stylekernel.tiling`): the transform's global part
  (content mean/std, the style's keys/values) is computed first, then each tile is transformed
  with the halo its 3x3 / k x k stages need. What stays whole-image is the content, its relu4_1
  map, the stylized map and the output (about 100 bytes per pixel); a content whose estimate
  exceeds the available memory is refused before any work (``ContentTooLargeError``, with the
  ``--max-side`` that would fit).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch import Tensor

from stylekernel.color import COLOR_MODES, ColorMode, match_color_histogram, preserve_luminance
from stylekernel.engine import (  # noqa: F401 - re-exported: the engine's names, importable from here as before
    DEFAULT_ALPHA,
    DEFAULT_DEVICE,
    DEFAULT_FEATURE_CACHE_BYTES,
    DEFAULT_MEMORY_CHECK,
    DEFAULT_PRECISION,
    DEFAULT_QUERY_CHUNK_SIZE,
    DEFAULT_TILE_SIZE,
    PRECISIONS,
    ContentTooLargeError,
    InferenceOutOfMemoryError,
    Precision,
    StylizationEngine,
    available_memory_bytes,
    estimate_stylize_bytes,
    fit_max_side,
    fit_style_to_stride,
    mask_weights,
    normalise_weights,
    pad_to_multiple,
    resolve_device,
)
from stylekernel.errors import ConfigError, check
from stylekernel.image_files import OUTPUT_FORMATS, OutputWriteError, pil_to_tensor, save_image, tensor_to_pil  # noqa: F401
from stylekernel.nn.base import StyleTransferNet

log = logging.getLogger(__name__)

ImageInput = Union[str, os.PathLike, Image.Image, Tensor]
_ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")
_RESAMPLE = Image.Resampling.BICUBIC

# The one home of the defaults of the file-level rules (the engine's settings have theirs in
# stylekernel.engine): Stylizer's signatures and ``stylekernel stylize``'s options take them from here.
DEFAULT_STYLE_SIZE: Optional[int] = 512
DEFAULT_PRESERVE_COLOR: ColorMode = "none"
DEFAULT_MAX_SIDE: Optional[int] = None
DEFAULT_KEEP_ALPHA = True


# --- image files ------------------------------------------------------------------------
def _alpha_of(image: Image.Image) -> Optional[Image.Image]:
    """The alpha band (mode L) of an image with transparency, else None."""
    if image.mode in _ALPHA_MODES or (image.mode in ("P", "L", "1", "RGB") and "transparency" in image.info):
        return image.convert("RGBA").getchannel("A")
    return None


def read_alpha(path: str | os.PathLike[str]) -> Optional[Image.Image]:
    """Alpha band of an already validated image file (EXIF orientation applied), or None.

    Only called after :func:`load_image` accepted the file; any failure here just means "no
    alpha" (the RGB result is still correct).
    """
    try:
        with Image.open(path) as im:
            if im.mode not in _ALPHA_MODES and "transparency" not in im.info:
                return None
            im.load()
            return _alpha_of(ImageOps.exif_transpose(im) or im)
    except Exception:  # noqa: BLE001 - alpha is optional
        return None


def load_input(source: ImageInput, *, what: str = "image") -> tuple[Tensor, Optional[Image.Image]]:
    """A path, PIL image or tensor -> ((1, 3, H, W) float32 in [0, 1], alpha band or None).

    Paths go through :func:`stylekernel.image_files.load_image` (EXIF orientation, odd modes,
    one clear :class:`ImageDecodeError` for anything undecodable). Tensors must be (3, H, W),
    (1, 3, H, W), (H, W) or (1, H, W) (gray is replicated); uint8 tensors are scaled by 1/255.
    """
    from stylekernel import image_files

    if isinstance(source, (str, os.PathLike)):
        rgb = image_files.load_image(source)
        return pil_to_tensor(rgb), read_alpha(source)
    if isinstance(source, Image.Image):
        alpha = _alpha_of(source)
        return pil_to_tensor(image_files.to_rgb(source)), alpha
    if isinstance(source, Tensor):
        x = source.detach()
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        x = x.float()
        if x.dim() == 2:
            x = x.unsqueeze(0)
        if x.dim() == 3:
            x = x.unsqueeze(0)
        if x.dim() != 4 or x.shape[0] != 1 or x.shape[1] not in (1, 3) or min(x.shape[-2:]) < 1:
            raise ConfigError(f"{what}: expected a (3, H, W) or (1, 3, H, W) tensor, got shape {tuple(source.shape)}")
        return x.expand(1, 3, *x.shape[-2:]).contiguous(), None
    raise ConfigError(f"{what}: expected a path, a PIL image or a tensor, got {type(source).__name__}")


def _header_size(source: ImageInput) -> Optional[tuple[int, int]]:
    """(W, H) of an image file from its header (no decoding), or None (not a path, unreadable)."""
    if not isinstance(source, (str, os.PathLike)):
        return None
    try:
        with Image.open(source) as im:
            return im.size
    except Exception:  # noqa: BLE001 - load_input reports undecodable files properly
        return None


# --- geometry ---------------------------------------------------------------------------------
def style_target_size(size: tuple[int, int], style_size: Optional[int]) -> tuple[int, int]:
    """(W, H) of a style image after the documented rule (shorter side -> style_size, longer <= 4x)."""
    w, h = size
    if style_size is None:
        return w, h
    s = min(style_size / min(w, h), 4 * style_size / max(w, h))
    return max(1, round(w * s)), max(1, round(h * s))


def resize_tensor(x: Tensor, size: tuple[int, int]) -> Tensor:
    """(1, C, H, W) in [0, 1] -> (1, C, H', W') with ``size`` = (W', H'); antialiased bicubic."""
    w, h = size
    if (h, w) == tuple(x.shape[-2:]):
        return x
    return F.interpolate(x, size=(h, w), mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)


class Stylizer:
    """Stylize images of any size with a :class:`StyleTransferNet` (see the module docstring).

    Args:
        net: the network (any method of the suite); put in eval mode and moved to ``device``.
        style_size: shorter side of style images (see the rule above); None keeps their size.
        device, precision, tile_size, query_chunk_size, feature_cache_bytes, memory_check: the
            :class:`~stylekernel.engine.StylizationEngine`'s (``self.engine``), documented there.
    """

    def __init__(
        self,
        net: StyleTransferNet,
        *,
        device: str | torch.device = DEFAULT_DEVICE,
        precision: str = DEFAULT_PRECISION,
        style_size: Optional[int] = DEFAULT_STYLE_SIZE,
        tile_size: Optional[int] = DEFAULT_TILE_SIZE,
        query_chunk_size: Optional[int] = DEFAULT_QUERY_CHUNK_SIZE,
        feature_cache_bytes: int = DEFAULT_FEATURE_CACHE_BYTES,
        memory_check: bool = DEFAULT_MEMORY_CHECK,
    ) -> None:
        check(style_size is None or style_size >= 1, f"style_size must be >= 1 or None, got {style_size}")
        self.engine = StylizationEngine(
            net, device=device, precision=precision, tile_size=tile_size, query_chunk_size=query_chunk_size,
            feature_cache_bytes=feature_cache_bytes, memory_check=memory_check,
        )  # fmt: skip
        self.style_size = style_size

    # the engine's settings, read through the Stylizer
    net = property(lambda self: self.engine.net)
    device = property(lambda self: self.engine.device)
    precision = property(lambda self: self.engine.precision)
    amp_dtype = property(lambda self: self.engine.amp_dtype)
    tile_size = property(lambda self: self.engine.tile_size)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike[str], **kwargs: Any) -> "Stylizer":
        """Rebuild the network of a ``stylekernel fit`` checkpoint (CheckpointError if it is not one)."""
        from stylekernel.checkpoint import load_net

        return cls(load_net(path, map_location="cpu"), **kwargs)

    @classmethod
    def from_pretrained(cls, folder_or_hub_id: str | os.PathLike[str], *, revision: Optional[str] = None,
                        **kwargs: Any) -> "Stylizer":
        """Load a ``stylekernel export`` folder or a Hugging Face Hub id ``owner/name`` (safetensors, no pickle).

        Hub ids are fetched by ``huggingface_hub``; with ``HF_HUB_OFFLINE`` / ``STYLEKERNEL_OFFLINE``
        set, only from the local HF cache. ``kwargs`` as for the constructor.
        """
        from stylekernel.export import load_pretrained

        return cls(load_pretrained(folder_or_hub_id, revision=revision), **kwargs)

    # --- public API -------------------------------------------------------------------------
    def stylize(
        self,
        content: ImageInput,
        style: ImageInput | Sequence[ImageInput],
        *,
        alpha: float = DEFAULT_ALPHA,
        style_weights: Optional[Sequence[float]] = None,
        mask: Optional[ImageInput] = None,
        preserve_color: ColorMode = DEFAULT_PRESERVE_COLOR,
        max_side: Optional[int] = DEFAULT_MAX_SIDE,
        keep_alpha: bool = DEFAULT_KEEP_ALPHA,
    ) -> Image.Image:
        """Stylize ``content`` with one style or a blend of several; returns a PIL image.

        The result has the content's size (or the ``max_side``-reduced size), mode RGB, or RGBA
        when the content has transparency and ``keep_alpha`` is set. ``mask`` and
        ``style_weights`` are exclusive.
        """
        check(preserve_color in COLOR_MODES, f"preserve_color must be one of {COLOR_MODES}, got {preserve_color!r}")
        self.net.check_alpha(alpha)  # before any decoding
        check(max_side is None or max_side >= 1, f"max_side must be >= 1 or None, got {max_side}")
        styles_in = list(style) if isinstance(style, (list, tuple)) else [style]
        check(len(styles_in) >= 1, "at least one style image is needed")
        check(mask is None or style_weights is None, "use either a mask or style_weights, not both")
        header = _header_size(content)
        if header is not None:  # refuse a content too large for memory before decoding it
            self.check_memory(*fit_max_side(header, max_side))
        content_t, content_alpha = load_input(content, what="content")
        size = (content_t.shape[-1], content_t.shape[-2])
        new_size = fit_max_side(size, max_side)
        if new_size != size:
            log.warning("content %dx%d downscaled to %dx%d (max_side=%d)", *size, *new_size, max_side)
            content_t = resize_tensor(content_t, new_size)
            if content_alpha is not None:
                content_alpha = content_alpha.resize(new_size, _RESAMPLE)
        styles = []
        for i, s in enumerate(styles_in):
            st, _ = load_input(s, what=f"style {i + 1}")
            st = resize_tensor(st, style_target_size((st.shape[-1], st.shape[-2]), self.style_size))
            if preserve_color == "histogram":
                st = match_color_histogram(st, content_t)
            styles.append(st)
        mask_t = None
        if mask is not None:
            m, _ = load_input(mask, what="mask")
            gray = 0.299 * m[:, 0:1] + 0.587 * m[:, 1:2] + 0.114 * m[:, 2:3]
            mask_t = F.interpolate(gray, size=content_t.shape[-2:], mode="bilinear", align_corners=False).clamp(0, 1)
        out = self.stylize_tensor(content_t, styles, alpha=alpha, style_weights=style_weights, mask=mask_t)
        if preserve_color == "luminance":
            out = preserve_luminance(out, content_t)
        image = tensor_to_pil(out)
        if keep_alpha and content_alpha is not None:
            image.putalpha(content_alpha)
        return image

    def stylize_tensor(
        self,
        content: Tensor,
        styles: Sequence[Tensor],
        *,
        alpha: float = DEFAULT_ALPHA,
        style_weights: Optional[Sequence[float]] = None,
        mask: Optional[Tensor] = None,
    ) -> Tensor:
        """The tensor core, :meth:`StylizationEngine.stylize`: content (1, 3, H, W), styles (1, 3, H_i, W_i)
        in [0, 1] used at their given size, mask (1, 1, H, W) or None -> (1, 3, H, W) float32 in [0, 1] on the CPU."""
        return self.engine.stylize(content, styles, alpha=alpha, style_weights=style_weights, mask=mask)

    def clear_cache(self) -> None:
        """Forget cached encoder features and style states (needed after changing the weights)."""
        self.engine.clear_cache()

    def estimate_memory(self, width: int, height: int) -> int:
        """Bytes that stylizing a ``width`` x ``height`` content adds (:meth:`StylizationEngine.estimate_memory`)."""
        return self.engine.estimate_memory(width, height)

    def check_memory(self, width: int, height: int) -> None:
        """Refuse a content that cannot fit even tiled (:meth:`StylizationEngine.check_memory`)."""
        self.engine.check_memory(width, height)


__all__ = [
    "DEFAULT_KEEP_ALPHA",
    "DEFAULT_MAX_SIDE",
    "DEFAULT_PRESERVE_COLOR",
    "DEFAULT_STYLE_SIZE",
    "ContentTooLargeError",
    "InferenceOutOfMemoryError",
    "available_memory_bytes",
    "estimate_stylize_bytes",
    "OUTPUT_FORMATS",
    "OutputWriteError",
    "Stylizer",
    "fit_max_side",
    "fit_style_to_stride",
    "load_input",
    "mask_weights",
    "normalise_weights",
    "pad_to_multiple",
    "save_image",
    "style_target_size",
    "tensor_to_pil",
]
