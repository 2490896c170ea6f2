"""Feature statistics shared by the network, the losses and the baselines.

Statistics are computed in float32 or wider (outside autocast), whatever the input dtype,
because a standard deviation computed in bf16/fp16 loses most of its digits; float64 inputs
stay float64 (the peer-equivalence tests run in float64).

Two variance conventions exist in this family, and both are here:

* ``unbiased=False`` (the default, the style-kernel network's): the biased variance
  ``mean((x - mu)^2)``, as ``F.instance_norm`` computes it (AdaConv's reference code uses that);
* ``unbiased=True``: the unbiased variance ``sum((x - mu)^2) / (N - 1)``, the one AdaIN, SANet
  and AdaAttN compute (``feat.view(N, C, -1).var(dim=2) + eps``, then ``sqrt``).

In both, ``eps`` is added to the variance before the square root.
"""

from __future__ import annotations

import torch
from torch import Tensor

EPS = 1e-5


def _wide(x: Tensor) -> Tensor:
    """x in float32, or float64 if it already is (never narrower than float32)."""
    return x if x.dtype == torch.float64 else x.float()


def mean_std(x: Tensor, eps: float = EPS, unbiased: bool = False) -> tuple[Tensor, Tensor]:
    """Per-instance, per-channel mean and std over space, in float32 (float64 stays float64).

    x: (B, C, H, W) -> mean, std: (B, C, 1, 1). ``std = sqrt(var + eps)`` with the biased
    variance by default, the unbiased one (AdaIN, SANet, AdaAttN) with ``unbiased=True``.
    """
    with torch.autocast(device_type=x.device.type, enabled=False):
        var, mean = torch.var_mean(_wide(x), dim=(2, 3), keepdim=True, correction=1 if unbiased else 0)
        return mean, (var + eps).sqrt()


def mvn(x: Tensor, eps: float = EPS, unbiased: bool = False) -> Tensor:
    """Mean-variance normalisation per instance and channel; (B, C, H, W) -> (B, C, H, W) float32
    (float64 stays float64); ``unbiased`` as in :func:`mean_std`."""
    return mvn_with_stats(x, mean_std(x, eps, unbiased))


def mvn_with_stats(x: Tensor, stats: tuple[Tensor, Tensor]) -> Tensor:
    """(x - mean) / std with given ``stats`` = (mean, std) (B, C, 1, 1), e.g. a whole map's for one
    of its tiles; x (B, C, H, W) -> float32 (float64 stays float64), outside autocast."""
    mean, std = stats
    with torch.autocast(device_type=x.device.type, enabled=False):
        return (_wide(x) - mean) / std


def adain(content: Tensor, style: Tensor, eps: float = EPS, unbiased: bool = False) -> Tensor:
    """Adaptive instance normalisation: content's normalised features with style's mean/std.

    content: (B, C, H, W), style: (B, C, H', W') -> (B, C, H, W) float32 (float64 stays
    float64); ``unbiased`` as in :func:`mean_std` (AdaIN's own code: True).
    """
    s_mean, s_std = mean_std(style, eps, unbiased)
    with torch.autocast(device_type=content.device.type, enabled=False):
        return mvn(content, eps, unbiased) * s_std + s_mean
