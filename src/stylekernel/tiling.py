"""Exact tiled encoding (image -> relu4_1), transform (relu4_1 -> stylized relu4_1) and decoding.

Why tiles are exact here: every layer of the VGG encoder and of the decoder is local (3x3
convolutions, 2x2 pools, nearest x2 upsampling, pointwise activations). An output position
therefore depends on a bounded input window, which :func:`input_range` computes by walking the
layer stack backwards. If a tile carries a *halo* at least that wide on every side, and its
origin is aligned to the network stride (so the pools see the same 2x2 cells as on the whole
image), then the tile's central part ("core") is computed from exactly the same numbers as on the
whole image: zero/reflection padding inside the tile only touches the halo, which is cropped
away. Tiled and untiled results then agree up to floating-point summation order.

The transform is local too once its global quantities are known: the mean/std of the whole
content map (for mvn) and everything that comes from the style (the attention's keys and values,
AdaIN's statistics). A network opts in through the hook of :class:`StyleTransferNet`
(``style_state`` -> ``transform_global`` -> ``transform_local`` with a declared
``transform_halo``); :func:`tiled_transform` then runs ``transform_local`` per tile. Every
content position attends to all style positions on its own, so the attention is exact per tile;
the 3x3 convolutions (CGM head, kernel generator) and the k x k dynamic convolution need the
halo. Networks that do not opt in are transformed in one pass.

Halos of the default VGG19 / decoder (computed, not hard-coded): the encoder to relu4_1 needs 30
pixels each side (rounded up to 32, a multiple of the stride), the decoder needs a few relu4_1
cells each side (see :func:`decoder_halo`); StyleKernelNet's transform 2 cells (1 for the CGM
head + 1 for the kernel generator, or k // 2 for large kernels).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Sequence

import torch
from torch import Tensor, nn

from stylekernel.nn.base import StyleTransferNet

log = logging.getLogger(__name__)

_POINTWISE = (
    nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh,
    nn.Identity, nn.Dropout, nn.Dropout2d,
)  # fmt: skip
_PADS = (nn.ReflectionPad2d, nn.ReplicationPad2d, nn.ZeroPad2d, nn.ConstantPad2d)


class NotTileableError(ValueError):
    """A layer stack contains a layer whose spatial dependency :func:`input_range` cannot bound."""


# --- receptive-field algebra ------------------------------------------------------------------
def _pair(v: int | Sequence[int], axis: int) -> int:
    return int(v) if isinstance(v, int) else int(v[axis])


def _flatten(layers: Iterable[nn.Module]) -> list[nn.Module]:
    out: list[nn.Module] = []
    for layer in layers:
        if isinstance(layer, nn.Sequential):
            out += _flatten(layer)
        else:
            out.append(layer)
    return out


def input_range(layers: Iterable[nn.Module], lo: int, hi: int, *, axis: int = 0) -> tuple[int, int]:
    """The input index range [lo', hi'] (inclusive) that outputs [lo, hi] of ``layers`` read.

    ``layers`` run in order (an ``nn.Sequential`` or a list; nested Sequentials are flattened);
    ``axis`` 0 is height, 1 width. Indices may come out negative or past the input size: those
    positions are padding. Raises :class:`NotTileableError` on a layer it does not know (for
    instance a normalisation with global statistics).
    """
    for layer in reversed(_flatten(layers)):
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            k = _pair(layer.kernel_size, axis)
            s = _pair(layer.stride if layer.stride is not None else layer.kernel_size, axis)
            pad = layer.padding
            if isinstance(pad, str):
                raise NotTileableError(f"padding={pad!r} of {layer} is not supported")
            p = _pair(pad, axis)
            d = _pair(getattr(layer, "dilation", 1), axis)
            lo, hi = lo * s - p, hi * s - p + d * (k - 1)
        elif isinstance(layer, _PADS):
            before = int(layer.padding[2 * (1 - axis)])  # (left, right, top, bottom)
            lo, hi = lo - before, hi - before
        elif isinstance(layer, nn.Upsample):
            if layer.mode != "nearest" or layer.size is not None:
                raise NotTileableError(f"{layer}: only nearest upsampling by an integer factor is supported")
            f = layer.scale_factor
            f = f[axis] if isinstance(f, tuple) else f
            if f is None or float(f) != int(f):
                raise NotTileableError(f"{layer}: non-integer scale factor")
            lo, hi = lo // int(f), hi // int(f)
        elif isinstance(layer, _POINTWISE):
            continue
        else:
            raise NotTileableError(f"cannot bound the receptive field of {type(layer).__name__}")
    return lo, hi


def _scale(layers: Sequence[nn.Module]) -> float:
    """Output size / input size of ``layers`` (1/8 for VGG to relu4_1, 8 for the decoder)."""
    scale = 1.0
    for layer in _flatten(layers):
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            s = layer.stride if layer.stride is not None else layer.kernel_size
            scale /= _pair(s, 0)
        elif isinstance(layer, nn.Upsample):
            f = layer.scale_factor
            scale *= float(f[0] if isinstance(f, tuple) else f)  # type: ignore[arg-type]
    return scale


def halo(layers: Sequence[nn.Module]) -> int:
    """Context (in *input* units) that every output position of ``layers`` reads beyond its own cell.

    For a downsampling stack with total stride S, output cell a covers inputs [S*a, S*a + S - 1];
    for an upsampling stack with factor U, output pixels [U*a, U*a + U - 1] come from input cell a.
    The halo is the largest distance, on either side and either axis, between that cell and the
    input range :func:`input_range` reports (checked at several phases, because pools and
    upsampling floor).
    """
    layers = _flatten(layers)
    scale = _scale(layers)
    worst = 0
    for axis in (0, 1):
        for a in range(64, 64 + 16):  # far from 0 so that floor division never sees negatives
            if scale <= 1:  # downsampling: output cell a <- inputs [S a, S a + S - 1]
                s = round(1 / scale)
                lo, hi = input_range(layers, a, a, axis=axis)
                worst = max(worst, s * a - lo, hi - (s * a + s - 1))
            else:  # upsampling: output pixels [U a, U a + U - 1] <- input cell a
                u = round(scale)
                lo, hi = input_range(layers, u * a, u * a + u - 1, axis=axis)
                worst = max(worst, a - lo, hi - a)
    return worst


def encoder_layers(net: StyleTransferNet, last: str) -> list[nn.Module]:
    """The encoder's modules in order from the input up to layer ``last`` (pointwise pre-step omitted)."""
    layers = getattr(net.encoder, "layers", None)
    if not isinstance(layers, nn.ModuleDict):
        raise NotTileableError(f"{type(net.encoder).__name__} has no ordered 'layers' ModuleDict")
    out: list[nn.Module] = []
    for name, module in layers.items():
        out.append(module)
        if name == last:
            return out
    raise NotTileableError(f"encoder has no layer {last!r}")


