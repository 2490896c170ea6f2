"""Per-pixel dynamic convolution with group-shared kernels.

out[b, c, p] = sum_{d in k x k} K[b, g(c), d, p] * X[b, c, p + d] + bias[b, c, p]

where g(c) = c // (C / G): every channel of a group uses its group's kernel at that pixel
(involution-like). The memory-lean path loops over the k*k taps and accumulates shifted views
of the padded input into one accumulator in place, so it never materialises the
(B, C, k*k, H, W) unfolded tensor: peak extra memory is the padded input, the accumulator and
one product, whatever k is; autograd keeps only views of the padded input and the kernels.
"""

from __future__ import annotations

from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn

from stylekernel.errors import check

PaddingMode = Literal["zeros", "reflect", "replicate"]


def _pad(x: Tensor, k: int, padding_mode: PaddingMode) -> Tensor:
    r = k // 2
    if r == 0:
        return x
    if padding_mode == "zeros":
        return F.pad(x, (r, r, r, r))
    if padding_mode == "reflect" and min(x.shape[-2:]) <= r:
        # reflection needs more pixels than the padding; fall back to replicate on tiny maps
        return F.pad(x, (r, r, r, r), mode="replicate")
    return F.pad(x, (r, r, r, r), mode=padding_mode)


def dynamic_conv2d(
    x: Tensor,
    kernels: Tensor,
    bias: Tensor | None = None,
    *,
    padding_mode: PaddingMode = "zeros",
) -> Tensor:
    """Memory-lean per-pixel group convolution.

    x: (B, C, H, W); kernels: (B, G, k*k, H, W) with G dividing C and k odd; bias: (B, C, H, W)
    or None -> (B, C, H, W).
    """
    b, c, h, w = x.shape
    _, g, kk, kh, kw = kernels.shape
    k = int(round(kk**0.5))
    if k * k != kk or k % 2 == 0:
        raise ValueError(f"dynamic_conv2d: kernels must have k*k taps with k odd, got {kk}")
    if c % g != 0 or (kh, kw) != (h, w) or kernels.shape[0] != b:
        raise ValueError(f"dynamic_conv2d: x {tuple(x.shape)} and kernels {tuple(kernels.shape)} do not match")
    xp = _pad(x, k, padding_mode).view(b, g, c // g, h + k - 1, w + k - 1)
    out = x.new_zeros(b, g, c // g, h, w) if bias is None else bias.view(b, g, c // g, h, w).clone()
    for t in range(kk):
        dy, dx = divmod(t, k)
        out.addcmul_(kernels[:, :, t : t + 1], xp[:, :, :, dy : dy + h, dx : dx + w])
    return out.view(b, c, h, w)


def dynamic_conv2d_reference(
    x: Tensor,
    kernels: Tensor,
    bias: Tensor | None = None,
    *,
    padding_mode: PaddingMode = "zeros",
) -> Tensor:
    """Naive reference via ``F.unfold`` (materialises (B, C*k*k, H*W)); for tests only."""
    b, c, h, w = x.shape
    _, g, kk, _, _ = kernels.shape
    k = int(round(kk**0.5))
    cols = F.unfold(_pad(x, k, padding_mode), k).view(b, g, c // g, kk, h, w)
    out = (cols * kernels.unsqueeze(2)).sum(dim=3).reshape(b, c, h, w)
    return out if bias is None else out + bias


class DynamicConv(nn.Module):
    """Apply predicted per-pixel kernels to grouped content features, then a 1x1 conv.

    forward(x: (B, C, H, W), kernels: (B, G, k*k, H, W), bias: (B, C, H, W)) -> (B, C, H, W).
    """

    def __init__(self, channels: int = 512, padding_mode: PaddingMode = "zeros") -> None:
        super().__init__()
        check(channels >= 1, f"DynamicConv: channels must be >= 1, got {channels}")
        check(padding_mode in ("zeros", "reflect", "replicate"), f"DynamicConv: unknown padding_mode {padding_mode!r}")
        self.padding_mode: PaddingMode = padding_mode
        self.project = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor, kernels: Tensor, bias: Tensor) -> Tensor:
        y = dynamic_conv2d(x.to(kernels.dtype), kernels, bias.to(kernels.dtype), padding_mode=self.padding_mode)
        return self.project(y)


__all__ = ["DynamicConv", "dynamic_conv2d", "dynamic_conv2d_reference"]
