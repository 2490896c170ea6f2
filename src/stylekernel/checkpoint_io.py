"""Writing checkpoints atomically, and Lightning's checkpoint IO through the suite's reader.

:class:`SafeCheckpointIO` (installed by the CLI on every trainer) reads with
:func:`stylekernel.checkpoint.read_checkpoint` (``weights_only`` always, whatever
``--weights_only`` says) and writes with :func:`save_atomically`: the temporary file lies next to
the target (never in /tmp) and is renamed into place, so a kill leaves the previous checkpoint
loadable; the next save or resume in that folder removes what a killed writer left.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Optional

import torch
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.pytorch.plugins.io import TorchCheckpointIO

from stylekernel import atomic
from stylekernel.checkpoint import read_checkpoint
from stylekernel.errors import CheckpointError, ConfigError


def clean_stale_temp_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the checkpoint temp files a killed writer left in ``folder``; returns what was removed
    (:func:`stylekernel.atomic.clean_stale_temp_files` for targets named ``*.ckpt``)."""
    return atomic.clean_stale_temp_files(folder, target_suffix=".ckpt")


def save_atomically(checkpoint: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """``torch.save`` into a temp file next to ``path``, fsync, rename into place (:func:`stylekernel.atomic.atomic_write`)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temp_files(target.parent)
    with atomic.atomic_write(target) as tmp, open(tmp, "wb") as f:
        torch.save(checkpoint, f)
    return target


class SafeCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO with the suite's reader and atomic writer (see module docstring).

    ``load_checkpoint`` ignores ``weights_only=False``. A checkpoint the CLI has already read and
    checked is handed over with :meth:`preload` instead of being read twice.
    """

    def __init__(self) -> None:
        super().__init__()
        self._preloaded: dict[str, dict[str, Any]] = {}

    def preload(self, path: str | os.PathLike[str], checkpoint: dict[str, Any]) -> None:
        self._preloaded[os.path.realpath(path)] = checkpoint

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Optional[Any] = None) -> None:
        if storage_options is not None or not _is_local(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        save_atomically(checkpoint, path)

    def load_checkpoint(self, path: Any, map_location: Optional[Any] = None, weights_only: Optional[bool] = None) -> dict[str, Any]:
        if not _is_local(path):
            raise CheckpointError(f"checkpoint {path}: only local files are read (download it first)")
        clean_stale_temp_files(Path(path).expanduser().parent)
        ckpt = self._preloaded.pop(os.path.realpath(path), None)
        return ckpt if ckpt is not None else read_checkpoint(path)


def _is_local(path: Any) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(get_filesystem(str(path)), LocalFileSystem)


def install_checkpoint_io(trainer: Any) -> SafeCheckpointIO:
    """Make ``trainer`` read and write checkpoints through :class:`SafeCheckpointIO`.

    Raises ConfigError for a custom ``checkpoint_io`` plugin (it would bypass the safe reader).
    """
    strategy = trainer.strategy
    current = strategy.checkpoint_io
    if isinstance(current, SafeCheckpointIO):
        return current
    if type(current) is not TorchCheckpointIO:
        raise ConfigError(
            f"trainer.plugins: custom checkpoint IO {type(current).__name__} is not supported "
            "(checkpoints are read and written by stylekernel's safe reader)"
        )
    io = SafeCheckpointIO()
    strategy.checkpoint_io = io
    return io
