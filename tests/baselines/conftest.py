"""Fixtures of the baseline tests.

The tensors here are tiny (32-80 px images), so intra-op threading buys little, while two
OpenMP threads on a 2-core machine that is also running other test processes spin-wait and
make every small op several times slower. These tests therefore run single-threaded; the
previous setting is restored after each test.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _single_thread(single_thread: None) -> None:
    """Every test in this folder runs single-threaded (``single_thread`` in tests/conftest.py)."""
