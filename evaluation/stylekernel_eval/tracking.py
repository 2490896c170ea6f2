"""The evaluation's results in the researcher's experiment tracker (``logger``: csv | tensorboard | wandb).

What is logged (rank 0, after the reports are written), with the prefix ``eval/``:

* the summary: every metric's value (``eval/lpips``, ``eval/fid``, ``eval/art_fid``, ...),
  ``eval/n_pairs``, ``eval/mode``, ``eval/reference_exact`` and ``eval/images`` (the resizing
  statement), through :func:`stylekernel.loggers.log_summary` (W&B: the run summary; other
  loggers: the numeric values as metrics);
* the per-pair table: W&B gets a ``wandb.Table`` ``eval/per_pair`` (one row per pair, the
  columns of ``per_pair.csv``); CSV and TensorBoard get each pair's scores as metrics
  ``eval/per_pair/<score>`` at step = the pair's index.

W&B runs decide online/offline without network (:class:`stylekernel.loggers.SafeWandbLogger`).
"""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any, Sequence

from stylekernel_eval.protocol import EvalConfig


def build_logger(config: EvalConfig) -> Any:
    """The Lightning logger ``config.logger`` names (None: no logger), saving under ``logger_dir``."""
    if config.logger is None:
        return None
    save_dir = config.logger_dir or str(Path(config.output) / "logs")
    if config.logger == "wandb":
        from stylekernel.loggers import SafeWandbLogger

        return SafeWandbLogger(project=config.logger_project, name=config.logger_name, save_dir=save_dir)
    if config.logger == "tensorboard":
        from lightning.pytorch.loggers import TensorBoardLogger

        return TensorBoardLogger(save_dir=save_dir, name=config.logger_name or "eval")
    from lightning.pytorch.loggers import CSVLogger

    return CSVLogger(save_dir=save_dir, name=config.logger_name or "eval")


def summary_values(summary: dict[str, Any]) -> dict[str, Any]:
    """The flat ``{name: value}`` logged as the run's summary (prefix added by the caller)."""
    values: dict[str, Any] = {name: entry.get("value") for name, entry in summary["metrics"].items()}
    values["n_pairs"] = summary["n_pairs"]
    values["mode"] = summary["mode"]
    resizing = summary.get("resizing") or {}
    values["reference_exact"] = resizing.get("reference_exact")
    values["images"] = resizing.get("statement")
    return values


def log_evaluation(logger: Any, summary: dict[str, Any], rows: Sequence[dict[str, Any]], prefix: str = "eval/") -> None:
    """Send the summary and the per-pair table to ``logger`` (see the module docstring), then close it."""
    if logger is None:
        return
    from lightning.pytorch.loggers import WandbLogger

    from stylekernel.loggers import log_summary

    log_summary(logger, summary_values(summary), prefix=prefix)
    if isinstance(logger, WandbLogger):
        columns = list(dict.fromkeys(k for row in rows for k in row))
        logger.log_table(key=f"{prefix}per_pair", columns=columns, data=[[row.get(c) for c in columns] for row in rows])
        logger.experiment.finish()
        return
    for row in rows:
        numeric = {f"{prefix}per_pair/{k}": float(v) for k, v in row.items()
                   if k != "index" and isinstance(v, numbers.Real) and not isinstance(v, bool)}
        logger.log_metrics(numeric, step=int(row["index"]))
    logger.save()
    logger.finalize("success")
