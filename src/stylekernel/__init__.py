"""stylekernel: dynamic style kernels for artistic style transfer (Xu, Long, Nie, CVPR 2023).

Nothing heavy happens at import time; submodules are imported lazily.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "StyleKernelNet": "stylekernel.nn.style_kernel_net",
    "StyleTransferModule": "stylekernel.module",
    "Stylizer": "stylekernel.inference",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'stylekernel' has no attribute {name!r}")


__all__ = ["__version__", *_LAZY]
