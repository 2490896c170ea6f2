"""AdaConv baseline: "Adaptive Convolutions for Structure-Aware Style Transfer" (Chandran et al.,
CVPR 2021), as released in the public unofficial implementation RElbers/ada-conv-pytorch (no
official code exists).

    content, style (B, 3, H, W), (B, 3, H', W')
      -> VGGEncoder (torchvision VGG19, reflection padding)   relu4_1: Zc, Zs (B, 512, H/8, W/8)
      -> GlobalStyleEncoder(Zs)         style descriptor W: (B, S_d, k, k)
      -> AdaConvDecoder(Zc, W)          four stages (512 -> 256 -> 128 -> 64 -> 3 channels); each
                                        starts with a KernelPredictor(W) and an AdaConv2d block:
                                        instance-normalised input, a predicted grouped k x k conv,
                                        a predicted grouped 1x1 conv + bias (one set of kernels
                                        per style image, groups 512, 128, 32, 8), then a static
                                        3x3 conv; ReLUs, static 3x3 convs and nearest x2
                                        upsampling as in the VGG-mirror decoder: (B, 3, H, W)

The layers, paddings (reflection everywhere), LeakyReLU slope (0.01), pooling and eps follow the
reference code (``lib/adaconv/*.py``, ``lib/vgg.py``); importing its ``model.ckpt``
(``stylekernel weights import adaconv``) gives its output. Two choices extend it to any style
size: the style encoder's average pools round up and an adaptive average pool brings the map to
``style_grid`` x ``style_grid`` before the FC layer (the identity for the peer's 256 px style
images, whose relu4_1 map pools to 4 x 4; the peer accepts no other size), and reflection
padding falls back to replication on maps too small to reflect.

Split into the suite's stages: ``transform`` is the identity on the content features (AdaConv
has no stylized feature map: the style enters through the decoder's kernels); its state, from the
style alone, is the four stages' predicted kernels (``style_state``, computed once per style by
the inference engine), kept by ``transform_global`` for the next ``decode``. So
``decode(transform(fc, fs))`` is the model. Blending several styles in feature space is refused
(one line) because the decoder is conditioned on one style. The predicted convolutions run as one
grouped ``F.conv2d`` per layer by folding the batch into the channel dimension
(:func:`batched_group_conv2d`).

**alpha.** The peer has no content/style trade-off for AdaConv (``lib/adaconv``; its ``--alpha``
belongs to its AdaIN model), and the suite's alpha, a blend of the transform's output with the
content code, would blend the content features with themselves. ``alpha != 1`` is therefore
refused with one line (:meth:`AdaConvNet.check_alpha`, called by the engine before any work).

**Tiles.** Every layer after the encoder is local (k x k predicted convs, 3x3 convs, nearest
upsampling) except each stage's instance norm, whose mean/std are those of the whole map
entering the stage. ``decode_tiled`` (used by ``stylekernel.tiling.tiled_decode``) therefore
runs five tiled passes: pass i decodes every tile up to stage i's norm and combines the tiles'
statistics, the last decodes with all four; each pass's halo is computed from the layers it runs
(``AdaConvDecoder.local_layers``). The result equals the one-pass decode (float32 rounding aside),
in memory bounded by a tile, for about 2.5x the decoder's arithmetic of one pass.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stylekernel.baselines.registry import register_model
from stylekernel.errors import ConfigError, check
from stylekernel.nn.base import StyleTransferNet
from stylekernel.nn.functional import mvn

CHANNELS = 512
PaddingMode = Literal["reflect", "replicate", "zeros"]
# (in, out, static convs after the AdaConv block, upsample after) of the four decoder stages.
STAGES: tuple[tuple[int, int, int, bool], ...] = ((512, 256, 0, True), (256, 128, 3, True), (128, 64, 1, True), (64, 3, 1, False))
PEER_GROUPS: tuple[int, ...] = (512, 128, 32, 8)  # in_channels // (1, 2, 4, 8)
Kernels = tuple[Tensor, Tensor, Tensor]  # spatial (B, C, C/G, k, k), pointwise (B, C, C/G, 1, 1), bias (B, C)
Stats = tuple[Tensor, Tensor]  # mean, std (B, C, 1, 1)


def pad2d(x: Tensor, pad_h: int, pad_w: int, mode: PaddingMode = "reflect") -> Tensor:
    """Pad (B, C, H, W) by (pad_h, pad_w) on each side; reflection falls back to replication on
    maps too small to reflect (H <= pad_h or W <= pad_w)."""
    if pad_h == 0 and pad_w == 0:
        return x
    pads = (pad_w, pad_w, pad_h, pad_h)
    if mode == "zeros":
        return F.pad(x, pads)
    if mode == "reflect" and (x.shape[-2] <= pad_h or x.shape[-1] <= pad_w):
        mode = "replicate"
    return F.pad(x, pads, mode=mode)


class ReflectConv2d(nn.Conv2d):
    """k x k 'same' convolution with reflection padding (``padding_mode='reflect'``), falling back
    to replication on maps too small to reflect. Same parameters as ``nn.Conv2d``."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3) -> None:
        super().__init__(cin, cout, kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        k = self.kernel_size[0]
        return super().forward(pad2d(x, k // 2, k // 2, "reflect"))


def batched_group_conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Optional[Tensor] = None,
    *,
    groups: int,
    padding_mode: PaddingMode = "reflect",
) -> Tensor:
    """Grouped 'same' convolution with different kernels for every sample of the batch.

    x: (B, C_in, H, W); weight: (B, C_out, C_in / groups, kh, kw) with kh, kw odd; bias:
    (B, C_out) or None -> (B, C_out, H, W). Equivalent to
    ``F.conv2d(pad(x[i]), weight[i], bias[i], groups=groups)`` for every i, computed in one call
    by folding the batch into the channels (groups = B * groups).
    """
    b, c_in, h, w = x.shape
    if weight.dim() != 5 or weight.shape[0] != b:
        raise ValueError(f"batched_group_conv2d: weight must be (B, C_out, C_in/groups, kh, kw), got {tuple(weight.shape)}")
    _, c_out, c_per_group, kh, kw = weight.shape
    if c_in % groups or c_out % groups or c_per_group * groups != c_in or kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(
            f"batched_group_conv2d: x {tuple(x.shape)}, weight {tuple(weight.shape)} and groups={groups} do not match"
        )
    xp = pad2d(x, kh // 2, kw // 2, padding_mode)
    y = F.conv2d(
        xp.reshape(1, b * c_in, *xp.shape[-2:]),
        weight.reshape(b * c_out, c_per_group, kh, kw),
        None if bias is None else bias.reshape(b * c_out),
        groups=b * groups,
    )
    return y.view(b, c_out, h, w)


class GlobalStyleEncoder(nn.Module):
    """Style features (B, C, h, w), any h, w >= 1 -> style descriptor W (B, S_d, k, k).

    ``num_blocks`` x [3x3 conv (reflection padding), LeakyReLU(0.01), 2x2 average pool (rounding
    up)], an adaptive average pool to ``grid_size`` x ``grid_size``, a fully connected layer.

    Args:
        in_channels: C of the style features.
        style_channels: S_d, channels of the descriptor.
        kernel_size: k, the descriptor's spatial size (that of the predicted kernels).
        grid_size: side of the map the FC layer reads (4: the peer's 256 px style at relu4_1).
        num_blocks: conv + LeakyReLU + average-pool blocks before the FC layer.
    """

    def __init__(self, in_channels: int = CHANNELS, style_channels: int = CHANNELS, kernel_size: int = 3, grid_size: int = 4, num_blocks: int = 3) -> None:
        super().__init__()
        self.style_channels, self.kernel_size = style_channels, kernel_size
        self.convs = nn.ModuleList(ReflectConv2d(in_channels, in_channels, 3) for _ in range(num_blocks))
        self.grid = nn.AdaptiveAvgPool2d(grid_size)
        self.fc = nn.Linear(in_channels * grid_size * grid_size, style_channels * kernel_size * kernel_size)

    def forward(self, zs: Tensor) -> Tensor:
        x = zs
        for conv in self.convs:
            x = F.avg_pool2d(F.leaky_relu(conv(x), 0.01), 2, ceil_mode=True)
        x = self.grid(x).flatten(1)
        return self.fc(x).view(len(zs), self.style_channels, self.kernel_size, self.kernel_size)


class KernelPredictor(nn.Module):
    """Style descriptor W (B, S_d, k, k) -> spatial (B, C, C/G, k, k), pointwise (B, C, C/G, 1, 1),
    bias (B, C): a k x k conv of W (reflection padding) and 1x1 convs of W averaged over space.

    Args:
        channels: C, the width of the features the kernels are applied to.
        groups: G, groups of both predicted convolutions (G = C: depthwise).
        style_channels: S_d of the descriptor.
        kernel_size: k of the spatial kernels.
    """

    def __init__(self, channels: int = CHANNELS, groups: int = CHANNELS, style_channels: int = CHANNELS, kernel_size: int = 3) -> None:
        super().__init__()
        self.channels, self.groups, self.kernel_size = channels, groups, kernel_size
        per_group = channels // groups
        self.spatial = ReflectConv2d(style_channels, channels * per_group, kernel_size)
        self.pointwise = nn.Conv2d(style_channels, channels * per_group, 1)
        self.bias = nn.Conv2d(style_channels, channels, 1)

    def forward(self, w: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        b, k, c, per_group = len(w), self.kernel_size, self.channels, self.channels // self.groups
        spatial = self.spatial(w).view(b, c, per_group, k, k)
        pooled = w.mean(dim=(2, 3), keepdim=True)
        pointwise = self.pointwise(pooled).view(b, c, per_group, 1, 1)
        return spatial, pointwise, self.bias(pooled).view(b, c)


class AdaConv2d(nn.Module):
    """Instance norm, predicted grouped k x k conv, predicted grouped 1x1 conv + bias, static 3x3
    conv (reflection padding): (B, C_in, H, W) -> (B, C_out, H, W).

    The instance norm is ``F.instance_norm``'s (biased variance, eps 1e-5 under the root).
    """

    def __init__(self, in_channels: int, out_channels: int, groups: int) -> None:
        super().__init__()
        self.groups = groups
        self.conv = ReflectConv2d(in_channels, out_channels, 3)

    def forward(self, x: Tensor, spatial: Tensor, pointwise: Tensor, bias: Tensor, stats: Optional[Stats] = None) -> Tensor:
        """``stats``: the (mean, std) (B, C_in, 1, 1) of the whole map ``x`` is a tile of (tiled
        decoding), or None to compute them from ``x``."""
        if stats is None:
            y = mvn(x, unbiased=False).to(spatial.dtype)
        else:
            with torch.autocast(device_type=x.device.type, enabled=False):
                y = (((x if x.dtype == torch.float64 else x.float()) - stats[0]) / stats[1]).to(spatial.dtype)
        y = batched_group_conv2d(y, spatial, None, groups=self.groups, padding_mode="reflect")
        y = batched_group_conv2d(y, pointwise, bias, groups=self.groups)
        return self.conv(y.to(x.dtype))


class AdaConvDecoder(nn.Module):
    """The VGG-mirror decoder with the first conv of each of its four stages replaced by a
    kernel-predicted AdaConv block; ``layers`` is the reference code's flat layer list.

    forward(z: (B, 512, h, w), w: (B, S_d, k, k)) -> (B, 3, 8h, 8w).
    """

    def __init__(self, style_channels: int = CHANNELS, kernel_size: int = 3, groups: Sequence[int] = PEER_GROUPS) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for (cin, cout, n_static, upsample), g in zip(STAGES, groups):
            last = n_static == 0
            layers += [KernelPredictor(cin, g, style_channels, kernel_size), AdaConv2d(cin, cout if last else cin, g)]
            for i in range(n_static):
                layers += [nn.ReLU(), ReflectConv2d(cin, cout if i == n_static - 1 else cin, 3)]
            if upsample:
                layers += [nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest")]
        self.layers = nn.ModuleList(layers)

    def predict(self, w: Tensor) -> list[Kernels]:
        """Style descriptor W (B, S_d, k, k) -> each stage's (spatial, pointwise, bias) kernels."""
        return [layer(w) for layer in self.layers if isinstance(layer, KernelPredictor)]

    def run(self, z: Tensor, kernels: Sequence[Kernels], *, stats: Optional[Sequence[Stats]] = None, upto: Optional[int] = None) -> Tensor:
        """The decoder with predicted ``kernels`` (:meth:`predict`): z (B, 512, h, w) -> (B, 3, 8h, 8w).

        ``stats[i]``: the whole-map (mean, std) of stage i's input when z is a tile (None: each
        instance norm uses its own input's). ``upto = i`` stops before stage i's AdaConv block and
        returns its input, (B, C_i, 2^i h, 2^i w) (stats of stages < i suffice).
        """
        stage = 0
        for layer in self.layers:
            if isinstance(layer, KernelPredictor):
                continue
            if isinstance(layer, AdaConv2d):
                if stage == upto:
                    return z
                z = layer(z, *kernels[stage], stats=None if stats is None else stats[stage])
                stage += 1
            else:
                z = layer(z)
        return z

    def local_layers(self, upto: Optional[int] = None) -> list[nn.Module]:
        """Stand-ins with the spatial footprint of :meth:`run`'s layers up to stage ``upto`` (all
        if None), for :func:`stylekernel.tiling.halo`: a k x k zero-padded conv per reflection-
        padded or predicted conv (instance norms with the whole map's statistics are pointwise)."""
        out: list[nn.Module] = []
        stage = 0
        for layer in self.layers:
            if isinstance(layer, KernelPredictor):
                k = layer.kernel_size
            elif isinstance(layer, AdaConv2d):
                if stage == upto:
                    break
                out += [nn.Conv2d(1, 1, k, padding=k // 2), nn.Conv2d(1, 1, 3, padding=1)]
                stage += 1
            elif isinstance(layer, ReflectConv2d):
                out.append(nn.Conv2d(1, 1, layer.kernel_size, padding=layer.kernel_size[0] // 2))
            else:
                out.append(layer)
        return out

    def forward(self, z: Tensor, w: Tensor) -> Tensor:
        return self.run(z, self.predict(w))


@register_model("adaconv")
class AdaConvNet(StyleTransferNet):
    """AdaConv: a style descriptor predicts the kernels of four decoder stages.

    Args:
        encoder_weights: VGG19 source: torchvision | vgg_normalised | random | auto | a file path.
        kernel_size: k of the predicted spatial kernels (positive, odd).
        groups: groups of the predicted convolutions per decoder stage (null: the peer's
            512, 128, 32, 8; each must divide its stage's 512, 256, 128, 64 channels).
        style_channels: S_d, channels of the style descriptor.
        style_grid: side of the pooled style map the style encoder's FC layer reads.
        style_encoder_blocks: conv + pool blocks of the style encoder before the FC layer.
        encoder_padding: auto | reflect | zeros (reflect: the peer's torchvision VGG19 with
            reflection padding; our network uses auto = zeros for torchvision).
        ceil_mode: the encoder's max pooling rounds sizes up (False, as the peer's).
        encoder_last_layer: relu5_1 (the suite's losses read it) or relu4_1 (the peer's encoder
            ends there; its checkpoint has no conv5_1).
    """

    def __init__(
        self,
        encoder_weights: str = "torchvision",
        kernel_size: int = 3,
        groups: Optional[list[int]] = None,
        style_channels: int = CHANNELS,
        style_grid: int = 4,
        style_encoder_blocks: int = 3,
        encoder_padding: str = "reflect",
        ceil_mode: bool = False,
        encoder_last_layer: str = "relu5_1",
    ) -> None:
        super().__init__()
        stage_groups = list(PEER_GROUPS if groups is None else groups)
        check(isinstance(kernel_size, int) and kernel_size >= 1 and kernel_size % 2 == 1, f"kernel_size must be a positive odd integer, got {kernel_size!r}")
        check(
            len(stage_groups) == len(STAGES)
            and all(isinstance(g, int) and g >= 1 and cin % g == 0 for g, (cin, *_) in zip(stage_groups, STAGES)),
            f"groups must be 4 positive divisors of 512, 256, 128, 64 (or null), got {groups!r}",
        )
        check(isinstance(style_channels, int) and style_channels >= 1, f"style_channels must be >= 1, got {style_channels!r}")
        check(isinstance(style_grid, int) and style_grid >= 1, f"style_grid must be >= 1, got {style_grid!r}")
        check(isinstance(style_encoder_blocks, int) and style_encoder_blocks >= 0, f"style_encoder_blocks must be >= 0, got {style_encoder_blocks!r}")
        check(encoder_last_layer in ("relu4_1", "relu5_1"), f"encoder_last_layer must be relu4_1 or relu5_1, got {encoder_last_layer!r}")
        self.style_encoder = GlobalStyleEncoder(CHANNELS, style_channels, kernel_size, style_grid, style_encoder_blocks)
        self.build_encoder_decoder(encoder_weights, padding_mode=encoder_padding, ceil_mode=ceil_mode, last_layer=encoder_last_layer, decoder=False)
        self.decoder = AdaConvDecoder(style_channels, kernel_size, stage_groups)  # type: ignore[assignment]
        self._kernels: Optional[list[Kernels]] = None
        self._codes_since_decode = 0

    # --- the tiling hook: the transform is the identity (halo 0); the style's kernels are its state
    transform_halo = 0

    def style_state(self, style: dict[str, Tensor]) -> list[Kernels]:
        """relu4_1 of the style (B, 512, h', w') -> the four stages' predicted kernels (the style
        descriptor W through each stage's KernelPredictor): all the decoder needs from the style."""
        return self.decoder.predict(self.style_encoder(style["relu4_1"]))

    def transform_global(self, content: dict[str, Tensor], style_state: list[Kernels]) -> dict[str, Any]:
        """Keeps the style's kernels for the next :meth:`decode` (once per style)."""
        self._kernels = style_state
        self._codes_since_decode += 1
        return {"style": style_state}

    def transform_local(self, content: dict[str, Tensor], state: dict[str, Any]) -> Tensor:
        """relu4_1 of a content tile (B, 512, h, w) -> itself: the style enters in the decoder."""
        return content["relu4_1"]

    def check_alpha(self, alpha: float) -> None:
        """alpha != 1 is refused (see the module docstring)."""
        if alpha != 1.0:
            raise ConfigError(
                f"AdaConv has no content/style trade-off: alpha={alpha} is not supported (its style enters "
                "through the decoder's kernels, so a feature-space blend changes nothing); use alpha 1"
            )

    def _decode_kernels(self, z: Tensor) -> list[Kernels]:
        kernels = self._kernels
        if kernels is None:
            raise ConfigError("AdaConvNet.decode needs a style: call transform(content, style) first")
        if self._codes_since_decode > 1:
            self._codes_since_decode = 0
            raise ConfigError("AdaConv conditions its decoder on one style image: style blends and masks are not supported")
        if len(kernels[0][0]) != len(z):
            raise ConfigError(f"AdaConvNet.decode: {len(z)} feature maps but the last transform had {len(kernels[0][0])} styles")
        self._codes_since_decode = 0
        return kernels

    def decode(self, z: Tensor) -> Tensor:
        """(B, 512, h, w) -> (B, 3, 8h, 8w) with the kernels of the last ``transform``'s style."""
        return self.decoder.run(z, self._decode_kernels(z))

    def decode_tiled(self, z: Tensor, *, tile_size: int) -> Tensor:
        """:meth:`decode` in overlapping tiles of ``tile_size`` output pixels, exact (called by
        :func:`stylekernel.tiling.tiled_decode`): each stage's instance norm gets the whole map's
        statistics from a tiled pass over the stages before it
        (:func:`stylekernel.tiling.tiled_normalized_decode`)."""
        from stylekernel.tiling import halo, tiled_normalized_decode

        kernels = self._decode_kernels(z)
        n = len(kernels)
        return tiled_normalized_decode(
            lambda tile, stats, upto: self.decoder.run(tile, kernels, stats=stats, upto=None if upto == n else upto),
            z,
            norms=n,
            halos=[halo(self.decoder.local_layers(upto=i)) for i in range(n)] + [halo(self.decoder.local_layers())],
            tile_size=tile_size,
        )
