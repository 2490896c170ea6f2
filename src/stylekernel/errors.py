"""Errors a user can act on. The CLI prints them as one line and exits non-zero."""

from __future__ import annotations

import contextlib
import contextvars
from typing import Iterator

_captured: contextvars.ContextVar[list["ConfigError"] | None] = contextvars.ContextVar("stylekernel_config_errors", default=None)


class StyleKernelError(Exception):
    """Base class of every error caused by user input (paths, files, config values)."""


class ConfigError(StyleKernelError, ValueError):
    """A constructor argument or config value is invalid; the message names the argument."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        captured = _captured.get()
        if captured is not None:
            captured.append(self)


@contextlib.contextmanager
def capture_config_errors() -> Iterator[list[ConfigError]]:
    """Collect every ConfigError raised inside the block, even if a library re-wraps it.

    jsonargparse turns a constructor's exception into its own ValueError while instantiating a
    config; the CLI uses this to report the original one-line message instead.
    """
    token = _captured.set([])
    try:
        yield _captured.get()  # type: ignore[misc]
    finally:
        _captured.reset(token)


class WeightsNotFoundError(StyleKernelError, FileNotFoundError):
    """A pretrained weight file is not cached and could not be downloaded."""


class ImageDecodeError(StyleKernelError, ValueError):
    """A file could not be decoded as an image; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot read image {self.path}: {reason}")


class CheckpointError(StyleKernelError, ValueError):
    """A file is not a readable stylekernel / Lightning checkpoint."""


def check(condition: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(message)
