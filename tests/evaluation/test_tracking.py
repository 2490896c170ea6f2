"""The summary and the per-pair table reach the configured logger (read back from an offline W&B run, and CSV)."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from stylekernel_eval.protocol import EvalConfig
from stylekernel_eval.runner import evaluate

_spec = importlib.util.spec_from_file_location("_wandb_records", Path(__file__).parents[1] / "experiments" / "_wandb_records.py")
assert _spec is not None and _spec.loader is not None
_records = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("_wandb_records", _records)  # its dataclasses look their module up
_spec.loader.exec_module(_records)


def _config(tmp_path: Path, image_writer: Any, **kw: Any) -> EvalConfig:
    x = image_writer(tmp_path / "x", [f"c{i}__s{i}.png" for i in range(3)], seed=1, size=(80, 80))[0].parent
    c = image_writer(tmp_path / "c", [f"c{i}.png" for i in range(3)], seed=2, size=(80, 80))[0].parent
    s = image_writer(tmp_path / "s", [f"s{i}.png" for i in range(3)], seed=3, size=(80, 80))[0].parent
    return EvalConfig(stylized_dir=str(x), content_dir=str(c), style_dir=str(s), output=str(tmp_path / "o"),
                      loss_encoder="random", progress=False, logger_dir=str(tmp_path / "logs"), fid_sqrtm="exact", **kw)


def _csv_rows(out: Path) -> list[dict[str, str]]:
    with open(out / "per_pair.csv") as f:
        return list(csv.DictReader(f))


def test_offline_wandb_run_holds_summary_and_per_pair_table(eval_weights: Path, image_writer: Any, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("NETRC", str(home / ".netrc"))
    for name in ("WANDB_API_KEY", "WANDB_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    had_service = "WANDB_SERVICE" in os.environ
    try:
        summary = evaluate(_config(tmp_path, image_writer, logger="wandb"))
    finally:
        import wandb

        wandb.teardown()
        if not had_service:
            os.environ.pop("WANDB_SERVICE", None)
    (run_dir,) = sorted((tmp_path / "logs" / "wandb").glob("offline-run-*"))
    run = _records.read_offline_run(run_dir)
    for name in ("lpips", "fid", "art_fid", "content_loss", "style_loss", "ssim"):
        assert run.summary[f"eval/{name}"] == pytest.approx(summary["metrics"][name]["value"], rel=1e-12), name
    assert run.summary["eval/n_pairs"] == 3 and run.summary["eval/reference_exact"] is summary["resizing"]["reference_exact"]
    assert run.summary["eval/images"] == summary["resizing"]["statement"]
    # the images are used as stored; the exact square root (this test's choice, for speed) is the one difference
    assert run.summary["eval/reference_exact"] is False
    assert run.summary["eval/images"] == ("NOT the reference's figure: FID square root: exact, not art-fid's scipy sqrtm "
                                          "(about 2e-6 relative apart, measured)")
    (table_row,) = [row for row in run.history if row.get("eval/per_pair/_type") == "table-file"]
    assert table_row["eval/per_pair/nrows"] == 3
    table = json.loads((run_dir / "files" / table_row["eval/per_pair/path"]).read_text())
    rows = _csv_rows(tmp_path / "o")
    assert [r[table["columns"].index("stylized")] for r in table["data"]] == [r["stylized"] for r in rows]
    k = table["columns"].index("lpips")
    assert [r[k] for r in table["data"]] == pytest.approx([float(r["lpips"]) for r in rows], rel=1e-12)


def test_csv_logger_gets_summary_and_per_pair_scores(eval_weights: Path, image_writer: Any, tmp_path: Path) -> None:
    summary = evaluate(_config(tmp_path, image_writer, logger="csv"))
    (metrics_file,) = (tmp_path / "logs" / "eval").glob("version_*/metrics.csv")
    logged = list(csv.DictReader(open(metrics_file)))
    final = [r for r in logged if r.get("eval/fid")]
    assert float(final[0]["eval/fid"]) == pytest.approx(summary["metrics"]["fid"]["value"], rel=1e-9)
    per_pair = {int(r["step"]): float(r["eval/per_pair/lpips"]) for r in logged if r.get("eval/per_pair/lpips")}
    assert per_pair == pytest.approx({int(r["index"]): float(r["lpips"]) for r in _csv_rows(tmp_path / "o")})
