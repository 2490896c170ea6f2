"""The resolved config with every run: ``config.yaml`` in the run folder, and in W&B.

:class:`SaveResolvedConfig` is LightningCLI's ``save_config_callback``. It writes the resolved
``config.yaml`` into the run directory (``<save_dir>/<name>/<version>/``, next to
``checkpoints/``, for every logger, W&B included) on rank 0 only, and sends the same config to
W&B (``run.config``: ``model.init_args.lr``, ``model.init_args.net.class_path``, ...) with a copy
as the run file ``lightning_config.yaml``.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import yaml
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.cli import SaveConfigCallback
from lightning.pytorch.loggers import WandbLogger

__all__ = ["SaveResolvedConfig", "run_dir"]


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


class SaveResolvedConfig(SaveConfigCallback):
    """LightningCLI's config saving, into the run directory and into W&B (see the module docstring).

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
