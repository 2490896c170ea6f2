"""Fixtures of the experiment-infrastructure tests (logging, sweeps, multi-GPU, SLURM).

The in-process model runs here are tiny (32 px); two OpenMP threads on a shared 2-core machine
spin-wait and make them ~20x slower, so these tests run single-threaded (restored afterwards).
Subprocesses get ``OMP_NUM_THREADS=1`` from ``_cli.run`` for the same reason.
"""

from __future__ import annotations

from typing import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
