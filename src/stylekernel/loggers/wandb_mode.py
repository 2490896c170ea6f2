"""W&B runs that never hang: the online/offline/disabled mode decided without network.

:class:`SafeWandbLogger` (``configs/logger/wandb.yaml``) is a ``WandbLogger`` whose mode is decided
without network. An explicit ``offline`` argument wins; else ``WANDB_MODE`` is respected
(``offline``/``dryrun``, ``disabled``, ``online``; ``WANDB_DISABLED=true`` means disabled); else
the run is online only when an API key is available (``WANDB_API_KEY`` or a ``~/.netrc`` entry for
api.wandb.ai) and offline otherwise (``wandb sync runs/wandb/offline-run-*`` uploads it later). An
online start that fails (no network, bad key) is retried offline after ``init_timeout`` seconds
instead of ending the run.
"""

from __future__ import annotations

import netrc
import os
from typing import Any, Literal, Optional

from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities.rank_zero import rank_zero_warn

from stylekernel.env import env_flag

__all__ = ["SafeWandbLogger", "WandbMode", "resolve_mode", "resolve_offline", "wandb_api_key_available"]

WandbMode = Literal["online", "offline", "disabled"]


def wandb_api_key_available() -> bool:
    """Whether W&B credentials exist locally (``WANDB_API_KEY`` or ~/.netrc); no network."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def resolve_mode(offline: Optional[bool] = None) -> WandbMode:
    """The W&B mode of a run: ``offline`` argument > ``WANDB_MODE`` > "online iff a key exists"."""
    if offline is not None:
        return "offline" if offline else "online"
    if env_flag("WANDB_DISABLED"):
        return "disabled"
    mode = os.environ.get("WANDB_MODE", "").strip().lower()
    if mode in ("offline", "dryrun"):
        return "offline"
    if mode == "disabled":
        return "disabled"
    if mode in ("online", "run"):
        return "online"
    return "online" if wandb_api_key_available() else "offline"


def resolve_offline(offline: Optional[bool]) -> bool:
    """True unless the run will be online (see :func:`resolve_mode`)."""
    return resolve_mode(offline) != "online"


class SafeWandbLogger(WandbLogger):
    """WandbLogger that decides online/offline without network and never hangs on a dead network.

    Args:
        offline: force offline (True) or online (False); None: decide as in the module docstring.
        init_timeout: seconds ``wandb.init`` may wait for the W&B service / server.
        fallback_to_offline: when an online start fails (no network, bad key), warn and log
            offline instead of failing the run.
        **kwargs: every other WandbLogger / ``wandb.init`` argument (project, name, save_dir,
            log_model, entity, group, tags, ...). ``log_model`` needs an online run: it is
            switched off with a warning when the run is offline (checkpoints stay on disk).
    """

    def __init__(
        self,
        offline: Optional[bool] = None,
        init_timeout: float = 60.0,
        fallback_to_offline: bool = True,
        **kwargs: Any,
    ) -> None:
        mode = resolve_mode(offline)
        if mode != "online" and kwargs.get("log_model"):
            rank_zero_warn(
                f"W&B run is {mode}: log_model={kwargs['log_model']!r} is ignored (checkpoints stay on disk)."
            )
            kwargs["log_model"] = False
        if mode == "disabled":
            kwargs["mode"] = "disabled"
        settings = kwargs.get("settings")
        if settings is None:
            kwargs["settings"] = {"init_timeout": float(init_timeout)}
        elif isinstance(settings, dict):
            kwargs["settings"] = {"init_timeout": float(init_timeout), **settings}
        super().__init__(offline=mode == "offline", **kwargs)
        self.mode: WandbMode = mode
        self._fallback_to_offline = fallback_to_offline

    @property  # type: ignore[override]
    def experiment(self) -> Any:
        """The wandb run (created on first use, on rank 0; a no-op object on other ranks)."""
        try:
            return super().experiment
        except Exception as exc:  # noqa: BLE001 - any failure to start an online run
            if self._offline or self.mode != "online" or not self._fallback_to_offline:
                raise
            rank_zero_warn(
                f"W&B could not start an online run ({type(exc).__name__}: {exc}); logging OFFLINE instead. "
                "Upload later with `wandb sync <save_dir>/wandb/offline-run-*`."
            )
            self._offline = True
            self.mode = "offline"
            self._log_model = False
            self._experiment = None
            self._wandb_init["mode"] = "offline"  # explicit: wandb caches the online setting
            settings = self._wandb_init.get("settings")
            if isinstance(settings, dict):  # offline waits only for the local service
                timeout = max(90.0, float(settings.get("init_timeout", 0)))
                self._wandb_init["settings"] = {**settings, "init_timeout": timeout}
            return super().experiment
