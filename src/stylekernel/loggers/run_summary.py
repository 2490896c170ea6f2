"""Evaluation results as the summary of a run, for the evaluation runner.

:func:`log_summary` writes W&B's ``run.summary``; other loggers (CSV, TensorBoard, ...) get the
numeric values as metrics.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from lightning.pytorch import Trainer
from lightning.pytorch.loggers import Logger, WandbLogger
from lightning.pytorch.utilities.rank_zero import rank_zero_only

__all__ = ["log_summary"]


def _plain(value: Any) -> Any:
    """Tensors / numpy scalars -> Python numbers; other values unchanged."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        return value.item()
    return value


def _loggers(target: Any) -> list[Logger]:
    if target is None:
        return []
    if isinstance(target, Trainer):
        return list(target.loggers)
    if isinstance(target, Logger):
        return [target]
    return [lg for lg in target if lg is not None]


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
