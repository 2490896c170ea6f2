"""Atomic writes: the one home of "temporary file next to the target, fsync, ``os.replace``".

Every file the suite writes that must never be seen half written goes through
:func:`atomic_write`: checkpoints (:mod:`stylekernel.checkpoint_io`, ``stylekernel weights
import``), downloaded weights (:mod:`stylekernel.weights`), exported folders
(:mod:`stylekernel.export`) and images (:func:`stylekernel.image_files.save_image`)::

    with atomic_write(path) as tmp:      # a Path next to ``path``, not created yet
        torch.save(obj, tmp)             # or open(tmp, "wb"), image.save(...), tmp.mkdir() + files

The rules:

* The temporary path lies in the target's folder (one file system, so the rename is atomic; never
  ``$TMPDIR``, where a killed run's leftovers would never be cleaned), named
  ``.<name>.<host>.<pid>.<random>.tmp`` (:func:`temp_path`). The folder must exist: callers create
  it, or report that it is missing, their own way.
* When the block ends normally, what it wrote (a file, or a folder of files) is fsynced, renamed
  onto the target with ``os.replace`` and the folder's entry is fsynced. A target that exists is
  replaced; when the block wrote a folder, an existing target is first moved aside, and removed
  after the rename (put back if the rename fails).
* When the block raises (anything, ``KeyboardInterrupt`` included), the temporary file or folder is
  removed, the target is untouched and the exception propagates unchanged, so each caller keeps
  its own one-line error.
* A process killed inside the block leaves only its temporary path; :func:`clean_stale_temp_files`
  removes those whose writer is gone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
import socket
import time
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)

TEMP_SUFFIX = ".tmp"
#: ``.<target name>.<host>.<pid>.<8 hex digits>.tmp``
_TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.(?P<host>[^.]+)\.(?P<pid>\d+)\.[0-9a-f]{8}" + re.escape(TEMP_SUFFIX) + "$")


def _host() -> str:
    return socket.gethostname().replace(".", "_") or "host"


def temp_path(target: str | os.PathLike[str]) -> Path:
    """A fresh ``.<name>.<host>.<pid>.<random>.tmp`` next to ``target`` (not created)."""
    target = Path(target)
    return target.with_name(f".{target.name}.{_host()}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


@contextlib.contextmanager
def atomic_write(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success fsync it and rename it onto ``target``.

    See the module docstring. Raises what the block or the file system raises (OSError for a
    missing folder, a refused write or rename), after removing the temporary path.
    """
    target = Path(target)
    tmp = temp_path(target)
    try:
        yield tmp
        _fsync_tree(tmp)
        _replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise
    _fsync_dir(target.parent)


def _replace(tmp: Path, target: Path) -> None:
    if not (tmp.is_dir() and os.path.lexists(target)):
        os.replace(tmp, target)
        return
    old = temp_path(target)  # a folder cannot be renamed onto an existing one: move that aside first
    os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old, target)
        raise
    _remove(old)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):  # the folder itself may be what failed
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _fsync_file(path: str | os.PathLike[str]) -> None:
    fd = os.open(path, os.O_RDWR if os.name == "nt" else os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a folder's entries durable (best effort: not every platform can fsync a folder)."""
    with contextlib.suppress(OSError):
        _fsync_file(path)


def _fsync_tree(path: Path) -> None:
    """fsync a file, or every file of a folder and the folders themselves (FileNotFoundError if
    the block wrote nothing)."""
    if not path.is_dir():
        _fsync_file(path)
        return
    for root, _dirs, files in os.walk(path):
        for name in files:
            _fsync_file(os.path.join(root, name))
        _fsync_dir(root)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def clean_stale_temp_files(
    folder: str | os.PathLike[str], *, target_suffix: str = "", max_age_s: float = 24 * 3600
) -> list[Path]:
    """Remove the temporary paths that killed writers left in ``folder``; returns what was removed.

    Only names of :func:`temp_path`'s form whose target name ends with ``target_suffix`` are
    considered. One of this host is stale when its writing process is gone; one of another host
    (a shared file system) when it is older than ``max_age_s``.
    """
    removed: list[Path] = []
    host = _host()
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None or not match["target"].endswith(target_suffix):
            continue
        try:
            if match["host"] == host:
                stale = not _pid_alive(int(match["pid"]))
            else:
                stale = time.time() - entry.lstat().st_mtime > max_age_s
            if stale:
                _remove(entry)
                removed.append(entry)
        except OSError:
            continue
    if removed:
        log.info("removed %d temporary file(s) left by a killed writer in %s", len(removed), folder)
    return removed


__all__ = ["TEMP_SUFFIX", "atomic_write", "clean_stale_temp_files", "temp_path"]
