"""A WandbLogger that never hangs without network: offline unless an API key is configured.

Mode resolution: an explicit ``offline`` argument wins; else ``WANDB_MODE`` from the
environment is respected (``offline``, ``disabled``, ``online``); else the run is online only
when an API key is available (``WANDB_API_KEY`` or a ``~/.netrc`` entry for api.wandb.ai) and
offline otherwise (``wandb sync`` uploads offline runs later).
"""

from __future__ import annotations

import netrc
import os
from typing import Any, Optional

from lightning.pytorch.loggers import WandbLogger


def wandb_api_key_available() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def resolve_offline(offline: Optional[bool]) -> bool:
    if offline is not None:
        return offline
    mode = os.environ.get("WANDB_MODE", "").lower()
    if mode in ("offline", "dryrun", "disabled"):
        return True
    if mode == "online":
        return False
    return not wandb_api_key_available()


class SafeWandbLogger(WandbLogger):
    """WandbLogger with ``offline`` defaulting to "no API key -> offline" (see module docstring).

    Args:
        offline: force offline (True) or online (False); None: decide as described above.
        **kwargs: every other WandbLogger argument (project, name, save_dir, log_model, ...).
    """

    def __init__(self, offline: Optional[bool] = None, **kwargs: Any) -> None:
        super().__init__(offline=resolve_offline(offline), **kwargs)
