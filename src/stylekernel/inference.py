"""Stylizer: stylise images of any size with a trained network (the engine of ``stylekernel stylize``).

    from stylekernel import Stylizer
    stylizer = Stylizer.from_checkpoint("model.ckpt")
    image = stylizer.stylize("photo.jpg", "painting.jpg", alpha=0.8)      # -> PIL.Image
    image = stylizer.stylize(photo, [s1, s2], style_weights=[0.7, 0.3])   # blend two styles
    image = stylizer.stylize(photo, [s1, s2], mask="mask.png")            # s1 on white, s2 on black

Inputs may be paths, ``PIL.Image`` objects or float tensors in [0, 1] ((3, H, W) or (1, 3, H, W)).

The rules (each one documented where it is implemented):

* **Size.** The output has exactly the content's size (after EXIF orientation). Internally the
  content is reflect-padded at the bottom/right to a multiple of the network stride (at least two
  strides per side) and the output is cropped back. ``max_side`` downscales the content (and the
  mask) so that its longer side is at most that many pixels; this is logged, never silent.
* **Style size.** Each style image is resized (antialiased bicubic) so that its shorter side is
  ``style_size`` (default 512), unless that would make its longer side exceed
  ``4 * style_size``, in which case the longer side is ``4 * style_size``. ``style_size=None``
  keeps the style's own size. The resized style is then cropped at the bottom/right to a
  multiple of the stride (fewer than 8 pixels; a side shorter than the stride is padded).
* **alpha.** z = alpha * stylised + (1 - alpha) * relu4_1(content), in feature space.
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
  channel is put back on the stylised result, which is then an RGBA image.
* **Memory.** The encoder, the transform and the decoder all run in overlapping tiles of
  ``tile_size`` pixels (exact, see :mod:`stylekernel.tiling`): the transform's global part
  (content mean/std, the style's keys/values) is computed first, then each tile is transformed
  with the halo its 3x3 / k x k stages need. What stays whole-image is the content, its relu4_1
  map, the stylised map and the output (about 100 bytes per pixel); a content whose estimate
  exceeds the available memory is refused before any work (``ContentTooLargeError``, with the
  ``--max-side`` that would fit).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch import Tensor

from stylekernel.color import COLOR_MODES, ColorMode, match_color_histogram, preserve_luminance
from stylekernel.errors import ConfigError, StyleKernelError, check
from stylekernel.image_files import OUTPUT_FORMATS, OutputWriteError, pil_to_tensor, save_image, tensor_to_pil
from stylekernel.nn.base import StyleTransferNet
from stylekernel.tiling import tiled_decode, tiled_encode, tiled_transform

log = logging.getLogger(__name__)

ImageInput = Union[str, os.PathLike, Image.Image, Tensor]
Precision = Literal["fp32", "bf16", "fp16"]
PRECISIONS: dict[str, Optional[torch.dtype]] = {
    "fp32": None, "32": None, "32-true": None,
    "bf16": torch.bfloat16, "bf16-mixed": torch.bfloat16,
    "fp16": torch.float16, "16": torch.float16, "16-mixed": torch.float16,
}  # fmt: skip
_ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")
_RESAMPLE = Image.Resampling.BICUBIC


class InferenceOutOfMemoryError(StyleKernelError, MemoryError):
    """The device ran out of memory; the message suggests ``max_side`` / ``tile_size``."""


class ContentTooLargeError(ConfigError):
    """The content would not fit in memory even tiled; the message gives the ``--max-side`` that fits."""


# --- memory -----------------------------------------------------------------------------------
#: bytes per padded content pixel held at the peak of stylize_tensor (fp32): the content and its
#: padded copy (3 + 3 floats), the relu4_1 map (512 / 64 floats; relu5_1 adds 512 / 256), the
#: transform's accumulator (512 / 64) and, while decoding, the output and its clamped copy (3 + 3);
#: the largest of the two phases is taken (see estimate_stylize_bytes).
_ENCODE_PHASE_FLOATS = 3 + 3 + 512 / 64 + 512 / 64
_DECODE_PHASE_FLOATS = 3 + 3 + 512 / 64 + 3 + 3
#: bytes per pixel of one encoder/decoder tile at full resolution (64-channel relu1 maps in and
#: out of a conv, plus the convolution's workspace), measured order of magnitude.
_TILE_BYTES_PER_PIXEL = 64 * 4 * 3


def estimate_stylize_bytes(net: StyleTransferNet, width: int, height: int, *, tile_size: Optional[int]) -> int:
    """Peak extra bytes of ``Stylizer.stylize_tensor`` (+ PIL conversion) for a ``width`` x ``height`` content.

    A model, not a measurement: the whole-image tensors that coexist at the peak (content,
    relu4_1 features, the stylised features, the decoded image) plus one tile's working set
    (``tile_size`` + the encoder halo, squared; the whole image when tiling is off). It tracks
    the measured peak RSS within about 25 % from 1024 to 8192 pixels (see docs/inference.md).
    """
    stride = net.stride
    ph = max(2 * stride, -(-height // stride) * stride)
    pw = max(2 * stride, -(-width // stride) * stride)
    pixels = ph * pw
    extra_levels = sum(512 / 256 for name in net.feature_layers if name == "relu5_1")
    whole = max(_ENCODE_PHASE_FLOATS + extra_levels, _DECODE_PHASE_FLOATS) * 4 * pixels
    side = max(ph, pw) if tile_size is None else min(max(ph, pw), tile_size) + 2 * 32
    tile = _TILE_BYTES_PER_PIXEL * side * min(side, max(ph, pw) + 64)
    return int(whole + tile + 4 * pixels)  # + the 8-bit output image and its PIL copy


def available_memory_bytes(device: torch.device) -> Optional[int]:
    """Memory the stylisation may still use: free CUDA memory (+ this process's cached blocks)
    on a GPU, ``MemAvailable`` of /proc/meminfo on the CPU; None when unknown."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _nbytes(obj: Any) -> int:
    """Bytes of the tensors in a (nested) dict / tuple / list."""
    if isinstance(obj, Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(_nbytes(v) for v in obj.values())
    if isinstance(obj, (tuple, list)):
        return sum(_nbytes(v) for v in obj)
    return 0


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
def pad_to_multiple(x: Tensor, multiple: int, *, min_size: int = 0) -> Tensor:
    """Pad (B, C, H, W) at the bottom/right to multiples of ``multiple`` (and at least ``min_size``).

    Reflection padding; when the image is too small to reflect that far, the reflection is
    repeated (each step pads at most size - 1), and a 1-pixel side is replicated. Crop back with
    ``[..., :H, :W]``.
    """
    h, w = x.shape[-2:]
    th = max(min_size, -(-h // multiple) * multiple)
    tw = max(min_size, -(-w // multiple) * multiple)
    while x.shape[-2] < th or x.shape[-1] < tw:
        ch, cw = x.shape[-2:]
        ph, pw = th - ch, tw - cw
        if (ph and ch == 1) or (pw and cw == 1):
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        else:
            x = F.pad(x, (0, min(pw, cw - 1), 0, min(ph, ch - 1)), mode="reflect")
    return x


def fit_style_to_stride(style: Tensor, stride: int) -> Tensor:
    """Style (B, C, H, W) -> cropped at the bottom/right to multiples of ``stride`` (< stride px lost).

    A side shorter than ``stride`` is first reflect-padded up to it. (The encoder would drop
    those rows at its deepest pool anyway; cropping makes the tiled encoder applicable.)
    """
    style = pad_to_multiple(style, 1, min_size=stride)
    h, w = style.shape[-2:]
    return style[..., : h // stride * stride, : w // stride * stride]


def fit_max_side(size: tuple[int, int], max_side: Optional[int]) -> tuple[int, int]:
    """(W, H) scaled down so that max(W, H) <= ``max_side`` (aspect kept; never upscales)."""
    w, h = size
    if max_side is None or max(w, h) <= max_side:
        return w, h
    s = max_side / max(w, h)
    return max(1, round(w * s)), max(1, round(h * s))


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


# --- blending weights -------------------------------------------------------------------------
def mask_weights(mask: Tensor, n_styles: int) -> list[Tensor]:
    """Per-style weight maps from a gray mask in [0, 1] (white = 1); see the module docstring.

    mask: (1, 1, h, w) -> n maps (1, 1, h, w). One style: [m] (1 - m keeps the content). Two or
    more: hat functions w_i(m) = max(0, 1 - |m (n - 1) - (n - i)|) for i = 1..n, which sum to 1.
    """
    if n_styles == 1:
        return [mask]
    level = mask * (n_styles - 1)
    return [(1 - (level - (n_styles - i)).abs()).clamp_min(0) for i in range(1, n_styles + 1)]


def normalise_weights(weights: Optional[Sequence[float]], n_styles: int) -> list[float]:
    """Style weights -> floats summing to 1 (equal when None); ConfigError on bad values."""
    if weights is None:
        return [1.0 / n_styles] * n_styles
    weights = [float(w) for w in weights]
    check(len(weights) == n_styles, f"style_weights: got {len(weights)} weights for {n_styles} style(s)")
    check(all(np.isfinite(w) and w >= 0 for w in weights), f"style_weights must be finite and >= 0, got {weights}")
    total = sum(weights)
    check(total > 0, f"style_weights must not all be 0, got {weights}")
    return [w / total for w in weights]


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> cuda if available else cpu; anything else as torch understands it."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"device: cannot parse {device!r} ({exc})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but CUDA is not available")
    return dev


def _set_query_chunk_size(net: StyleTransferNet, n: Optional[int]) -> None:
    for module in net.modules():
        if hasattr(module, "query_chunk_size"):
            module.query_chunk_size = n


class Stylizer:
    """Stylise images of any size with a :class:`StyleTransferNet` (see the module docstring).

    Args:
        net: the network (any method of the suite); put in eval mode and moved to ``device``.
        device: "cpu", "cuda", "cuda:1", "mps" or "auto".
        precision: "fp32", "bf16" or "fp16" (autocast; statistics stay fp32 inside the net).
        style_size: shorter side of style images (see the rule above); None keeps their size.
        tile_size: tile side in pixels of the encoder, the transform (tile_size / 8 relu4_1
            cells) and the decoder; larger images are processed in exact overlapping tiles.
            None disables tiling.
        query_chunk_size: overrides the attention's query chunk size (content positions per
            chunk) of every attention module; None keeps the network's own setting.
        feature_cache_bytes: encoder features of recent inputs are kept (least recently used
            first out, up to this many bytes; 0 disables), keyed by a hash of the exact input
            pixels, so stylising one content with many styles, or many contents with the same
            styles (folder mode), encodes each image once. Call :meth:`clear_cache` after
            changing the network's weights. The style's transform state (for StyleKernelNet the
            attention's keys and values) is cached the same way.
        memory_check: refuse, before any work, a content whose estimated memory
            (:func:`estimate_stylize_bytes`) exceeds the memory available (:class:`ContentTooLargeError`).
    """

    def __init__(
        self,
        net: StyleTransferNet,
        *,
        device: str | torch.device = "cpu",
        precision: str = "fp32",
        style_size: Optional[int] = 512,
        tile_size: Optional[int] = 1024,
        query_chunk_size: Optional[int] = None,
        feature_cache_bytes: int = 1 << 30,
        memory_check: bool = True,
    ) -> None:
        check(precision in PRECISIONS, f"precision must be one of fp32, bf16, fp16, got {precision!r}")
        check(style_size is None or style_size >= 1, f"style_size must be >= 1 or None, got {style_size}")
        check(tile_size is None or tile_size >= 1, f"tile_size must be >= 1 or None, got {tile_size}")
        self.device = resolve_device(device)
        self.precision = precision
        self.amp_dtype = PRECISIONS[precision]
        self.style_size = style_size
        self.tile_size = tile_size
        self.net = net.eval().to(self.device)
        self.feature_cache_bytes = int(feature_cache_bytes)
        self.memory_check = memory_check
        self._cache: OrderedDict[tuple[Any, ...], tuple[Any, int]] = OrderedDict()
        if query_chunk_size is not None:
            check(query_chunk_size >= 1, f"query_chunk_size must be >= 1, got {query_chunk_size}")
            _set_query_chunk_size(self.net, query_chunk_size)

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
        alpha: float = 1.0,
        style_weights: Optional[Sequence[float]] = None,
        mask: Optional[ImageInput] = None,
        preserve_color: ColorMode = "none",
        max_side: Optional[int] = None,
        keep_alpha: bool = True,
    ) -> Image.Image:
        """Stylise ``content`` with one style or a blend of several; returns a PIL image.

        The result has the content's size (or the ``max_side``-reduced size), mode RGB, or RGBA
        when the content has transparency and ``keep_alpha`` is set. ``mask`` and
        ``style_weights`` are exclusive.
        """
        check(preserve_color in COLOR_MODES, f"preserve_color must be one of {COLOR_MODES}, got {preserve_color!r}")
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
        alpha: float = 1.0,
        style_weights: Optional[Sequence[float]] = None,
        mask: Optional[Tensor] = None,
    ) -> Tensor:
        """The tensor core: pad, encode (tiled), transform, blend, decode (tiled), crop.

        content: (1, 3, H, W) in [0, 1]; styles: n tensors (1, 3, H_i, W_i) in [0, 1] used at
        their given size; mask: (1, 1, H, W) in [0, 1] or None -> (1, 3, H, W) float32 in
        [0, 1] on the CPU.
        """
        check(0.0 <= alpha <= 1.0, f"alpha must be in [0, 1], got {alpha}")
        check(len(styles) >= 1, "at least one style image is needed")
        check(content.dim() == 4 and content.shape[:2] == (1, 3), f"content must be (1, 3, H, W), got {tuple(content.shape)}")
        check(mask is None or style_weights is None, "use either a mask or style_weights, not both")
        net, stride = self.net, self.net.stride
        h, w = content.shape[-2:]
        check(mask is None or tuple(mask.shape[-2:]) == (h, w), f"mask must be {h}x{w}, got {None if mask is None else tuple(mask.shape[-2:])}")
        self.check_memory(w, h)
        content_padded = pad_to_multiple(content, stride, min_size=2 * stride)
        try:
            with torch.inference_mode(), self._autocast():
                fc = self._encode(content_padded)
                base = net.content_code(fc)
                if mask is not None:
                    m = pad_to_multiple(mask.float(), stride, min_size=2 * stride).to(self.device)
                    m = F.avg_pool2d(m, kernel_size=8)  # to relu4_1 resolution
                    weights: list[Tensor | float] = list(mask_weights(m, len(styles)))
                else:
                    weights = list(normalise_weights(style_weights, len(styles)))
                z: Optional[Tensor] = None
                for style, weight in zip(styles, weights):  # global part once, then tile by tile
                    state = net.transform_global(fc, self._style_state(fit_style_to_stride(style, stride)))
                    z = tiled_transform(net, fc, state, tile_size=self.tile_size, out=z, weight=weight)
                    del state
                assert z is not None
                if len(styles) == 1 and mask is not None:  # unmasked area keeps the content
                    z.add_((1 - weights[0]) * base.float())
                if alpha != 1.0:
                    z = z.mul_(alpha).add_(base.float(), alpha=1.0 - alpha)
                del fc, base
                out = tiled_decode(net, z, tile_size=self.tile_size) if self.tile_size else net.decode(z)
                del z
        except torch.OutOfMemoryError as exc:
            raise InferenceOutOfMemoryError(self._oom_message(h, w, exc)) from None
        except RuntimeError as exc:
            if "allocate" not in str(exc) and "out of memory" not in str(exc):
                raise
            raise InferenceOutOfMemoryError(self._oom_message(h, w, exc)) from None
        return out[..., :h, :w].float().clamp(0, 1).cpu()

    # --- internals --------------------------------------------------------------------------
    def clear_cache(self) -> None:
        """Forget cached encoder features and style states (needed after changing the weights)."""
        self._cache.clear()

    def _cached(self, kind: str, image: Tensor, compute: Callable[[Tensor], Any]) -> Any:
        """``compute(image on the device)`` through the LRU cache, keyed by ``kind`` and a hash of the pixels."""
        if self.feature_cache_bytes <= 0:
            return compute(image.to(self.device))
        pixels = image.detach().cpu().contiguous()
        digest = hashlib.blake2b(memoryview(pixels.numpy()).cast("B"), digest_size=16).hexdigest()  # no copy
        key = (kind, tuple(pixels.shape), str(pixels.dtype), str(self.amp_dtype), digest)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key][0]
        value = compute(image.to(self.device))
        size = _nbytes(value)
        if size <= self.feature_cache_bytes:
            self._cache[key] = (value, size)
            while sum(n for _, n in self._cache.values()) > self.feature_cache_bytes:
                self._cache.popitem(last=False)
        return value

    def _encode(self, image: Tensor) -> dict[str, Tensor]:
        """Encoder features of a padded image (1, 3, H, W), tiled, through the LRU cache."""
        net, tile = self.net, self.tile_size
        return self._cached("features", image, lambda x: tiled_encode(net, x, tile_size=tile) if tile else net.encode(x))

    def _style_state(self, style: Tensor) -> Any:
        """``net.style_state`` of a stride-fitted style image (its features and e.g. attention K/V), cached:
        a folder of contents with one style encodes the style once."""
        net, tile = self.net, self.tile_size
        return self._cached(
            "style_state", style, lambda x: net.style_state(tiled_encode(net, x, tile_size=tile) if tile else net.encode(x))
        )

    # --- memory -----------------------------------------------------------------------------
    def estimate_memory(self, width: int, height: int) -> int:
        """Bytes that stylising a ``width`` x ``height`` content adds to this process (or device).

        See :func:`estimate_stylize_bytes`; styles (at most 4 x style_size squared) are small
        next to a content that could exceed memory.
        """
        return estimate_stylize_bytes(self.net, width, height, tile_size=self.tile_size)

    def check_memory(self, width: int, height: int) -> None:
        """Refuse (:class:`ContentTooLargeError`, one line) a content that cannot fit even tiled.

        The message gives the estimate, the memory available and the ``--max-side`` that would
        fit. Does nothing when ``memory_check`` is off or the available memory is unknown.
        """
        if not self.memory_check:
            return
        available = available_memory_bytes(self.device)
        need = self.estimate_memory(width, height)
        if available is None or need <= available:
            return
        lo, hi = 0, max(width, height)  # largest max_side whose estimate fits (estimates grow with the side)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.estimate_memory(*fit_max_side((width, height), mid)) <= available:
                lo = mid
            else:
                hi = mid - 1
        hint = f"--max-side {lo} would fit" if lo >= 1 else "no --max-side fits"
        raise ContentTooLargeError(
            f"content {width}x{height} needs about {need / 2**30:.1f} GiB to stylize on {self.device} "
            f"(tile size {self.tile_size}), {available / 2**30:.1f} GiB available; {hint}"
        )

    @contextlib.contextmanager
    def _autocast(self) -> Iterator[None]:
        if self.amp_dtype is None:
            yield
            return
        with torch.autocast(device_type=self.device.type, dtype=self.amp_dtype):
            yield

    def _oom_message(self, h: int, w: int, exc: BaseException) -> str:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        return (
            f"out of memory stylising a {w}x{h} image on {self.device} ({first}); "
            f"try --max-side, a smaller --tile-size (now {self.tile_size}) or --precision bf16"
        )

    # --- batched core on encoded images (the evaluation runner's entry; one pair per batch row) ---
    # Same rules as stylize_tensor for one style without mask: content reflect-padded to a multiple
    # of the stride (at least two strides per side), style cropped to the stride, alpha blended at
    # relu4_1, tiled encode/decode, output cropped to the content's size. Each content and each
    # style image is encoded once and its features reused for every pair it belongs to.
    def encode_content_batch(self, content: Tensor) -> dict[str, Tensor]:
        """Content images (B, 3, H, W) in [0, 1] -> encoder features of the padded batch, on the device."""
        stride = self.net.stride
        return self._encode_batch(pad_to_multiple(content.to(self.device), stride, min_size=2 * stride))

    def encode_style_batch(self, style: Tensor) -> dict[str, Tensor]:
        """Style images (B, 3, H, W) in [0, 1], used at their given size -> encoder features, on the device."""
        return self._encode_batch(fit_style_to_stride(style.to(self.device), self.net.stride))

    def stylize_encoded(
        self,
        content_features: dict[str, Tensor],
        style_features: dict[str, Tensor],
        *,
        size: tuple[int, int],
        alpha: float = 1.0,
    ) -> Tensor:
        """Features of B contents and B styles (row i: pair i) -> (B, 3, H, W) float32 in [0, 1] on the device.

        ``size`` = (H, W) of the unpadded content images (the output is cropped back to it).
        """
        check(0.0 <= alpha <= 1.0, f"alpha must be in [0, 1], got {alpha}")
        h, w = size
        with torch.inference_mode(), self._autocast():
            z = self.net.transform(content_features, style_features).float()
            if alpha != 1.0:
                z = z.mul_(alpha).add_(content_features["relu4_1"].float(), alpha=1.0 - alpha)
            out = tiled_decode(self.net, z, tile_size=self.tile_size) if self.tile_size else self.net.decode(z)
        return out[..., :h, :w].float().clamp(0, 1)

    def _encode_batch(self, x: Tensor) -> dict[str, Tensor]:
        with torch.inference_mode(), self._autocast():
            return tiled_encode(self.net, x, tile_size=self.tile_size) if self.tile_size else self.net.encode(x)


__all__ = [
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
