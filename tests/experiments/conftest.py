"""Fixtures of the experiment-infrastructure tests (logging, sweeps, multi-GPU, SLURM).

The in-process model runs here are tiny (32 px); two OpenMP threads on a shared 2-core machine
spin-wait and make them ~20x slower, so these tests run single-threaded (restored afterwards).
Subprocesses get ``OMP_NUM_THREADS=1`` from ``_cli.run`` for the same reason.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _single_thread(single_thread: None) -> None:
    """Every test in this folder runs single-threaded (``single_thread`` in tests/conftest.py)."""
