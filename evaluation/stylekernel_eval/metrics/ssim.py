"""SSIM between each stylized image and its content image (``piq.ssim``, per pair).

Defaults are piq's (Gaussian window 11, sigma 1.5, data range 1, ``downsample=True``: images
larger than 256 on the shorter side are average-pooled first, as in the reference MATLAB code).
SSIM is computed per RGB channel and averaged over channels, as piq does.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from stylekernel_eval.metrics._base import PerPairMetric


def ssim_scores(stylized: Tensor, content: Tensor, *, kernel_size: int = 11, downsample: bool = True) -> Tensor:
    """SSIM per pair: (B, 3, H, W) in [0, 1] each -> (B,) float32."""
    import piq

    with torch.no_grad(), torch.autocast(device_type=stylized.device.type, enabled=False):
        x = stylized.float().clamp(0, 1)
        y = content.float().clamp(0, 1)
        return piq.ssim(x, y, kernel_size=kernel_size, data_range=1.0, reduction="none", downsample=downsample)


class SSIM(PerPairMetric):
    """Mean SSIM between stylized and content images; ``update(stylized, content)``."""

    score_names: ClassVar[tuple[str, ...]] = ("ssim",)
    higher_is_better: ClassVar[bool | None] = True

    def __init__(self, kernel_size: int = 11, downsample: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kernel_size = kernel_size
        self.downsample = downsample

    def scores(self, stylized: Tensor, content: Tensor) -> dict[str, Tensor]:
        """(B, 3, H, W) pairs -> {"ssim": (B,)}."""
        return {"ssim": ssim_scores(stylized, content, kernel_size=self.kernel_size, downsample=self.downsample)}