def encoder_halo(net: StyleTransferNet, layers: Sequence[str]) -> int:
    """Pixels of context each encoder tile needs on each side, a multiple of ``net.stride``."""
    deepest = max(layers, key=lambda name: list(net.encoder.layers).index(name))  # type: ignore[union-attr]
    h = halo(encoder_layers(net, deepest))
    return int(math.ceil(h / net.stride) * net.stride)


def decoder_halo(net: StyleTransferNet) -> int:
    """relu4_1 cells of context each decoder tile needs on each side."""
    return halo(list(net.decoder.children()))


# --- tile layout ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Span:
    """One tile along one axis: core [start, end) is kept, [in_start, in_end) is computed."""

    start: int
    end: int
    in_start: int
    in_end: int


def tile_spans(length: int, *, tile: int, halo: int, align: int = 1) -> list[Span]:
    """Split [0, length) into near-equal cores of at most ``tile`` (multiples of ``align``), plus halo.

    ``length``, ``tile`` and ``halo`` must be multiples of ``align``; the halo is clipped at
    the borders (there the whole-image padding is what the untiled pass sees too).
    """
    if length % align or tile % align or halo % align or tile < align:
        raise ValueError(f"tile_spans: length {length}, tile {tile}, halo {halo} must be multiples of align {align}")
    n = max(1, math.ceil(length / tile))
    core = math.ceil(length / n / align) * align
    spans = []
    for start in range(0, length, core):
        end = min(start + core, length)
        spans.append(Span(start, end, max(0, start - halo), min(length, end + halo)))
    return spans


