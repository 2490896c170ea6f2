"""`stylekernel stylize` and `stylekernel evaluate` give bit-identical outputs to the code before the
one-house refactor (issue 11, item 5).

The files in ``data/`` were written by commit 9f2ffa0 (see ``_build.py``). Pixels are compared
exactly; metric values and per-pair numbers exactly (float equality of the JSON/CSV numbers).
Only the spelling "stylised" -> "stylized" in keys, labels, folder names and column names is
normalised before comparing (that rename is part of the same issue); anything else that differs
fails.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ._build import DATA, run_all, write_inputs


def _spelling(text: str) -> str:
    return text.replace("stylis", "styliz").replace("Stylis", "Styliz")


def _norm(value: object) -> object:
    if isinstance(value, dict):
        return {_spelling(k): _norm(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return _spelling(value) if isinstance(value, str) else value


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGBA" if "A" in im.getbands() else "RGB"))


def _rows(path: Path) -> list[dict[str, object]]:
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    return [{_spelling(k): (float(v) if k not in ("stylised", "stylized", "content", "style") else _spelling(v)) for k, v in r.items()} for r in rows]


def _files(root: Path, suffix: str) -> dict[str, Path]:
    return {_spelling(p.relative_to(root).as_posix()): p for p in sorted(root.rglob(f"*{suffix}"))}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("golden")
    out = root / "out"
    run_all(write_inputs(root / "in"), out)
    return out


def test_the_golden_files_exist() -> None:
    assert len(_files(DATA, ".png")) >= 14 and len(_files(DATA, "summary.json")) == 2


def test_stylized_images_are_bit_identical(outputs: Path) -> None:
    want, got = _files(DATA, ".png"), _files(outputs, ".png")
    assert sorted(got) == sorted(want), "the set of written images (names included) changed"
    for name, path in want.items():
        a, b = _pixels(path), _pixels(got[name])
        assert a.shape == b.shape and a.dtype == b.dtype, name
        diff = int(np.abs(a.astype(int) - b.astype(int)).max())
        assert diff == 0, f"{name}: {int((a != b).sum())} values differ (max {diff})"


def test_evaluation_reports_are_identical(outputs: Path) -> None:
    for mode in ("eval_checkpoint", "eval_stylized_dir"):
        want = _norm(json.loads((DATA / mode / "summary.json").read_text()))
        got = _norm(json.loads((outputs / mode / "summary.json").read_text()))
        assert got["metrics"] == want["metrics"], mode  # type: ignore[index]
        assert got["n_pairs"] == want["n_pairs"], mode  # type: ignore[index]
        assert _rows(outputs / mode / "per_pair.csv") == _rows(DATA / mode / "per_pair.csv"), mode
