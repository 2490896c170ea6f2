"""``stylekernel evaluate --data``: a DataModule's own held-out test_pairs() are what gets scored."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Callable

import pytest
import yaml

from stylekernel.cli import main as stylekernel_main

ROOT = Path(__file__).resolve().parents[2]
# --fid-sqrtm exact: these tests are not about the FID default (reference: a 2048 x 2048 scipy sqrtm, seconds per FID)
TINY = ["--size", "80", "--loss-encoder", "random", "--no-progress", "--no-timing", "--batch-size", "2", "--accelerator", "cpu",
        "--fid-sqrtm", "exact"]


def _folder_datamodule(content: Path, style: Path, n_content: int, n_style: int) -> dict[str, object]:
    folder = {"class_path": "stylekernel.data.FolderSource"}
    return {
        "class_path": "stylekernel.data.StyleTransferDataModule",
        "init_args": {
            "content": {**folder, "init_args": {"root": str(content)}},
            "style": {**folder, "init_args": {"root": str(style)}},
            "test_content": {**folder, "init_args": {"root": str(content)}},
            "test_style": {**folder, "init_args": {"root": str(style)}},
            "num_test_content": n_content,
            "num_test_style": n_style,
        },
    }


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open()))


def test_data_scores_the_same_numbers_as_the_folders_it_names(eval_weights: Path, checkpoint_file: Path, tmp_path: Path,
                                                              image_writer: Callable[..., list[Path]]) -> None:
    """A DataModule whose test sets are two folders scores exactly what --content-dir/--style-dir does."""
    content, style = tmp_path / "c", tmp_path / "s"
    image_writer(content, ["cat.png", "dog.png"], seed=1)
    image_writer(style, ["wave.png", "ink.png"], seed=2, size=(104, 96))
    fragment = tmp_path / "data.yaml"  # a configs/data/-style fragment: the same file `fit --config` takes
    fragment.write_text(yaml.safe_dump({"data": _folder_datamodule(content, style, 2, 2)}))
    via_data, via_dirs = tmp_path / "via_data", tmp_path / "via_dirs"
    assert stylekernel_main(["evaluate", "--checkpoint", str(checkpoint_file), "--data", str(fragment), "--output", str(via_data), *TINY]) == 0
    assert stylekernel_main(["evaluate", "--checkpoint", str(checkpoint_file), "--content-dir", str(content), "--style-dir", str(style),
                             "--output", str(via_dirs), *TINY]) == 0
    a, b = (json.loads((d / "summary.json").read_text()) for d in (via_data, via_dirs))
    assert a["n_pairs"] == b["n_pairs"] == 4
    assert a["metrics"] == b["metrics"]
    assert _rows(via_data / "per_pair.csv") == _rows(via_dirs / "per_pair.csv")
    for name in ("cat.png", "dog.png"):  # encoded files are copied byte for byte
        assert (via_data / "test_set" / "content" / name).read_bytes() == (content / name).read_bytes()
    assert a["config"]["data"]["init_args"]["num_test_content"] == 2  # the DataModule is recorded


def test_data_demo_config_end_to_end(eval_weights: Path, checkpoint_file: Path, tmp_path: Path) -> None:
    """`--data configs/data/demo.yaml` (in-memory demo images) with command-line overrides of its init_args."""
    from stylekernel_eval.datamodule_pairs import build_datamodule

    overrides = ["--data.init_args.num_test_content=2", "--data.init_args.num_test_style=2"]
    out = tmp_path / "out"
    assert stylekernel_main(["evaluate", "--checkpoint", str(checkpoint_file), "--data", str(ROOT / "configs/data/demo.yaml"),
                             *overrides, "--output", str(out), *TINY]) == 0
    summary = json.loads((out / "summary.json").read_text())
    data = yaml.safe_load((ROOT / "configs/data/demo.yaml").read_text())["data"]
    data["init_args"].update(num_test_content=2, num_test_style=2)
    dm = build_datamodule(data)
    pairs = dm.test_pairs()
    assert summary["n_pairs"] == len(pairs) == 4
    listed = [ln.split(",") for ln in (out / "test_set" / "pairs.txt").read_text().splitlines() if not ln.startswith("#")]
    assert [(Path(c).stem, Path(s).stem) for c, s in listed] == pairs  # demo ids are plain names
    rows = _rows(out / "per_pair.csv")
    assert [(r["content"], r["style"]) for r in rows] == [(f"{c}.png", f"{s}.png") for c, s in pairs]
    import numpy as np
    from PIL import Image

    c0, test_content = pairs[0][0], dm.heldout_source("content", "test")
    with Image.open(out / "test_set" / "content" / f"{c0}.png") as im:  # the DataModule's own pixels, lossless
        assert np.array_equal(np.asarray(im.convert("RGB")), np.asarray(test_content.load(test_content.keys().index(c0))))


@pytest.mark.parametrize("extra, words", [
    (["--content-dir", "c"], ["--data gives the test images", "--content-dir"]),
    (["--data.init_args.num_test_content=zero"], ["num_test_content", "expected int"]),
])
def test_data_misuse_is_one_line(tmp_path: Path, checkpoint_file: Path, capsys: pytest.CaptureFixture[str],
                                 extra: list[str], words: list[str]) -> None:
    status = stylekernel_main(["evaluate", "--checkpoint", str(checkpoint_file), "--data", str(ROOT / "configs/data/demo.yaml"),
                               "--output", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1, err
    for word in words:
        assert word in err, err
    assert not (tmp_path / "o").exists()
