"""Colour preservation: keep the content image's colours while transferring the style's texture.

Two methods (Gatys, Bethge, Hertzmann, Shechtman, "Preserving Color in Neural Artistic Style
Transfer", 2016):

* ``"luminance"`` (luminance-only transfer, applied *after* stylization): the output keeps the
  stylized image's luma Y and takes the chroma (Cb, Cr) of the content image (ITU-R BT.601
  full-range YCbCr, the JPEG convention). Brush strokes and light/dark structure come from the
  style; hues come from the content.
* ``"histogram"`` (colour-histogram matching, applied to the *style* image before stylization):
  the style image's RGB distribution is linearly mapped so that its mean and 3x3 covariance
  equal the content's (x' = A (x - mu_s) + mu_c with A = Sigma_c^(1/2) Sigma_s^(-1/2), symmetric
  matrix square roots), then clamped to [0, 1]. The network then only sees content colours.

All functions take and return float tensors in [0, 1], (3, H, W) or (B, 3, H, W).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

ColorMode = Literal["none", "luminance", "histogram"]
COLOR_MODES: tuple[str, ...] = ("none", "luminance", "histogram")

# BT.601 full range (JPEG): Y, Cb, Cr from R, G, B in [0, 1]; chroma offset 0.5.
_RGB_TO_YCBCR = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=torch.float64
)
_CHROMA_OFFSET = torch.tensor([0.0, 0.5, 0.5], dtype=torch.float64)


def _apply_matrix(m: Tensor, x: Tensor) -> Tensor:
    """(3, 3) matrix times every pixel of x: (..., 3, H, W) -> (..., 3, H, W)."""
    return torch.einsum("ij,...jhw->...ihw", m.to(x.dtype), x)


def rgb_to_ycbcr(rgb: Tensor) -> Tensor:
    """(..., 3, H, W) RGB in [0, 1] -> YCbCr (BT.601 full range, chroma centred at 0.5)."""
    return _apply_matrix(_RGB_TO_YCBCR, rgb) + _CHROMA_OFFSET.to(rgb.dtype).view(3, 1, 1)


def ycbcr_to_rgb(ycbcr: Tensor) -> Tensor:
    """Inverse of :func:`rgb_to_ycbcr` (not clamped)."""
    inv = torch.linalg.inv(_RGB_TO_YCBCR)
    return _apply_matrix(inv, ycbcr - _CHROMA_OFFSET.to(ycbcr.dtype).view(3, 1, 1))


def preserve_luminance(stylized: Tensor, content: Tensor) -> Tensor:
    """Luminance-only transfer: Y of ``stylized`` with Cb, Cr of ``content``, clamped to [0, 1].

    stylized, content: (..., 3, H, W) of the same shape -> (..., 3, H, W).
    """
    if stylized.shape != content.shape:
        raise ValueError(f"preserve_luminance: shapes differ {tuple(stylized.shape)} vs {tuple(content.shape)}")
    y = rgb_to_ycbcr(stylized.float())[..., :1, :, :]
    cbcr = rgb_to_ycbcr(content.float())[..., 1:, :, :]
    return ycbcr_to_rgb(torch.cat([y, cbcr], dim=-3)).clamp(0, 1).to(stylized.dtype)


def _sym_power(cov: Tensor, power: float, eps: float) -> Tensor:
    """Symmetric matrix power of a (3, 3) covariance via its eigendecomposition (float64)."""
    vals, vecs = torch.linalg.eigh(cov)
    return vecs @ torch.diag(vals.clamp_min(eps) ** power) @ vecs.T


def match_color_histogram(source: Tensor, target: Tensor, eps: float = 1e-5) -> Tensor:
    """Map ``source``'s colours so their mean and covariance match ``target``'s (then clamp).

    source: (3, H, W) or (1, 3, H, W), target: (3, H', W') or (1, 3, H', W') -> like ``source``.
    Statistics are float64; ``eps`` regularises flat (e.g. grayscale) images, whose covariance
    is singular.
    """
    squeeze = source.dim() == 3
    src = source.reshape(3, -1).double() if squeeze else source[0].reshape(3, -1).double()
    tgt = target.reshape(3, -1).double() if target.dim() == 3 else target[0].reshape(3, -1).double()
    mu_s, mu_t = src.mean(1, keepdim=True), tgt.mean(1, keepdim=True)
    cov_s = torch.cov(src, correction=0) + eps * torch.eye(3, dtype=torch.float64)
    cov_t = torch.cov(tgt, correction=0) + eps * torch.eye(3, dtype=torch.float64)
    a = _sym_power(cov_t, 0.5, eps) @ _sym_power(cov_s, -0.5, eps)
    out = (a @ (src - mu_s) + mu_t).clamp(0, 1).to(source.dtype).reshape(source.shape)
    return out


__all__ = ["COLOR_MODES", "ColorMode", "match_color_histogram", "preserve_luminance", "rgb_to_ycbcr", "ycbcr_to_rgb"]
