"""AdaAttN baseline: "AdaAttN: Revisit Attention Mechanism in Arbitrary Neural Style Transfer"
(Liu et al., ICCV 2021), as the authors' released model (Huage001/AdaAttN, trained with
``--skip_connection_3 --shallow_layer``; ``models/adaattn_model.py``, ``models/networks.py``).

    content, style (B, 3, H, W), (B, 3, H', W')
      -> VGGEncoder (vgg_normalised layout, ceil-mode pooling)    relu1_1 .. relu5_1 of both
      -> keys: for level L, the features of every layer from relu1_1 to L, each resized
         (nearest) to L's size and mean-variance normalised, concatenated ("shallow_layer"):
         448 channels at relu3_1, 960 at relu4_1, 1472 at relu5_1
      -> AdaAttNBlock at relu3_1     (B, 256, H/4, W/4)   the decoder skip ("skip_connection_3")
      -> AdaAttNBlock at relu4_1     (B, 512, H/8, W/8)
      -> AdaAttNBlock at relu5_1     (B, 512, H/16, W/16) -> nearest upsampling to H/8 x W/8
      -> sum -> reflection pad + 3x3 merge conv                       (B, 512, H/8, W/8)
      -> SkipDecoder: pad-conv(512->256)-ReLU-upsample, concatenate the relu3_1 block's output
         (256 + 256 = 512 channels), then the rest of the VGG-mirror decoder   (B, 3, H, W)

One AdaAttN block: Q = f(key_c), K = g(key_s), V = h(Fs) (1x1 convs), A = softmax(Q Kᵀ) over
style positions (unscaled), then an attention-weighted mean and standard deviation per content
position, M = A V and S = sqrt(relu(A V² - M²)) (the authors' formula, no eps), and
out = S * mvn(Fc) + M. mvn uses the unbiased variance + 1e-5 before the square root, as the
authors' ``calc_mean_std``. Style positions are capped at ``max_sample`` (256*256 at relu4_1 /
relu5_1, 64*64 at relu3_1): a random subset in training; in evaluation the authors' test-time
subset (``torch.randperm`` after seeding 6666), reproduced with a private generator so the
global RNG is untouched.

**The code z with the skip.** ``transform`` must return one tensor that ``decode`` reads, that
the inference engine blends linearly (several styles, masks, ``alpha``) and that the tiled
decoder cuts into spatial tiles at the relu4_1 grid. With the relu3_1 skip, z packs both levels
on that grid: ``cat([z4 (512), pixel_unshuffle(z3, 2) (4 * 256)])`` = (B, 1536, H/8, W/8).
Pixel unshuffling is a lossless rearrangement, so every linear blend and every tile of z is the
same blend / tile of both levels; :meth:`AdaAttN.content_code` is the packed content (alpha = 0).

Deviations from the authors' code: the relu5_1 output is resized to the relu4_1 grid (theirs
upsamples x2, the same for sizes that are multiples of 16, which the suite's stride guarantees);
the training losses are the suite's (see ``configs/model/adaattn.yaml``).

**Tiles.** The encoder, the transform and the decoder all run in exact tiles
(:mod:`stylekernel.tiling`). Global: the style's keys and values per block (``style_state``,
once per style) and, per block at level L, the mean/std of each part of the content key, i.e.
of content[n] resized to L's size for n = relu1_1 .. L (``transform_global``; the last is also
the block's mvn of content[L]). Local given those (``transform_local``): the key's nearest
resize, for sizes that are integer multiples (the engine pads the content to the stride), picks
every f-th position from the first, so a tile starting on a relu5_1 cell resizes to the same
positions as the whole map; the 1x1 convs, the attention of each query to all style positions
(fp32 logits and softmax) and std * mvn + mean are pointwise; the merge conv reads 1 relu4_1
cell each side (``transform_halo`` 2, rounded to whole relu5_1 cells); the relu3_1 block's
output is packed onto the relu4_1 grid. :func:`stylekernel.tiling.tiled_transform` cuts the
finer maps (relu1_1 .. relu3_1) with the tile, at 8x / 4x / 2x its relu4_1 offsets.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stylekernel.baselines.registry import register_model
from stylekernel.baselines.sanet import _check_attention_args
from stylekernel.errors import check
from stylekernel.nn.attention import QUERY_CHUNK_SIZE, chunked_attention, flatten_positions, token_subset
from stylekernel.nn.base import StyleTransferNet
from stylekernel.nn.decoder import _conv
from stylekernel.nn.encoder import CHANNELS as LAYER_CHANNELS
from stylekernel.nn.encoder import LAYERS
from stylekernel.nn.functional import mean_std, mvn, mvn_with_stats
from stylekernel.tiling import halo

CHANNELS = 512
SKIP_CHANNELS = LAYER_CHANNELS["relu3_1"]
SAMPLE_SEED = 6666  # the authors' test-time seed (AdaAttNModel.seed)


def key_channels(layer: str, shallow: bool) -> int:
    """Width of the attention key at ``layer`` (with ``shallow``: every layer up to it)."""
    if not shallow:
        return LAYER_CHANNELS[layer]
    return sum(LAYER_CHANNELS[n] for n in LAYERS[: LAYERS.index(layer) + 1])


def key_layers(layer: str, shallow: bool) -> tuple[str, ...]:
    """The layers whose features make the key at ``layer``: relu1_1 .. ``layer`` (``shallow``)
    or ``layer`` alone, shallow first."""
    return tuple(LAYERS[: LAYERS.index(layer) + 1]) if shallow else (layer,)


def _resized(x: Tensor, size: tuple[int, int]) -> Tensor:
    """x (B, C, H, W) resized (nearest) to ``size``; for H, W integer multiples of it, every
    (H/h)-th row and (W/w)-th column from the first, so a crop at aligned offsets resizes to the
    same crop of the resized map."""
    return x if tuple(x.shape[-2:]) == tuple(size) else F.interpolate(x, size=size, mode="nearest")


def attention_key(features: dict[str, Tensor], layer: str, shallow: bool, *, unbiased: bool = True) -> Tensor:
    """AdaAttN's key at ``layer``: (B, key_channels(layer, shallow), h, w), float32 or wider.

    ``shallow=False``: mvn(features[layer]). ``shallow=True``: the features of every layer from
    relu1_1 to ``layer``, each resized (nearest) to ``layer``'s size (h, w) and then
    mean-variance normalised, concatenated along channels (shallow first).
    """
    size = features[layer].shape[-2:]
    return torch.cat([mvn(_resized(features[n], size), unbiased=unbiased) for n in key_layers(layer, shallow)], dim=1)


def style_subset(n: int, max_tokens: Optional[int], *, training: bool, seed: Optional[int], device: torch.device) -> Optional[Tensor]:
    """Indices of at most ``max_tokens`` of ``n`` style positions, or None to keep all.

    Training: a fresh random subset (global RNG). Evaluation: ``torch.randperm(n)[:max_tokens]``
    from a CPU generator seeded with ``seed``, the subset the authors' test code draws after
    ``torch.manual_seed(seed)``; ``seed=None``: evenly spaced positions (the suite's rule before
    the authors' was adopted, kept for the checkpoints of that time).
    """
    if max_tokens is None or n <= max_tokens:
        return None
    if training:
        return torch.randperm(n, device=device)[:max_tokens]
    if seed is None:
        return token_subset(n, max_tokens, random=False, device=device)
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=generator)[:max_tokens].to(device)


class AdaAttNBlock(nn.Module):
    """Attention-weighted mean and std applied to the normalised content feature.

    forward(zc: (B, C, H, W), zs: (B, C, H', W'), key_c: (B, D, H, W), key_s: (B, D, H', W'))
    -> (B, C, H, W).

    Args:
        channels: C, the width of the content/style features.
        key_channels: D, the width of the keys.
        scaled: divide the logits by sqrt(D) (False: the authors' unscaled dot product).
        max_style_tokens: the authors' ``max_sample``; None keeps all style positions.
        sample_seed: seed of the evaluation-time subset (the authors' 6666); None: evenly spaced.
        std_eps: S = sqrt(relu(var) + std_eps); 0 is the authors' formula.
        unbiased: mvn of the content with the unbiased variance (the authors' convention).
        query_chunk_size: content positions per attention chunk; None = one chunk.
    """

    def __init__(
        self,
        channels: int = CHANNELS,
        key_channels: int = CHANNELS,
        *,
        scaled: bool = False,
        max_style_tokens: Optional[int] = 256 * 256,
        sample_seed: Optional[int] = SAMPLE_SEED,
        std_eps: float = 0.0,
        unbiased: bool = True,
        query_chunk_size: Optional[int] = QUERY_CHUNK_SIZE,
    ) -> None:
        super().__init__()
        check(channels >= 1, f"channels must be >= 1, got {channels}")
        check(key_channels >= 1, f"key_channels must be >= 1, got {key_channels}")
        check(std_eps >= 0, f"std_eps must be >= 0, got {std_eps}")
        _check_attention_args(max_style_tokens, query_chunk_size)
        self.channels = channels
        self.scaled, self.max_style_tokens, self.sample_seed = scaled, max_style_tokens, sample_seed
        self.std_eps, self.unbiased, self.query_chunk_size = std_eps, unbiased, query_chunk_size
        self.f = nn.Conv2d(key_channels, key_channels, 1)
        self.g = nn.Conv2d(key_channels, key_channels, 1)
        self.h = nn.Conv2d(channels, channels, 1)

    def style_state(self, zs: Tensor, key_s: Tensor) -> tuple[Tensor, Tensor]:
        """zs (B, C, H', W'), key_s (B, D, H', W') -> keys g(key_s) (B, Ns, D) and values h(zs)
        (B, Ns, C), the style subset applied: all the block needs from the style."""
        k = flatten_positions(self.g(key_s.to(zs.dtype)))  # (B, Ns, D)
        v = flatten_positions(self.h(zs))  # (B, Ns, C)
        idx = style_subset(k.shape[1], self.max_style_tokens, training=self.training, seed=self.sample_seed, device=k.device)
        if idx is not None:
            k, v = k[:, idx], v[:, idx]
        return k, v

    def local(self, zc: Tensor, stats: tuple[Tensor, Tensor], key_c: Tensor, style: tuple[Tensor, Tensor]) -> Tensor:
        """The block on a content tile: zc (B, C, h, w), the whole map's (mean, std) (B, C, 1, 1)
        from ``mean_std(zc, unbiased=self.unbiased)``, the content key (B, D, h, w) of the tile,
        style = :meth:`style_state` -> (B, C, h, w). Pointwise in the content (each query
        attends to all style positions on its own), so a tile gives the whole map's values."""
        b, c, h, w = zc.shape
        q = flatten_positions(self.f(key_c.to(zc.dtype)))  # (B, Nc, D)
        k, v = style
        wide = torch.float64 if zc.dtype == torch.float64 else torch.float32
        with torch.autocast(device_type=zc.device.type, enabled=False):
            v = v.to(wide)
            # one attention pass gives E[v] and E[v²] per content position
            moments = chunked_attention(
                q.to(wide),
                k.to(wide),
                torch.cat([v, v * v], dim=-1),
                chunk_size=self.query_chunk_size,
                scale=None if self.scaled else 1.0,
            )
            mean, sq_mean = moments.split(c, dim=-1)  # (B, Nc, C) each
            var = torch.relu(sq_mean - mean * mean)
            std = (var + self.std_eps).sqrt() if self.std_eps else var.sqrt()
            mean = mean.transpose(1, 2).reshape(b, c, h, w)
            std = std.transpose(1, 2).reshape(b, c, h, w)
            out = std * mvn_with_stats(zc, stats) + mean
        return out.to(zc.dtype)

    def forward(self, zc: Tensor, zs: Tensor, key_c: Tensor, key_s: Tensor) -> Tensor:
        return self.local(zc, mean_std(zc, unbiased=self.unbiased), key_c, self.style_state(zs, key_s))


class SkipDecoder(nn.Module):
    """The authors' decoder with the relu3_1 skip: ``up1`` (pad-conv 512->256-ReLU-upsample),
    concatenation with the skip (256 channels), ``body`` (the rest of the VGG mirror, its first
    conv taking 512 channels).

    forward(z: (B, 512, h, w), skip: (B, 256, 2h, 2w)) -> (B, 3, 8h, 8w), unclamped.
    """

    def __init__(self) -> None:
        super().__init__()
        up = nn.Upsample(scale_factor=2, mode="nearest")
        self.up1 = nn.Sequential(*_conv(CHANNELS, 256), up)
        self.body = nn.Sequential(
            *_conv(256 + SKIP_CHANNELS, 256), *_conv(256, 256), *_conv(256, 256), *_conv(256, 128),
            nn.Upsample(scale_factor=2, mode="nearest"),
            *_conv(128, 128), *_conv(128, 64), nn.Upsample(scale_factor=2, mode="nearest"),
            *_conv(64, 64), *_conv(64, 3, relu=False),
        )  # fmt: skip

    def forward(self, z: Tensor, skip: Tensor) -> Tensor:
        return self.body(torch.cat([self.up1(z), skip.to(z.dtype)], dim=1))


def pack(z4: Tensor, z3: Tensor) -> Tensor:
    """relu4_1-level (B, 512, h, w) and relu3_1-level (B, 256, 2h, 2w) -> the code (B, 1536, h, w)."""
    return torch.cat([z4, F.pixel_unshuffle(z3.to(z4.dtype), 2)], dim=1)


def unpack(z: Tensor) -> tuple[Tensor, Tensor]:
    """Inverse of :func:`pack`."""
    z4, z3 = z.split([CHANNELS, 4 * SKIP_CHANNELS], dim=1)
    return z4, F.pixel_shuffle(z3, 2)


@register_model("adaattn")
class AdaAttN(StyleTransferNet):
    """AdaAttN at relu3_1 (decoder skip), relu4_1 and relu5_1 (merged), then the decoder.

    With ``use_relu5_1`` (default) the input size must be a multiple of 16, else of 8.

    Args:
        encoder_weights: VGG19 source: torchvision | vgg_normalised | random | auto | a file path
            (the authors use vgg_normalised).
        use_relu5_1: add the relu5_1 block and the merge conv (the authors' layout); False keeps
            only relu4_1 (stride 8).
        relu3_1_skip: the relu3_1 block feeding a decoder skip (the authors'
            ``--skip_connection_3``, on in their released model).
        shallow_keys: build keys from all layers relu1_1..L (``--shallow_layer``, on in the
            released model); False uses mvn(relu_L) alone.
        scaled_attention: divide attention logits by sqrt(key width) (the authors do not).
        max_style_tokens: style positions per attention at relu4_1 / relu5_1 (the authors'
            256*256); null keeps all.
        max_style_tokens_relu3_1: the same at relu3_1 (the authors' 64*64).
        sample_seed: seed of the evaluation-time style subset (the authors' 6666); null: evenly
            spaced positions (the suite's rule before, for its old checkpoints).
        attention_std_eps: S = sqrt(relu(var) + eps) in the blocks; 0 is the authors' formula.
        unbiased_std: mvn with the unbiased variance (the authors' ``calc_mean_std``).
        ceil_mode: VGG max pooling rounds sizes up (the authors' encoder).
        query_chunk_size: content positions per attention chunk (memory bound); null = one chunk.
    """

    def __init__(
        self,
        encoder_weights: str = "torchvision",
        use_relu5_1: bool = True,
        relu3_1_skip: bool = True,
        shallow_keys: bool = True,
        scaled_attention: bool = False,
        max_style_tokens: Optional[int] = 256 * 256,
        max_style_tokens_relu3_1: Optional[int] = 64 * 64,
        sample_seed: Optional[int] = SAMPLE_SEED,
        attention_std_eps: float = 0.0,
        unbiased_std: bool = True,
        ceil_mode: bool = True,
        query_chunk_size: Optional[int] = QUERY_CHUNK_SIZE,
    ) -> None:
        super().__init__()
        _check_attention_args(max_style_tokens, query_chunk_size)
        _check_attention_args(max_style_tokens_relu3_1, query_chunk_size)
        self.use_relu5_1, self.relu3_1_skip, self.shallow_keys = use_relu5_1, relu3_1_skip, shallow_keys
        self.unbiased_std = unbiased_std
        self.levels: tuple[str, ...] = ("relu4_1", "relu5_1") if use_relu5_1 else ("relu4_1",)
        common = dict(
            scaled=scaled_attention, sample_seed=sample_seed, std_eps=attention_std_eps,
            unbiased=unbiased_std, query_chunk_size=query_chunk_size,
        )  # fmt: skip
        if relu3_1_skip:
            self.adaattn3_1 = AdaAttNBlock(
                SKIP_CHANNELS, key_channels("relu3_1", shallow_keys), max_style_tokens=max_style_tokens_relu3_1, **common  # type: ignore[arg-type]
            )
        self.adaattn4_1 = AdaAttNBlock(CHANNELS, key_channels("relu4_1", shallow_keys), max_style_tokens=max_style_tokens, **common)  # type: ignore[arg-type]
        if use_relu5_1:
            self.adaattn5_1 = AdaAttNBlock(CHANNELS, key_channels("relu5_1", shallow_keys), max_style_tokens=max_style_tokens, **common)  # type: ignore[arg-type]
            self.merge = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(CHANNELS, CHANNELS, 3))
        used = self.levels + (("relu3_1",) if relu3_1_skip else ())
        deepest = self.levels[-1]
        self.feature_layers = LAYERS[: LAYERS.index(deepest) + 1] if shallow_keys else tuple(n for n in LAYERS if n in used)
        self.stride = 16 if use_relu5_1 else 8
        self.build_encoder_decoder(encoder_weights, ceil_mode=ceil_mode, decoder=not relu3_1_skip)
        if relu3_1_skip:
            self.decoder = SkipDecoder()  # type: ignore[assignment]
        self.code_channels = CHANNELS + (4 * SKIP_CHANNELS if relu3_1_skip else 0)  # width of z (the memory estimate reads it)

        # tiled transform: the blocks are pointwise given the global state; the merge conv reads 1
        # relu4_1 cell each side, rounded up to 2 so that relu5_1 tiles start on whole cells
        h = halo(list(self.merge)) if use_relu5_1 else 0
        self.transform_halo = h + h % 2

    def _blocks(self) -> dict[str, AdaAttNBlock]:
        """{layer: its AdaAttN block}, relu4_1 [, relu5_1] [, relu3_1]."""
        names = {"relu4_1": "adaattn4_1", "relu5_1": "adaattn5_1", "relu3_1": "adaattn3_1"}
        return {layer: getattr(self, name) for layer, name in names.items() if hasattr(self, name)}

    # ``transform`` (the base class's) = transform_local(content, transform_global(content, style_state(style)))
    # Encoder features of content and style (``feature_layers``) -> the code z: (B, 512, H/8, W/8),
    # or (B, 1536, H/8, W/8) with the relu3_1 skip (see :func:`pack`).
    def style_state(self, style: dict[str, Tensor]) -> dict[str, tuple[Tensor, Tensor]]:
        """The style's features (``feature_layers``) -> each block's keys (B, Ns, D) and values (B, Ns, C)."""
        return {
            layer: block.style_state(style[layer], attention_key(style, layer, self.shallow_keys, unbiased=self.unbiased_std))
            for layer, block in self._blocks().items()
        }

    def transform_global(self, content: dict[str, Tensor], style_state: dict[str, tuple[Tensor, Tensor]]) -> dict[str, Any]:
        """The whole content maps' statistics + the style state. ``stats[L]``: for each layer n of
        :func:`key_layers` (L last), (mean, std) (B, C_n, 1, 1) of content[n] resized (nearest) to
        L's size, the mvn of the key's part n; the last is also the block's mvn of content[L]."""
        stats = {
            layer: [
                mean_std(_resized(content[n], content[layer].shape[-2:]), unbiased=self.unbiased_std)
                for n in key_layers(layer, self.shallow_keys)
            ]
            for layer in self._blocks()
        }
        return {"stats": stats, "style": style_state}

    def transform_local(self, content: dict[str, Tensor], state: dict[str, Any]) -> Tensor:
        """Content features of a tile ({relu1_1 (B, 64, 8h, 8w) .. relu4_1 (B, 512, h, w)[, relu5_1
        (B, 512, h/2, w/2)]}, ``feature_layers``) -> the tile's code (B, 512 or 1536, h, w)."""

        def block(layer: str) -> Tensor:
            zc, stats = content[layer], state["stats"][layer]
            size = zc.shape[-2:]
            parts = [mvn_with_stats(_resized(content[n], size), s) for n, s in zip(key_layers(layer, self.shallow_keys), stats)]
            return self._blocks()[layer].local(zc, stats[-1], torch.cat(parts, dim=1), state["style"][layer])

        z = block("relu4_1")
        if self.use_relu5_1:
            z5 = block("relu5_1")
            z = self.merge(z + F.interpolate(z5, size=z.shape[-2:], mode="nearest"))
        if self.relu3_1_skip:
            z = pack(z, block("relu3_1"))
        return z

    def content_code(self, content: dict[str, Tensor]) -> Tensor:
        """The code of the unstylized content (what ``alpha = 0`` decodes)."""
        if self.relu3_1_skip:
            return pack(content["relu4_1"], content["relu3_1"])
        return content["relu4_1"]

    def decode(self, z: Tensor) -> Tensor:
        """The code z (see :meth:`transform`) -> (B, 3, 8h, 8w), unclamped."""
        if self.relu3_1_skip:
            return self.decoder(*unpack(z))
        return self.decoder(z)
