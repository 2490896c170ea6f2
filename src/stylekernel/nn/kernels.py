"""Style kernel generation: the aligned feature Zcs -> per-pixel kernels and biases.

Zcs (B, C, H, W) -> conv3x3 -> ReLU -> conv1x1 -> G * k * k kernel taps + C biases per pixel.
Kernels start near the identity (the centre tap's output bias is 1, the other taps' 0, weights
small), so an untrained network passes the normalised content through and learns the style
modulation from there. ``kernel_norm="softmax"`` turns each pixel's k*k taps into a convex
combination (a smoothing kernel); ``"none"`` leaves them free.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from stylekernel.errors import check

KernelNorm = Literal["none", "softmax"]


class StyleKernelGenerator(nn.Module):
    """forward(zcs: (B, C, H, W)) -> kernels (B, G, k*k, H, W), bias (B, C, H, W)."""

    def __init__(
        self,
        channels: int = 512,
        groups: int = 64,
        kernel_size: int = 3,
        hidden_channels: int = 256,
        kernel_norm: KernelNorm = "none",
    ) -> None:
        super().__init__()
        check(kernel_size >= 1 and kernel_size % 2 == 1, f"kernel_size must be a positive odd integer, got {kernel_size}")
        check(groups >= 1 and channels % groups == 0, f"groups ({groups}) must be >= 1 and divide channels ({channels})")
        check(hidden_channels >= 1, f"kernel_hidden_channels must be >= 1, got {hidden_channels}")
        check(kernel_norm in ("none", "softmax"), f"kernel_norm must be 'none' or 'softmax', got {kernel_norm!r}")
        self.channels, self.groups, self.kernel_size, self.kernel_norm = channels, groups, kernel_size, kernel_norm
        taps = kernel_size * kernel_size
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, hidden_channels, 3), nn.ReLU(),
        )  # fmt: skip
        self.to_kernels = nn.Conv2d(hidden_channels, groups * taps, 1)
        self.to_bias = nn.Conv2d(hidden_channels, channels, 1)
        with torch.no_grad():
            self.to_kernels.weight.mul_(0.1)
            centre = torch.zeros(groups, taps)
            centre[:, taps // 2] = 1.0 if kernel_norm == "none" else 4.0  # softmax: centre-heavy start
            self.to_kernels.bias.copy_(centre.flatten())

    def forward(self, zcs: Tensor) -> tuple[Tensor, Tensor]:
        b, _, h, w = zcs.shape
        hidden = self.body(zcs)
        kernels = self.to_kernels(hidden).view(b, self.groups, self.kernel_size**2, h, w)
        if self.kernel_norm == "softmax":
            kernels = torch.softmax(kernels.float(), dim=2).to(hidden.dtype)
        return kernels, self.to_bias(hidden)
