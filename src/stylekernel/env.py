"""Boolean switches read from the environment, parsed one way everywhere.

A switch is on when its value is ``1``, ``true``, ``yes`` or ``on`` (any case, nothing else around
it), exactly as ``huggingface_hub`` and ``datasets`` read ``HF_HUB_OFFLINE`` / ``HF_DATASETS_OFFLINE``;
anything else (unset, empty, ``0``, ``false``, ``no``, ``off``) is off. So a variable that this
suite and a library both read (``HF_HUB_OFFLINE``) never means "offline" to one and "online" to
the other.
"""

from __future__ import annotations

import os

__all__ = ["TRUE_VALUES", "env_flag"]

TRUE_VALUES = frozenset({"1", "true", "yes", "on"})


def env_flag(*names: str) -> bool:
    """True when any of the environment variables ``names`` is set to a true value (see the module docstring)."""
    return any(os.environ.get(name, "").lower() in TRUE_VALUES for name in names)
