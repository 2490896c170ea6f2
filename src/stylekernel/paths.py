"""Output locations checked before any work starts: a run folder, a stylize output.

A folder that does not exist yet is fine when it can be created: the nearest existing ancestor
must be a folder this process can write into (checked by creating and removing a probe file, which
also sees read-only mounts and ACLs that permission bits do not show). Nothing is created.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from stylekernel.errors import ConfigError

__all__ = ["check_writable_dir", "check_writable_file"]


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _check(target: Path, base_of: Path, label: str) -> None:
    base = _nearest_existing(base_of)
    if not base.is_dir():
        raise ConfigError(f"{label}: {base} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".stylekernel-write-check-", dir=base)
    except OSError as exc:
        raise ConfigError(f"{label} is not writable ({base}: {exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)


def check_writable_dir(path: str | os.PathLike[str], *, what: str = "output folder") -> None:
    """ConfigError unless ``path`` is (or can be created as) a folder this process can write into."""
    target = Path(path).expanduser().absolute()
    _check(target, target, f"{what} {target}")


def check_writable_file(path: str | os.PathLike[str], *, what: str = "output") -> None:
    """ConfigError unless a file can be written at ``path`` (its folder writable, not a folder itself)."""
    target = Path(path).expanduser().absolute()
    if target.is_dir():
        raise ConfigError(f"{what} {target} is a directory")
    _check(target, target.parent, f"{what} {target}")
