"""Writing checkpoints atomically, and Lightning's checkpoint IO through the suite's reader.

:class:`SafeCheckpointIO` (installed by the CLI on every trainer) reads with
:func:`stylekernel.checkpoint.read_checkpoint` (``weights_only`` always, whatever
``--weights_only`` says) and writes with :func:`save_atomically`: the temporary file lies next to
the target (never in /tmp) and is renamed into place, so a kill leaves the previous checkpoint
loadable; the next save or resume in that folder removes what a killed writer left.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import time
from pathlib import Path
from typing import Any, Mapping, Optional

import torch
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.pytorch.plugins.io import TorchCheckpointIO

from stylekernel.checkpoint import read_checkpoint
from stylekernel.errors import CheckpointError, ConfigError

log = logging.getLogger(__name__)

_TMP_SUFFIX = ".tmp"


def _temp_name(target: Path) -> Path:
    """``.<name>.<host>.<pid>.<random>.tmp`` next to ``target``."""
    host = socket.gethostname().replace(".", "_") or "host"
    return target.with_name(f".{target.name}.{host}.{os.getpid()}.{secrets.token_hex(4)}{_TMP_SUFFIX}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def clean_stale_temp_files(folder: str | os.PathLike[str], *, max_age_s: float = 24 * 3600) -> list[Path]:
    """Remove checkpoint temp files a killed writer left in ``folder``; returns what was removed.

    A temp file of this host is stale when its writing process is gone; one of another host (a
    shared file system) when it is older than ``max_age_s``.
    """
    removed: list[Path] = []
    host = socket.gethostname().replace(".", "_") or "host"
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(".") and name.endswith(_TMP_SUFFIX) and ".ckpt." in name):
            continue
        parts = name[: -len(_TMP_SUFFIX)].rsplit(".", 3)  # [.<ckpt name>, host, pid, random]
        if len(parts) != 4 or not parts[2].isdigit():
            continue
        _, owner, pid, _ = parts
        try:
            stale = not _pid_alive(int(pid)) if owner == host else time.time() - entry.stat().st_mtime > max_age_s
            if stale:
                entry.unlink()
                removed.append(entry)
        except OSError:
            continue
    if removed:
        log.info("removed %d checkpoint temp file(s) left by a killed run in %s", len(removed), folder)
    return removed


def save_atomically(checkpoint: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """``torch.save`` into a temp file next to ``path``, fsync, rename into place."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temp_files(target.parent)
    tmp = _temp_name(target)
    try:
        with open(tmp, "wb") as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
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
