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
    """A pretrained weight file is not cached and could not be downloaded; ``reason`` says why, briefly."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


class ImageDecodeError(StyleKernelError, ValueError):
    """A file could not be decoded as an image; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot read image {self.path}: {reason}")


class CheckpointError(StyleKernelError, ValueError):
    """A file is not a readable stylekernel / Lightning checkpoint."""


def exception_summary(exc: BaseException, limit: int = 200) -> str:
    """The most telling line of a library exception, for a one-line message.

    torch's ``weights_only`` refusal starts with a paragraph of advice; the line naming the
    refused global (what the file tried to run) is the one worth showing.
    """
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    for line in lines:
        if "GLOBAL" in line or "WeightsUnpickler error" in line:
            return f"refused to run code stored in the file: {line}"[:limit]
    return lines[0][:limit]


def check(condition: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(message)
