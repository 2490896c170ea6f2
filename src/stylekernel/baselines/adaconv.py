"""AdaConv baseline: "Adaptive Convolutions for Structure-Aware Style Transfer" (Chandran et al.,
CVPR 2021).

    content, style (B, 3, H, W), (B, 3, H', W')
      -> VGGEncoder                 relu4_1: Zc (B, 512, H/8, W/8), Zs (B, 512, H'/8, W'/8)
      -> GlobalStyleEncoder(Zs)     style descriptor W: (B, S_d, k, k)
      -> KernelPredictor(W)         per style image (not per pixel):
                                    spatial kernels (B, 512, 512/G, k, k),
                                    pointwise kernels (B, 512, 512/G, 1, 1), bias (B, 512)
      -> AdaConv(mvn(Zc))           grouped k x k conv, then grouped 1x1 conv + bias, each
                                    sample with its own kernels: (B, 512, H/8, W/8)
      -> Decoder                    (B, 3, H, W)

No official code was released; this reconstruction follows the paper's description and the
public unofficial implementation (RElbers/ada-conv-pytorch), with these choices:

* Global style encoder: ``style_encoder_blocks`` x [3x3 conv (reflection pad), LeakyReLU(0.01),
  2x2 average pooling], then a fully connected layer to S_d x k x k. The paper's style image is
  always 256 px (relu4_1 32x32 -> 4x4 before the FC layer); to accept any style size, the pooling
  rounds up and an adaptive average pool brings the map to ``style_grid`` x ``style_grid`` before
  the FC layer (the identity for a 256 px style image).
* Kernel predictor: spatial kernels from a k x k conv on W (reflection pad); pointwise kernels
  and biases from linear layers on the spatially averaged W.
* The paper puts an AdaConv block at the start of each of the four decoder stages (512, 256, 128,
  64 channels, groups C, C/2, C/4, C/8 in the unofficial code). Here only the first one, at
  relu4_1 with 512 channels and ``groups`` = 512 (depthwise spatial kernels) by default, is kept,
  so that every method in the suite shares the same decoder and the comparison is about the
  feature transform. The AdaConv block's trailing static 3x3 conv + ReLU coincides with the shared
  decoder's first layer, so it is not duplicated here.
* The predicted convolutions run as one grouped ``F.conv2d`` per layer by folding the batch into
  the channel dimension (groups = B * G); see :func:`batched_group_conv2d`.
* The losses are the suite's (SANet's weights); the paper trains with AdaIN's content and style
  losses, and ``configs/model/adaconv.yaml`` sets those weights.
"""

from __future__ import annotations

from typing import Literal, Optional

import torch.nn.functional as F
from torch import Tensor, nn

from stylekernel.errors import check
from stylekernel.nn.base import StyleTransferNet
from stylekernel.nn.functional import mvn

