"""Exact under DDP: 9 pairs on 2 gloo processes give the 1-process summary (no pair lost or doubled)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from stylekernel_eval.protocol import EvalConfig
from stylekernel_eval.runner import evaluate


@pytest.mark.ddp
def test_two_processes_equal_one(eval_weights: Path, image_dirs: tuple[Path, Path], checkpoint_file: Path,
                                 tmp_path: Path, single_thread: None) -> None:
    # one torch thread here, as in each of the 2 workers (the launcher gives each cpu_count // 2): oneDNN splits a
    # convolution differently with 2 threads, which moves float32 features by ~1e-7 and this near-singular FID
    # (3 style images) by 1.3e-6
    content, style = image_dirs  # 3 x 3 = 9 pairs: does not divide by 2 processes
    common = dict(checkpoint=str(checkpoint_file), content_dir=str(content), style_dir=str(style), size=80,
                  batch_size=2, loss_encoder="random", gram=True, progress=False, accelerator="cpu", fid_sqrtm="exact")
    one = evaluate(EvalConfig(output=str(tmp_path / "one"), devices=1, **common))
    two = evaluate(EvalConfig(output=str(tmp_path / "two"), devices=2, **common))
    assert two["world_size"] == 2 and one["world_size"] == 1
    assert two["n_pairs"] == one["n_pairs"] == 9
    for name, entry in one["metrics"].items():
        assert two["metrics"][name]["value"] == pytest.approx(entry["value"], rel=1e-6), name
    assert two["metrics"]["fid"]["n_stylized"] == 9 and two["metrics"]["fid"]["n_style"] == 3
    assert one["metrics"]["fid"]["value"] > 0 and one["metrics"]["lpips"]["value"] > 0
    with open(tmp_path / "two" / "per_pair.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(int(r["index"]) for r in rows) == list(range(9))
