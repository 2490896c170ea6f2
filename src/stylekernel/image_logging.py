"""Log an image grid to whatever Lightning logger is configured.

WandbLogger -> ``log_image``; TensorBoardLogger -> ``add_image``; any logger with a ``log_dir``
(CSVLogger included) -> a PNG under ``<log_dir>/images/`` written atomically
(:func:`stylekernel.image_files.save_image`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from torch import Tensor

from stylekernel.image_files import save_image


def make_grid(rows: list[Tensor]) -> Tensor:
    """rows: list of (N, 3, H, W) images in [0, 1] (same N, H, W) -> (3, N*H, len(rows)*W).

    Row i of the grid is (rows[0][i] | rows[1][i] | ...), e.g. content | style | output.
    """
    n = rows[0].shape[0]
    lines = [torch.cat([r[i] for r in rows], dim=-1) for i in range(n)]
    return torch.cat(lines, dim=-2).clamp(0, 1)


def log_image_grid(loggers: list[Any], key: str, grid: Tensor, step: int) -> list[str]:
    """Send ``grid`` (3, H, W) to every logger; returns where it went (for tests and messages)."""
    sent = []
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key=key, images=[grid.permute(1, 2, 0).float().cpu().numpy()], step=step)
            sent.append("wandb")
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, grid.float().cpu(), global_step=step)
            sent.append("tensorboard")
        elif getattr(logger, "log_dir", None):
            path = Path(logger.log_dir) / "images" / f"{key.replace('/', '_')}_step{step:08d}.png"
            save_image(grid, path, overwrite=True)
            sent.append(str(path))
    return sent
