"""Helpers for the benchmark scripts: medians of timed runs and peak memory of one call.

Peak memory: on CUDA the allocator's peak; on CPU the growth of the process's peak RSS
(``stylekernel_eval.timing.peak_rss_mb``) during the call, measured in a fresh subprocess per case so that one case's
peak does not hide another's.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch

from stylekernel_eval.timing import peak_rss_mb  # noqa: F401  (re-exported for the benchmark scripts)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_time(fn: Callable[[], Any], *, device: torch.device, warmup: int = 1, repeats: int = 5) -> float:
    """Median wall seconds of ``fn()`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_isolated(module: str, case: dict[str, Any]) -> dict[str, Any]:
    """Run ``python -m module --case JSON`` in a fresh process; it prints one JSON line."""
    out = subprocess.run(
        [sys.executable, "-m", module, "--case", json.dumps(case)],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def environment() -> dict[str, Any]:
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def save(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, path)
    print(f"saved {path}")
