"""`stylekernel evaluate --checkpoint <folder written by stylekernel export>` end to end: the same
numbers as the checkpoint it was exported from."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Callable

from stylekernel.cli import main as stylekernel_main

# --fid-sqrtm exact: these tests are not about the FID default (reference: a 2048 x 2048 scipy sqrtm, seconds per FID)
TINY = ["--size", "80", "--loss-encoder", "random", "--no-progress", "--no-timing", "--batch-size", "2", "--accelerator", "cpu",
        "--fid-sqrtm", "exact"]


def test_evaluate_takes_an_exported_folder(eval_weights: Path, checkpoint_file: Path, tmp_path: Path,
                                           image_writer: Callable[..., list[Path]]) -> None:
    content, style = tmp_path / "c", tmp_path / "s"
    image_writer(content, ["cat.png", "dog.png"], seed=1)
    image_writer(style, ["wave.png", "ink.png"], seed=2, size=(104, 96))
    folder = tmp_path / "release"
    assert stylekernel_main(["export", str(checkpoint_file), "--output", str(folder)]) == 0
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    runs = {}
    for name, ref in (("folder", folder), ("ckpt", checkpoint_file)):
        out = tmp_path / f"eval_{name}"
        assert stylekernel_main(["evaluate", "--checkpoint", str(ref), "--content-dir", str(content), "--style-dir", str(style),
                                 "--output", str(out), "--save-images", *TINY]) == 0
        runs[name] = out
    a, b = (json.loads((runs[n] / "summary.json").read_text()) for n in ("folder", "ckpt"))
    assert a["config"]["checkpoint"] == str(folder) and a["n_pairs"] == 4
    assert a["metrics"] == b["metrics"] and a["metrics"]["lpips"]["value"] is not None
    rows = [list(csv.DictReader((runs[n] / "per_pair.csv").open())) for n in ("folder", "ckpt")]
    assert rows[0] == rows[1] and len(rows[0]) == 4
    images = sorted(p.relative_to(runs["folder"]) for p in runs["folder"].rglob("*.png"))
    assert len(images) == 4
    for rel in images:  # the stylizations themselves are bit-identical
        assert (runs["folder"] / rel).read_bytes() == (runs["ckpt"] / rel).read_bytes()
