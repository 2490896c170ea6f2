"""The stylization engine: tensors in, tensors out, one home for how a network stylizes.

``stylekernel stylize`` (through :class:`stylekernel.inference.Stylizer`, which adds the file-level
rules: decoding, style size, colour, transparency, saving), ``stylekernel predict``
(:meth:`stylekernel.module.StyleTransferModule.predict_step` + the prediction writer) and the
evaluation runner all call :class:`StylizationEngine`. Its rules:

* **Precision.** One table, :data:`PRECISIONS`: ``fp32`` / ``bf16`` / ``fp16`` and Lightning's
  names (``32``, ``32-true``, ``bf16-mixed``, ``16-mixed``, ...) map to an autocast dtype (None:
  no autocast); statistics stay fp32 inside the networks. :func:`amp_dtype` reads it.
* **Device.** One resolver, :func:`resolve_device` (``auto``, ``cpu``, ``cuda:N``, ``mps``; a
  clear error when CUDA is asked for and missing).
* **Size.** The content is reflect-padded at the bottom/right to a multiple of the network stride
  (at least two strides per side, :func:`pad_to_multiple`) and the output is cropped back; a
  style is cropped at the bottom/right to a multiple of the stride (:func:`fit_style_to_stride`).
* **alpha.** z = alpha * stylized + (1 - alpha) * relu4_1(content), in feature space.
* **Several styles.** The transformed features of each style are blended with ``style_weights``
  (normalised to sum to 1; equal weights by default): z = sum_i w_i T(content, style_i).
* **Mask.** A gray map m in [0, 1] of the content's size. With one style, m says where the style
  applies (black keeps the content's features). With n >= 2 styles, style i (1-based) owns the
  gray level (n - i) / (n - 1) and in-between levels blend the two nearest styles linearly
  (:func:`mask_weights`). Weights are averaged over each stride x stride cell at feature resolution.
* **Memory.** The encoder, the transform and the decoder all run in overlapping tiles of
  ``tile_size`` pixels (exact, see :mod:`stylekernel.tiling`); attention runs in query chunks
  (``query_chunk_size``). A content whose estimate (:func:`estimate_stylize_bytes`) exceeds the
  available memory is refused before any work (:class:`ContentTooLargeError`, with the
  ``--max-side`` that would fit); running out of device memory is one
  :class:`InferenceOutOfMemoryError` line.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections import OrderedDict
from typing import Any, Callable, Iterator, Literal, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from stylekernel.errors import ConfigError, StyleKernelError, check
from stylekernel.nn.base import StyleTransferNet
from stylekernel.nn.encoder import CHANNELS as LAYER_CHANNELS
from stylekernel.nn.encoder import LAYERS
from stylekernel.tiling import tiled_decode, tiled_encode, tiled_transform

log = logging.getLogger(__name__)

Precision = Literal["fp32", "bf16", "fp16"]
#: Every precision name accepted anywhere (``stylize --precision``, evaluate's ``precision``,
#: the Trainer's precision seen by ``predict_step``) -> the autocast dtype (None: plain fp32).
PRECISIONS: dict[str, Optional[torch.dtype]] = {
    "fp32": None, "32": None, "32-true": None,
    "bf16": torch.bfloat16, "bf16-mixed": torch.bfloat16, "bf16-true": torch.bfloat16,
    "fp16": torch.float16, "16": torch.float16, "16-mixed": torch.float16, "16-true": torch.float16,
}  # fmt: skip


def amp_dtype(precision: str | int) -> Optional[torch.dtype]:
    """The autocast dtype of a precision name (see :data:`PRECISIONS`); ConfigError for an unknown name."""
    name = str(precision)
    check(name in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return PRECISIONS[name]


# --- defaults ---------------------------------------------------------------------------------
# The one home of the stylization settings' defaults: StylizationEngine's signature, the
# Stylizer's (stylekernel.inference) and ``stylekernel stylize``'s options
# (stylekernel.stylize_cli.StylizeOptions) all take them from here (tests/inference/test_defaults.py).
DEFAULT_DEVICE = "cpu"
DEFAULT_PRECISION: Precision = "fp32"
DEFAULT_TILE_SIZE: Optional[int] = 1024
DEFAULT_QUERY_CHUNK_SIZE: Optional[int] = None  # None: the network's own setting
DEFAULT_FEATURE_CACHE_BYTES = 1 << 30
DEFAULT_MEMORY_CHECK = True
DEFAULT_ALPHA = 1.0


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



class InferenceOutOfMemoryError(StyleKernelError, MemoryError):
    """The device ran out of memory; the message suggests ``max_side`` / ``tile_size``."""


class ContentTooLargeError(ConfigError):
    """The content would not fit in memory even tiled; the message gives the ``--max-side`` that fits."""


# --- memory -----------------------------------------------------------------------------------
#: bytes per padded content pixel held at the peak of stylize_tensor (fp32): the content and its
#: padded copy (3 + 3 floats), the relu4_1 map (512 / 64 floats; each other feature layer at
#: stride s adds C / s², e.g. relu5_1 512 / 256, AdaAttN's relu1_1 64), the transform's
#: accumulator (512 / 64; a wider code, AdaAttN's 1536, adds its own width and that of the packed
#: content code) and, while decoding, the output and its clamped copy (3 + 3); the largest of the
#: two phases is taken (see estimate_stylize_bytes).
_ENCODE_PHASE_FLOATS = 3 + 3 + 512 / 64 + 512 / 64
_DECODE_PHASE_FLOATS = 3 + 3 + 512 / 64 + 3 + 3
#: bytes per pixel of one encoder/decoder tile at full resolution (64-channel relu1 maps in and
#: out of a conv, plus the convolution's workspace), measured order of magnitude.
_TILE_BYTES_PER_PIXEL = 64 * 4 * 3


def estimate_stylize_bytes(net: StyleTransferNet, width: int, height: int, *, tile_size: Optional[int]) -> int:
    """Peak extra bytes of :meth:`StylizationEngine.stylize` (+ PIL conversion) for a ``width`` x ``height`` content.

    A model, not a measurement: the whole-image tensors that coexist at the peak (content,
    relu4_1 features, the stylized features, the decoded image) plus one tile's working set
    (``tile_size`` + the encoder halo, squared; the whole image when tiling is off). It tracks
    the measured peak RSS within about 25 % from 1024 to 8192 pixels (see docs/inference.md).
    """
    stride = net.stride
    ph = max(2 * stride, -(-height // stride) * stride)
    pw = max(2 * stride, -(-width // stride) * stride)
    pixels = ph * pw
    extra_levels = sum(LAYER_CHANNELS[n] / 4 ** LAYERS.index(n) for n in net.feature_layers if n in LAYERS and n != "relu4_1")
    code = getattr(net, "code_channels", 512)
    if code != 512:  # a wider accumulator, and the packed content code is a new tensor (not relu4_1 itself)
        extra_levels += (code - 512) / 64 + code / 64
    whole = max(_ENCODE_PHASE_FLOATS + extra_levels, _DECODE_PHASE_FLOATS) * 4 * pixels
    side = max(ph, pw) if tile_size is None else min(max(ph, pw), tile_size) + 2 * 32
    tile = _TILE_BYTES_PER_PIXEL * side * min(side, max(ph, pw) + 64)
    return int(whole + tile + 4 * pixels)  # + the 8-bit output image and its PIL copy


def available_memory_bytes(device: torch.device) -> Optional[int]:
    """Memory the stylization may still use: free CUDA memory (+ this process's cached blocks)
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


def tensor_bytes(obj: Any) -> int:
    """Bytes of the tensors in a (nested) dict / tuple / list (anything else counts 0); the engine's
    feature cache and the evaluation's image sides (``stylekernel_eval.sides``) are sized by it."""
    if isinstance(obj, Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (tuple, list)):
        return sum(tensor_bytes(v) for v in obj)
    return 0


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


def _set_query_chunk_size(net: StyleTransferNet, n: Optional[int]) -> None:
    for module in net.modules():
        if hasattr(module, "query_chunk_size"):
            module.query_chunk_size = n




class StylizationEngine:
    """Stylize tensors with a :class:`StyleTransferNet` (see the module docstring).

    Args:
        net: the network (any method of the suite); put in eval mode and moved to ``device``.
        device: "cpu", "cuda", "cuda:1", "mps" or "auto" (:func:`resolve_device`).
        precision: a name of :data:`PRECISIONS` (autocast; statistics stay fp32 inside the net).
        tile_size: tile side in pixels of the encoder, the transform (tile_size / 8 relu4_1
            cells) and the decoder; larger images are processed in exact overlapping tiles.
            None disables tiling.
        query_chunk_size: overrides the attention's query chunk size (content positions per
            chunk) of every attention module; None keeps the network's own setting.
        feature_cache_bytes: encoder features of recent inputs of :meth:`stylize` are kept (least
            recently used first out, up to this many bytes; 0 disables), keyed by a hash of the
            exact input pixels, so stylizing one content with many styles, or many contents with
            the same styles (folder mode), encodes each image once. Call :meth:`clear_cache` after
            changing the network's weights. The style's transform state (for StyleKernelNet the
            attention's keys and values) is cached the same way.
        memory_check: refuse, before any work, a content whose estimated memory
            (:func:`estimate_stylize_bytes`) exceeds the memory available (:class:`ContentTooLargeError`).
    """

    def __init__(
        self,
        net: StyleTransferNet,
        *,
        device: str | torch.device = DEFAULT_DEVICE,
        precision: str = DEFAULT_PRECISION,
        tile_size: Optional[int] = DEFAULT_TILE_SIZE,
        query_chunk_size: Optional[int] = DEFAULT_QUERY_CHUNK_SIZE,
        feature_cache_bytes: int = DEFAULT_FEATURE_CACHE_BYTES,
        memory_check: bool = DEFAULT_MEMORY_CHECK,
    ) -> None:
        check(tile_size is None or tile_size >= 1, f"tile_size must be >= 1 or None, got {tile_size}")
        self.amp_dtype = amp_dtype(precision)
        self.precision = str(precision)
        self.device = resolve_device(device)
        self.tile_size = tile_size
        self.net = net.eval().to(self.device)
        self.feature_cache_bytes = int(feature_cache_bytes)
        self.memory_check = memory_check
        self._cache: OrderedDict[tuple[Any, ...], tuple[Any, int]] = OrderedDict()
        if query_chunk_size is not None:
            check(query_chunk_size >= 1, f"query_chunk_size must be >= 1, got {query_chunk_size}")
            _set_query_chunk_size(self.net, query_chunk_size)

    # --- one image, any size ----------------------------------------------------------------
    def stylize(
        self,
        content: Tensor,
        styles: Sequence[Tensor],
        *,
        alpha: float = DEFAULT_ALPHA,
        style_weights: Optional[Sequence[float]] = None,
        mask: Optional[Tensor] = None,
    ) -> Tensor:
        """The tensor core: pad, encode (tiled), transform, blend, decode (tiled), crop.

        content: (1, 3, H, W) in [0, 1]; styles: n tensors (1, 3, H_i, W_i) in [0, 1] used at
        their given size; mask: (1, 1, H, W) in [0, 1] or None -> (1, 3, H, W) float32 in
        [0, 1] on the CPU. (``Stylizer.stylize_tensor`` is this method.)
        """
        check(0.0 <= alpha <= 1.0, f"alpha must be in [0, 1], got {alpha}")
        self.net.check_alpha(alpha)
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
        size = tensor_bytes(value)
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
        """Bytes that stylizing a ``width`` x ``height`` content adds to this process (or device).

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
            f"out of memory stylizing a {w}x{h} image on {self.device} ({first}); "
            f"try --max-side, a smaller --tile-size (now {self.tile_size}) or --precision bf16"
        )

    # --- batches of pairs on encoded images (the evaluation runner's and predict_step's entry) ---
    # Same rules as stylize for one style without mask: content reflect-padded to a multiple
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

    def stylize_batch(self, content: Tensor, style: Tensor, *, alpha: float = DEFAULT_ALPHA) -> Tensor:
        """B pairs: content (B, 3, H, W), style (B, 3, H', W') in [0, 1] -> (B, 3, H, W) float32 in [0, 1], on the device.

        Each content and style encoded once (:meth:`encode_content_batch`, :meth:`encode_style_batch`),
        then :meth:`stylize_encoded`: ``stylekernel predict``'s path.
        """
        fc = self.encode_content_batch(content)
        fs = self.encode_style_batch(style)
        return self.stylize_encoded(fc, fs, size=(content.shape[-2], content.shape[-1]), alpha=alpha)

    def stylize_encoded(
        self,
        content_features: dict[str, Tensor],
        style_features: dict[str, Tensor],
        *,
        size: tuple[int, int],
        alpha: float = DEFAULT_ALPHA,
    ) -> Tensor:
        """Features of B contents and B styles (row i: pair i) -> (B, 3, H, W) float32 in [0, 1] on the device.

        ``size`` = (H, W) of the unpadded content images (the output is cropped back to it).
        """
        check(0.0 <= alpha <= 1.0, f"alpha must be in [0, 1], got {alpha}")
        self.net.check_alpha(alpha)
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
    "DEFAULT_ALPHA",
    "DEFAULT_DEVICE",
    "DEFAULT_FEATURE_CACHE_BYTES",
    "DEFAULT_MEMORY_CHECK",
    "DEFAULT_PRECISION",
    "DEFAULT_QUERY_CHUNK_SIZE",
    "DEFAULT_TILE_SIZE",
    "PRECISIONS",
    "ContentTooLargeError",
    "InferenceOutOfMemoryError",
    "StylizationEngine",
    "amp_dtype",
    "available_memory_bytes",
    "estimate_stylize_bytes",
    "fit_max_side",
    "fit_style_to_stride",
    "mask_weights",
    "normalise_weights",
    "pad_to_multiple",
    "resolve_device",
    "tensor_bytes",
]
