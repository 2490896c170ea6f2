"""Registry of every style-transfer network of the suite (ours and the baselines).

``MODELS`` maps a short name to the network class; tests parametrise over it, so a model is
tested the moment it is registered here. In YAML a model is its ``class_path`` (see
``configs/model/``); ``build`` serves scripts and benchmarks.
"""

from __future__ import annotations

from typing import Any, Callable

from stylekernel.baselines.adaattn import AdaAttN
from stylekernel.baselines.adaconv import AdaConvNet
from stylekernel.baselines.adain import AdaINNet
from stylekernel.baselines.sanet import SANet
from stylekernel.baselines.stytr2 import StyTr2
from stylekernel.errors import check
from stylekernel.nn.base import StyleTransferNet
from stylekernel.nn.style_kernel_net import StyleKernelNet

MODELS: dict[str, Callable[..., StyleTransferNet]] = {
    "stylekernel": StyleKernelNet,
    "adain": AdaINNet,
    "sanet": SANet,
    "adaattn": AdaAttN,
    "adaconv": AdaConvNet,
    "stytr2": StyTr2,
}


def build(name: str, **kwargs: Any) -> StyleTransferNet:
    """Build the registered network ``name`` with constructor arguments ``kwargs``.

    Raises ConfigError for an unknown name; the constructor raises it for bad arguments.
    """
    check(name in MODELS, f"model must be one of {sorted(MODELS)}, got {name!r}")
    return MODELS[name](**kwargs)


__all__ = ["MODELS", "build"]
