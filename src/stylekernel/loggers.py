"""Experiment logging: a W&B logger that never hangs, the resolved config with every run, summaries.

* :class:`SafeWandbLogger` (``configs/logger/wandb.yaml``): a ``WandbLogger`` whose mode is decided
  without network. An explicit ``offline`` argument wins; else ``WANDB_MODE`` is respected
  (``offline``/``dryrun``, ``disabled``, ``online``; ``WANDB_DISABLED=true`` means disabled);
  else the run is online only when an API key is available (``WANDB_API_KEY`` or a ``~/.netrc``
  entry for api.wandb.ai) and offline otherwise (``wandb sync runs/wandb/offline-run-*`` uploads
  it later). An online start that fails (no network, bad key) is retried offline after
  ``init_timeout`` seconds instead of ending the run.
* :class:`SaveResolvedConfig`: LightningCLI's ``save_config_callback``. Writes the resolved
  ``config.yaml`` into the run directory (``<save_dir>/<name>/<version>/``, next to
  ``checkpoints/``, for every logger, W&B included) on rank 0 only, and sends the same config to
  W&B (``run.config``: ``model.init_args.lr``, ``model.init_args.net.class_path``, ...) with a
  copy as the run file ``lightning_config.yaml``.
* :func:`log_summary`: evaluation results as a run's summary (W&B ``run.summary``; other loggers
  get the numeric values as metrics), for the evaluation runner.

What the training module logs through any of these loggers: ``train/{loss,content,style,
identity1,identity2}`` every ``log_every_n_steps``, ``train/lr``, ``val/*`` and ``test/*`` (mean
over all pairs, synchronised across ranks) and the validation image grid
(``val/content_style_output``).
"""

from __future__ import annotations

import math
import netrc
import numbers
import os
import shutil
from collections.abc import Mapping
from typing import Any, Literal, Optional

import yaml
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.cli import SaveConfigCallback
from lightning.pytorch.loggers import Logger, WandbLogger
from lightning.pytorch.utilities.rank_zero import rank_zero_only, rank_zero_warn

__all__ = [
    "SafeWandbLogger",
    "SaveResolvedConfig",
    "log_summary",
    "resolve_mode",
    "resolve_offline",
    "run_dir",
    "wandb_api_key_available",
]

WandbMode = Literal["online", "offline", "disabled"]


# --------------------------------------------------------------------------- W&B mode
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
    if os.environ.get("WANDB_DISABLED", "").strip().lower() in ("1", "true", "yes"):
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


# --------------------------------------------------------------------------- resolved config
def run_dir(trainer: Trainer) -> str:
    """This run's directory, the parent of ModelCheckpoint's default ``checkpoints/``.

    ``<save_dir>/<name>/<version>`` of the first logger (CSV: ``runs/quickstart/version_0``; W&B:
    ``runs/<project>/<run id>``), ``default_root_dir`` without a logger. Call on every rank: the
    value is broadcast from rank 0.
    """
    if trainer.loggers:
        logger = trainer.loggers[0]
        save_dir = logger.save_dir if logger.save_dir is not None else trainer.default_root_dir
        version = logger.version
        version = version if isinstance(version, str) else f"version_{version}"
        path = os.path.join(str(save_dir), str(logger.name), version)
    else:
        path = str(trainer.default_root_dir)
    return trainer.strategy.broadcast(path)


def _loggers(target: Any) -> list[Logger]:
    if target is None:
        return []
    if isinstance(target, Trainer):
        return list(target.loggers)
    if isinstance(target, Logger):
        return [target]
    return [lg for lg in target if lg is not None]


class SaveResolvedConfig(SaveConfigCallback):
    """LightningCLI's config saving, into the run directory and into W&B (see module docstring).

    Use as ``LightningCLI(..., save_config_callback=SaveResolvedConfig)``. Only rank 0 writes;
    the other ranks wait for it (the same broadcasts as Lightning's own callback).
    """

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self.already_saved:
            return
        if self.save_to_log_dir:
            directory = run_dir(trainer)
            config_path = os.path.join(directory, self.config_filename)
            if not self.overwrite:
                exists = os.path.isfile(config_path) if trainer.is_global_zero else False
                if trainer.strategy.broadcast(exists):
                    raise RuntimeError(
                        f"{config_path} exists: not overwriting the config of a previous run (set "
                        "save_config_kwargs={'overwrite': True} or use another version)."
                    )
            if trainer.is_global_zero:
                os.makedirs(directory, exist_ok=True)
                self.parser.save(
                    self.config, config_path, skip_none=False, overwrite=self.overwrite, multifile=self.multifile
                )
                self.config_path = config_path
        if trainer.is_global_zero:
            self.save_config(trainer, pl_module, stage)
            self.already_saved = True
        self.already_saved = trainer.strategy.broadcast(self.already_saved)

    def resolved_config(self) -> dict[str, Any]:
        """The resolved config as plain data (``model``, ``data``, ``trainer``, ``seed_everything``...)."""
        return yaml.safe_load(self.parser.dump(self.config, skip_none=False)) or {}

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Rank 0: send the resolved config to loggers that keep no config.yaml of their own (W&B)."""
        wandb_loggers = [lg for lg in trainer.loggers if isinstance(lg, WandbLogger)]
        if not wandb_loggers:
            return
        config = self.resolved_config()
        config.pop("config", None)  # the list of --config files, not a setting
        for logger in wandb_loggers:
            logger.log_hyperparams(config)
            config_path = getattr(self, "config_path", None)
            run_files = getattr(logger.experiment, "dir", None)
            if config_path and isinstance(run_files, str) and os.path.isdir(run_files):
                shutil.copyfile(config_path, os.path.join(run_files, "lightning_config.yaml"))


# --------------------------------------------------------------------------- summaries
def _plain(value: Any) -> Any:
    """Tensors / numpy scalars -> Python numbers; other values unchanged."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        return value.item()
    return value


def _flatten(summary: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}/"))
        else:
            flat[name] = _plain(value)
    return flat


def log_summary(logger: Any, summary: Mapping[str, Any], *, prefix: str = "") -> dict[str, Any]:
    """Record evaluation results as the summary of a run (rank 0 only; other ranks: no-op).

    Args:
        logger: a Lightning logger, a list of them, a Trainer (its loggers) or None (nothing).
        summary: ``{name: value}``; nested mappings are flattened with "/" (``{"lpips": {"mean":
            0.5}}`` -> ``lpips/mean``); tensors and numpy scalars become Python numbers.
        prefix: prepended to every key (e.g. ``"eval/"``).

    W&B: ``run.summary.update`` (numbers, strings, lists: what the runs table shows). Other
    loggers (CSV, TensorBoard, ...): ``log_metrics`` with the finite numeric values, then
    ``save()``. Returns the flattened summary.
    """
    flat = _flatten(summary, prefix)
    if rank_zero_only.rank != 0:
        return flat
    for lg in _loggers(logger):
        if isinstance(lg, WandbLogger):
            lg.experiment.summary.update(flat)
        else:
            numeric = {
                k: float(v)
                for k, v in flat.items()
                if isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(float(v))
            }
            if numeric:
                lg.log_metrics(numeric)
                lg.save()
    return flat

