"""Shared test fixtures: offline mode, a temporary weight cache, deterministic torch.

Nothing here downloads: ``STYLEKERNEL_OFFLINE=1`` is set for the whole session, and each test
that needs pretrained files writes small fake ones into its own temporary cache.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

os.environ.setdefault("STYLEKERNEL_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


def pytest_configure(config: pytest.Config) -> None:
    import torch

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture
def weights_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty weight cache directory, used by ``stylekernel.weights`` for this test."""
    cache = tmp_path / "weights-cache"
    cache.mkdir()
    monkeypatch.setenv("STYLEKERNEL_CACHE", str(cache))
    yield cache


@pytest.fixture
def seed() -> int:
    import torch

    torch.manual_seed(0)
    return 0


@pytest.fixture
def single_thread() -> Iterator[None]:
    """Run the test with one torch thread (restored afterwards).

    Tiny models on a shared 2-core machine are much slower with two OpenMP threads that
    spin-wait for each other; folders of tiny-model tests use this as an autouse fixture.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
