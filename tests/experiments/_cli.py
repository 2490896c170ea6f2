"""Running the ``stylekernel`` command in tests: the tiny-run config and a subprocess runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"
# The quickstart made tiny (random encoder, 32 px images, 2-step "epochs"): configs/debug/tiny.yaml.
TINY_CONFIG = ROOT / "configs" / "debug" / "tiny.yaml"
TINY = ["--config", str(TINY_CONFIG)]


def run(argv: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: int = 600,
        drop_env: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run ``argv`` (a full command) with the test environment plus ``env``, minus ``drop_env``."""
    full_env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1", **(env or {})}
    # never attach to a wandb-core service that an in-process test of this session started
    for name in ("WANDB_SERVICE", *drop_env):
        full_env.pop(name, None)
    return subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env)


def stylekernel(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    """``stylekernel <args>`` as a subprocess (``python -m stylekernel.cli``)."""
    return run([sys.executable, "-m", "stylekernel.cli", *args], **kwargs)


def lookup(config: dict, dotted: str):  # type: ignore[no-untyped-def,type-arg]
    """``lookup(cfg, "model.init_args.lr")`` -> cfg["model"]["init_args"]["lr"]."""
    value = config
    for part in dotted.split("."):
        value = value[part]
    return value
