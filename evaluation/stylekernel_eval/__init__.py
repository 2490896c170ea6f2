"""stylekernel_eval: the evaluation protocol of artistic style transfer, explicit and exact.

Metrics (``metrics/``, torchmetrics classes with float64 sums reduced across processes): LPIPS,
FID and ArtFID (art-trained Inception-v3), content/style loss (the training losses), SSIM;
``timing.py`` (ms per image, images/s, peak memory); ``runner.py`` (the pipeline: ``plan.py``
which pairs and checks, ``scoring.py`` stylize or read and score, ``provenance.py`` what the
summary says about how; then report); ``protocol.py`` (the config and presets); ``report.py`` (CSV, JSON, Markdown);
``cli.py`` (``stylekernel evaluate``). Nothing heavy is imported at package import time.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "EvalConfig": "stylekernel_eval.protocol",
    "evaluate": "stylekernel_eval.runner",
    "benchmark": "stylekernel_eval.timing",
    "LPIPS": "stylekernel_eval.metrics.lpips",
    "FID": "stylekernel_eval.metrics.fid",
    "ArtFID": "stylekernel_eval.metrics.artfid",
    "PerceptualLosses": "stylekernel_eval.metrics.perceptual_losses",
    "SSIM": "stylekernel_eval.metrics.ssim",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'stylekernel_eval' has no attribute {name!r}")


__all__ = list(_LAZY)
