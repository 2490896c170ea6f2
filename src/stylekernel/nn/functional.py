"""Feature statistics shared by the network, the losses and the baselines.

Statistics are always computed in float32 (outside autocast), whatever the input dtype, because
a standard deviation computed in bf16/fp16 loses most of its digits.
"""

from __future__ import annotations

import torch
from torch import Tensor

EPS = 1e-5


def mean_std(x: Tensor, eps: float = EPS) -> tuple[Tensor, Tensor]:
    """Per-instance, per-channel mean and std over space, in float32.

    x: (B, C, H, W) -> mean, std: (B, C, 1, 1) float32. ``std = sqrt(var + eps)`` with the
    biased variance (the convention of AdaIN and its successors).
    """
    with torch.autocast(device_type=x.device.type, enabled=False):
        xf = x.float()
        var, mean = torch.var_mean(xf, dim=(2, 3), keepdim=True, correction=0)
        return mean, (var + eps).sqrt()


def mvn(x: Tensor, eps: float = EPS) -> Tensor:
    """Mean-variance normalisation per instance and channel; (B, C, H, W) -> (B, C, H, W) float32."""
    mean, std = mean_std(x, eps)
    with torch.autocast(device_type=x.device.type, enabled=False):
        return (x.float() - mean) / std


def adain(content: Tensor, style: Tensor, eps: float = EPS) -> Tensor:
    """Adaptive instance normalisation: content's normalised features with style's mean/std.

    content: (B, C, H, W), style: (B, C, H', W') -> (B, C, H, W) float32.
    """
    s_mean, s_std = mean_std(style, eps)
    with torch.autocast(device_type=content.device.type, enabled=False):
        return mvn(content, eps) * s_std + s_mean
