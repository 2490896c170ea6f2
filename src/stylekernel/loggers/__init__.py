"""Experiment logging, one job per file.

* :mod:`~stylekernel.loggers.wandb_mode`: :class:`SafeWandbLogger` (``configs/logger/wandb.yaml``),
  a ``WandbLogger`` whose online/offline/disabled mode is decided without network and that falls
  back to offline instead of hanging on a dead network.
* :mod:`~stylekernel.loggers.run_config`: :class:`SaveResolvedConfig`, LightningCLI's
  ``save_config_callback``: the resolved ``config.yaml`` in the run folder (every logger) and in
  W&B's ``run.config``.
* :mod:`~stylekernel.loggers.run_summary`: :func:`log_summary`, evaluation results as a run's
  summary.

What the training module logs through any of these loggers: ``train/{loss,content,style,
identity1,identity2}`` every ``log_every_n_steps``, ``train/lr``, ``val/*`` and ``test/*`` (mean
over all pairs, synchronised across ranks) and the validation image grid
(``val/content_style_output``).
"""

from __future__ import annotations

from stylekernel.loggers.run_config import SaveResolvedConfig, run_dir
from stylekernel.loggers.run_summary import log_summary
from stylekernel.loggers.wandb_mode import SafeWandbLogger, resolve_mode, resolve_offline, wandb_api_key_available

__all__ = [
    "SafeWandbLogger",
    "SaveResolvedConfig",
    "log_summary",
    "resolve_mode",
    "resolve_offline",
    "run_dir",
    "wandb_api_key_available",
]
