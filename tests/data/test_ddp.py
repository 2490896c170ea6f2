"""A real 2-process gloo DDP fit (Lightning, CPU, 2 DataLoader workers per rank): within one
pass over the data every content and style image is read by exactly one rank."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from .conftest import encode


@pytest.mark.ddp
def test_two_process_ddp_reads_disjoint_complete_data(tmp_path: Path) -> None:
    import datasets

    features = datasets.Features({"image": datasets.Image(), "id": datasets.Value("string")})
    files = []
    for shard in range(4):
        rows = [{"image": {"bytes": encode(Image.new("RGB", (40, 40), (0, 4 * (shard * 6 + row), 0)), "PNG"),
                           "path": None}, "id": f"s{shard}_{row}"} for row in range(6)]
        path = tmp_path / f"train-{shard}.parquet"
        datasets.Dataset.from_list(rows, features=features).to_parquet(str(path))
        files.append(str(path))
    script = Path(__file__).with_name("ddp_fit_script.py")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "MASTER_PORT": str(29500 + os.getpid() % 1000)}
    result = subprocess.run([sys.executable, str(script), str(tmp_path), *files], env=env, capture_output=True,
                            text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for side, n in (("content", 24), ("style", 24)):
        per_rank = [r[side] for r in ranks]
        assert all(len(x) == 12 for x in per_rank)  # 4 steps x batch 3
        assert not set(per_rank[0]) & set(per_rank[1]), side
        counts = collections.Counter(per_rank[0] + per_rank[1])
        assert sorted(counts) == list(range(n)) and max(counts.values()) == 1, side