# --- tiled stages -----------------------------------------------------------------------------
def _layer_strides(net: StyleTransferNet, layers: Sequence[str]) -> dict[str, int]:
    return {name: round(1 / _scale(encoder_layers(net, name))) for name in layers}


def tiled_encode(net: StyleTransferNet, image: Tensor, *, tile_size: int, layers: Sequence[str] | None = None) -> dict[str, Tensor]:
    """``net.encode`` of a large image, one overlapping tile at a time (same result, bounded memory).

    image: (B, 3, H, W) with H, W multiples of ``net.stride`` -> {layer: (B, C, H/s, W/s)}.
    ``tile_size`` (pixels, rounded down to a multiple of the stride) bounds each tile's core;
    images that fit in one tile go through ``net.encode`` directly. Falls back to one pass
    (logged) if the encoder's receptive field cannot be bounded.
    """
    layers = tuple(net.feature_layers if layers is None else layers)
    b, _, h, w = image.shape
    stride = net.stride
    tile = max(stride, tile_size // stride * stride)
    if h <= tile and w <= tile:
        return net.encode(image, layers)
    try:
        pad = encoder_halo(net, layers)
        strides = _layer_strides(net, layers)
    except NotTileableError as exc:
        log.warning("encoder is not tileable (%s); encoding %dx%d in one pass", exc, h, w)
        return net.encode(image, layers)
    out: dict[str, Tensor] = {}
    for ys in tile_spans(h, tile=tile, halo=pad, align=stride):
        for xs in tile_spans(w, tile=tile, halo=pad, align=stride):
            feats = net.encode(image[:, :, ys.in_start : ys.in_end, xs.in_start : xs.in_end], layers)
            for name, f in feats.items():
                # entries beyond the encoder's layers (e.g. StyTr-2's "image") scale with the tile
                s = strides[name] if name in strides else (ys.in_end - ys.in_start) // f.shape[-2]
                if name not in out:
                    out[name] = f.new_empty(b, f.shape[1], h // s, w // s)
                core = f[:, :, (ys.start - ys.in_start) // s : (ys.end - ys.in_start) // s,
                         (xs.start - xs.in_start) // s : (xs.end - xs.in_start) // s]  # fmt: skip
                out[name][:, :, ys.start // s : ys.end // s, xs.start // s : xs.end // s] = core
            del feats
    return out


def tiled_decode(net: StyleTransferNet, z: Tensor, *, tile_size: int) -> Tensor:
    """``net.decode`` of a large feature map in overlapping tiles (same result, bounded memory).

    z: (B, C, h, w) at relu4_1 -> (B, 3, U h, U w) with U the decoder's upsampling (8).
    ``tile_size`` is in output pixels. Falls back to one pass (logged) if the decoder's
    receptive field cannot be bounded. A network whose decoder normalises with whole-map
    statistics tiles itself through its ``decode_tiled(z, tile_size=...)`` (AdaConv, see
    :func:`tiled_normalized_decode`).
    """
    b, _, h, w = z.shape
    custom = getattr(net, "decode_tiled", None)  # a decoder with whole-map statistics (AdaConv)
    if custom is not None:
        tile = max(1, tile_size // 8)
        return net.decode(z) if h <= tile and w <= tile else custom(z, tile_size=tile_size)
    try:
        children = list(net.decoder.children())
        up = round(_scale(children))
        pad = decoder_halo(net)
    except NotTileableError as exc:
        log.warning("decoder is not tileable (%s); decoding in one pass", exc)
        return net.decode(z)
    tile = max(1, tile_size // up)
    if h <= tile and w <= tile:
        return net.decode(z)
    pad = max(pad, 1)  # the decoder's reflection padding needs at least 2 cells per tile
    out: Tensor | None = None
    for ys in tile_spans(h, tile=tile, halo=pad):
        for xs in tile_spans(w, tile=tile, halo=pad):
            img = net.decode(z[:, :, ys.in_start : ys.in_end, xs.in_start : xs.in_end])
            if out is None:
                out = img.new_empty(b, img.shape[1], h * up, w * up)
            out[:, :, ys.start * up : ys.end * up, xs.start * up : xs.end * up] = img[
                :, :, (ys.start - ys.in_start) * up : (ys.end - ys.in_start) * up,
                (xs.start - xs.in_start) * up : (xs.end - xs.in_start) * up,
            ]  # fmt: skip
            del img
    assert out is not None
    return out


Stats = tuple[Tensor, Tensor]


class _StatsAccumulator:
    """Per-(sample, channel) mean and biased variance of a map seen in disjoint pieces, combined in
    float64 with Chan et al.'s pairwise update (no E[x^2] - E[x]^2 cancellation)."""

    def __init__(self) -> None:
        self.n = 0
        self.mean: Optional[Tensor] = None
        self.m2: Optional[Tensor] = None

    def add(self, piece: Tensor) -> None:
        """piece: (B, C, h, w), any floating dtype."""
        x = piece.detach().double()
        n = x.shape[-2] * x.shape[-1]
        mean = x.mean(dim=(2, 3), keepdim=True)
        m2 = (x - mean).square_().sum(dim=(2, 3), keepdim=True)
        if self.mean is None or self.m2 is None:
            self.n, self.mean, self.m2 = n, mean, m2
            return
        total = self.n + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta.square() * (self.n * n / total)
        self.n = total

    def mean_std(self, eps: float, dtype: torch.dtype) -> Stats:
        """(mean, sqrt(biased var + eps)), each (B, C, 1, 1) in ``dtype``."""
        assert self.mean is not None and self.m2 is not None
        return self.mean.to(dtype), (self.m2 / self.n + eps).sqrt().to(dtype)


def tiled_normalized_decode(
    run: Callable[[Tensor, list[Stats], int], Tensor],
    z: Tensor,
    *,
    norms: int,
    halos: Sequence[int],
    tile_size: int,
    eps: float = 1e-5,
) -> Tensor:
    """Exact tiled decoding for a decoder whose ``norms`` instance norms use whole-map statistics.

    z: (B, C, h, w) -> (B, 3, 8h, 8w). ``run(tile, stats, upto)`` runs the decoder on a tile of z,
    normalising the input of norm i < ``upto`` with ``stats[i]`` (mean, std) (B, C_i, 1, 1); for
    ``upto < norms`` it returns norm ``upto``'s input, (B, C_u, U h', U w') for some integer U, for
    ``upto == norms`` the output. ``halos[u]``: the relu4_1 cells of context ``run(.., upto=u)``
    reads each side. Pass u = 0 .. norms - 1 runs the decoder in tiles up to norm u and combines
    the cores' statistics (biased variance, ``eps`` under the root: ``F.instance_norm``'s; float64,
    cast to z's float32/float64); the last pass decodes with all of them. Each tile then sees the
    numbers the whole map sees, at the cost of recomputing the first stages (``norms + 1`` passes).
    """
    b, _, h, w = z.shape
    tile = max(1, tile_size // 8)
    dtype = torch.float64 if z.dtype == torch.float64 else torch.float32
    stats: list[Stats] = []
    out: Optional[Tensor] = None
    for upto in range(norms + 1):
        pad = max(int(halos[upto]), 1)  # reflection padding needs at least 2 cells per tile
        acc = _StatsAccumulator()
        for ys in tile_spans(h, tile=tile, halo=pad):
            for xs in tile_spans(w, tile=tile, halo=pad):
                y = run(z[:, :, ys.in_start : ys.in_end, xs.in_start : xs.in_end], stats, upto)
                u = y.shape[-2] // (ys.in_end - ys.in_start)
                core = y[:, :, (ys.start - ys.in_start) * u : (ys.end - ys.in_start) * u,
                         (xs.start - xs.in_start) * u : (xs.end - xs.in_start) * u]  # fmt: skip
                if upto < norms:
                    acc.add(core)
                else:
                    if out is None:
                        out = y.new_empty(b, y.shape[1], h * u, w * u)
                    out[:, :, ys.start * u : ys.end * u, xs.start * u : xs.end * u] = core
                del y, core
        if upto < norms:
            stats.append(acc.mean_std(eps, dtype))
    assert out is not None
    return out


def tiled_transform(
    net: StyleTransferNet,
    content: dict[str, Tensor],
    state: Any,
    *,
    tile_size: Optional[int],
    out: Optional[Tensor] = None,
    weight: float | Tensor = 1.0,
) -> Tensor:
    """``out += weight * net.transform_local(content, state)``, one overlapping tile at a time.

    content: the whole content feature dict ({relu4_1: (B, C, h, w)[, relu5_1: (B, C, h/2,
    w/2)]}, finer maps (B, C, u h, u w) for integer u, e.g. AdaAttN's relu1_1 .. relu3_1, are
    cut alike); state: ``net.transform_global(content, net.style_state(style))``; weight: a float
    or a (B, 1, h, w) map; out: a (B, C_z, h, w) float32 accumulator (C_z: the code's width,
    512, or 1536 for AdaAttN), or None to return a new one (zeros + the weighted transform).
    ``tile_size`` (pixels, so tile_size/8 relu4_1 cells) bounds each tile's core; each tile carries ``net.transform_halo`` cells of context, so the
    result equals the untiled transform. Networks without a ``transform_halo`` (and maps that
    fit one tile) run in one pass.
    """
    zc = content["relu4_1"]
    b, _, h, w = zc.shape
    halo_ = getattr(net, "transform_halo", None)
    align = max(1, net.stride // 8)  # relu5_1 cells span 2 relu4_1 cells: tiles start on even cells
    tile = None if tile_size is None else max(align, tile_size // 8 // align * align)
    if halo_ is None or tile is None or (h <= tile and w <= tile):
        spans_y = [Span(0, h, 0, h)]
        spans_x = [Span(0, w, 0, w)]
    else:
        pad = -(-halo_ // align) * align
        spans_y = tile_spans(h, tile=tile, halo=pad, align=align)
        spans_x = tile_spans(w, tile=tile, halo=pad, align=align)
    factors = {name: h // f.shape[-2] for name, f in content.items()}
    ups: dict[str, int] = {}  # maps finer than relu4_1 by an integer factor (AdaAttN's relu1_1 .. relu3_1)
    for name, f in content.items():
        u = f.shape[-2] // h
        if u > 1 and tuple(f.shape[-2:]) == (u * h, u * w):
            ups[name] = u
    for ys in spans_y:
        for xs in spans_x:
            crop = content if len(spans_y) == len(spans_x) == 1 else {
                name: f[:, :, ys.in_start // s : ys.in_end // s, xs.in_start // s : xs.in_end // s]
                for name, f in content.items()
                if (s := factors[name]) >= 1
            } | {
                name: content[name][:, :, ys.in_start * u : ys.in_end * u, xs.in_start * u : xs.in_end * u]
                for name, u in ups.items()
            }  # one span: the whole dict, entries finer than relu4_1 by other factors (StyTr-2's "image") included
            t = net.transform_local(crop, state)  # untiled networks: one span, crop = content
            core = t[:, :, ys.start - ys.in_start : ys.end - ys.in_start, xs.start - xs.in_start : xs.end - xs.in_start]
            if out is None:
                out = torch.zeros(b, core.shape[1], h, w, dtype=torch.float32, device=zc.device)
            target = out[:, :, ys.start : ys.end, xs.start : xs.end]
            if isinstance(weight, Tensor):
                target.addcmul_(core.float(), weight[:, :, ys.start : ys.end, xs.start : xs.end].float())
            else:
                target.add_(core, alpha=float(weight))  # never in place on t: it may alias the features
            del t, core
    assert out is not None
    return out


__all__ = [
    "tiled_transform",
    "NotTileableError",
    "Span",
    "decoder_halo",
    "encoder_halo",
    "encoder_layers",
    "halo",
    "input_range",
    "tile_spans",
    "tiled_decode",
    "tiled_encode",
    "tiled_normalized_decode",
]