CHANNELS = 512
PaddingMode = Literal["reflect", "replicate", "zeros"]


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

    Args:
        in_channels: C of the style features.
        style_channels: S_d, channels of the descriptor.
        kernel_size: k, the descriptor's spatial size (that of the predicted kernels).
        grid_size: side of the map the FC layer reads (4: the paper's 256 px style at relu4_1).
        num_blocks: conv + LeakyReLU + 2x2 average-pool blocks before the FC layer.
    """

    def __init__(
        self,
        in_channels: int = CHANNELS,
        style_channels: int = CHANNELS,
        kernel_size: int = 3,
        grid_size: int = 4,
        num_blocks: int = 3,
    ) -> None:
        super().__init__()
        self.style_channels, self.kernel_size = style_channels, kernel_size
        self.convs = nn.ModuleList(nn.Conv2d(in_channels, in_channels, 3) for _ in range(num_blocks))
        self.grid = nn.AdaptiveAvgPool2d(grid_size)
        self.fc = nn.Linear(in_channels * grid_size * grid_size, style_channels * kernel_size * kernel_size)

    def forward(self, zs: Tensor) -> Tensor:
        x = zs
        for conv in self.convs:
            x = F.avg_pool2d(F.leaky_relu(conv(pad2d(x, 1, 1, "reflect")), 0.01), 2, ceil_mode=True)
        x = self.grid(x).flatten(1)
        return self.fc(x).view(len(zs), self.style_channels, self.kernel_size, self.kernel_size)


class KernelPredictor(nn.Module):
    """Style descriptor W (B, S_d, k, k) -> spatial (B, C, C/G, k, k), pointwise (B, C, C/G, 1, 1),
    bias (B, C).

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
        self.spatial = nn.Conv2d(style_channels, channels * per_group, kernel_size, padding=kernel_size // 2, padding_mode="reflect")
        self.pointwise = nn.Linear(style_channels, channels * per_group)
        self.bias = nn.Linear(style_channels, channels)

    def forward(self, w: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        b, k, c, per_group = len(w), self.kernel_size, self.channels, self.channels // self.groups
        spatial = self.spatial(w).view(b, c, per_group, k, k)
        pooled = w.mean(dim=(2, 3))
        pointwise = self.pointwise(pooled).view(b, c, per_group, 1, 1)
        return spatial, pointwise, self.bias(pooled)


class AdaConvNet(StyleTransferNet):
    """Per-style predicted depthwise-separable convolution of mvn(relu4_1), then the decoder.

    Args:
        encoder_weights: VGG19 source: torchvision | vgg_normalised | random | auto | a file path.
        kernel_size: k of the predicted spatial kernels (positive, odd).
        groups: G of the predicted convolutions (must divide 512; 512 = depthwise, the paper's
            choice at this level).
        style_channels: S_d, channels of the style descriptor.
        style_grid: side of the pooled style map the style encoder's FC layer reads.
        style_encoder_blocks: conv + pool blocks of the style encoder before the FC layer.
        padding_mode: padding of the predicted spatial convolution: reflect | replicate | zeros.
    """

    def __init__(
        self,
        encoder_weights: str = "torchvision",
        kernel_size: int = 3,
        groups: int = CHANNELS,
        style_channels: int = CHANNELS,
        style_grid: int = 4,
        style_encoder_blocks: int = 3,
        padding_mode: PaddingMode = "reflect",
    ) -> None:
        super().__init__()
        check(isinstance(kernel_size, int) and kernel_size >= 1 and kernel_size % 2 == 1, f"kernel_size must be a positive odd integer, got {kernel_size!r}")
        check(isinstance(groups, int) and groups >= 1 and CHANNELS % groups == 0, f"groups must be a positive divisor of {CHANNELS}, got {groups!r}")
        check(isinstance(style_channels, int) and style_channels >= 1, f"style_channels must be >= 1, got {style_channels!r}")
        check(isinstance(style_grid, int) and style_grid >= 1, f"style_grid must be >= 1, got {style_grid!r}")
        check(isinstance(style_encoder_blocks, int) and style_encoder_blocks >= 0, f"style_encoder_blocks must be >= 0, got {style_encoder_blocks!r}")
        check(padding_mode in ("reflect", "replicate", "zeros"), f"padding_mode must be one of ('reflect', 'replicate', 'zeros'), got {padding_mode!r}")
        self.groups = groups
        self.padding_mode: PaddingMode = padding_mode
        self.style_encoder = GlobalStyleEncoder(CHANNELS, style_channels, kernel_size, style_grid, style_encoder_blocks)
        self.kernel_predictor = KernelPredictor(CHANNELS, groups, style_channels, kernel_size)
        self.build_encoder_decoder(encoder_weights)

    def transform(self, content: dict[str, Tensor], style: dict[str, Tensor]) -> Tensor:
        """relu4_1 of content (B, 512, h, w) and style (B, 512, h', w') -> (B, 512, h, w)."""
        zc = content["relu4_1"]
        spatial, pointwise, bias = self.kernel_predictor(self.style_encoder(style["relu4_1"]))
        x = mvn(zc).to(spatial.dtype)
        x = batched_group_conv2d(x, spatial, None, groups=self.groups, padding_mode=self.padding_mode)
        return batched_group_conv2d(x, pointwise, bias, groups=self.groups)
