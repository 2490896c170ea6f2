"""Baselines trained and evaluated in the same framework as ours (same encoder, decoder, losses
and LightningModule), one file each, registered by ``@register_model`` (``registry.models()``,
also ``registry.MODELS``, lists every network by name).

Nothing heavy happens at import time; the classes are imported lazily.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "AdaINNet": "stylekernel.baselines.adain",
    "SANet": "stylekernel.baselines.sanet",
    "AdaAttN": "stylekernel.baselines.adaattn",
    "AdaConvNet": "stylekernel.baselines.adaconv",
    "StyTr2": "stylekernel.baselines.stytr2",
    "MODELS": "stylekernel.baselines.registry",
    "build": "stylekernel.baselines.registry",
    "models": "stylekernel.baselines.registry",
    "register_model": "stylekernel.baselines.registry",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'stylekernel.baselines' has no attribute {name!r}")


__all__ = list(_LAZY)
