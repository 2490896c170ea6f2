"""`stylekernel evaluate`: presets, flags, a checkpoint run, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stylekernel.cli import main as stylekernel_main

from stylekernel_eval.cli import parse_config
from stylekernel_eval.protocol import PRESET_DIR, EvalConfig, load_overrides


def test_every_eval_yaml_is_a_valid_config() -> None:
    files = sorted(PRESET_DIR.glob("*.yaml"))
    assert {f.stem for f in files} >= {"paper", "smoke"}
    for f in files:
        cfg = EvalConfig(checkpoint="x", content_dir="c", style_dir="s", **load_overrides(f))
        cfg.validate()


def test_paper_preset_and_precedence() -> None:
    cfg = parse_config(["--preset", "paper", "--checkpoint", "x.ckpt", "--content-dir", "c", "--style-dir", "s",
                        "--batch-size", "2", "--no-gram", "--fid-resize", "none"])
    assert (cfg.size, cfg.lpips_net, cfg.fid_variant, cfg.style_set, cfg.timing) == (512, "alex", "fid", "unique", True)
    assert cfg.timing_sizes == [256, 512, 1024]
    assert (cfg.batch_size, cfg.gram, cfg.fid_resize) == (2, False, None)
    assert EvalConfig().batch_size == 4  # the default lives in EvalConfig only


def test_checkpoint_run_writes_reports(eval_weights: Path, image_dirs: tuple[Path, Path], checkpoint_file: Path,
                                       tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    content, style = image_dirs
    out = tmp_path / "out"
    status = stylekernel_main(["evaluate", "--preset", "smoke", "--checkpoint", str(checkpoint_file),
                               "--content-dir", str(content), "--style-dir", str(style), "--size", "80",
                               "--output", str(out), "--loss-encoder", "random", "--no-progress",
                               "--timing", "--timing-sizes", "32", "--timing-runs", "2", "--timing-warmup", "1",
                               "--timing-batch-size", "2"])
    assert status == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_pairs"] == 9 and summary["config"]["checkpoint"] == str(checkpoint_file)
    assert [t["size"] for t in summary["timing"]["sizes"]] == [32]
    assert "ms / image" in capsys.readouterr().out


def test_default_command_reports_a_labelled_exact_fid_where_the_reference_sqrtm_fails(
        eval_weights: Path, image_writer: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """The default (`fid_sqrtm: reference`) does not crash after every metric has run where scipy's sqrtm
    fails (here made to raise, as it can; with real scipy: test_fid.py, slow)."""
    import numpy as np
    import scipy.linalg

    def singular(m: Any) -> Any:
        raise np.linalg.LinAlgError("Matrix is singular")

    monkeypatch.setattr(scipy.linalg, "sqrtm", singular)
    x = image_writer(tmp_path / "x", [f"c{i}__s{i}.png" for i in range(3)], seed=1, size=(80, 80))[0].parent
    c = image_writer(tmp_path / "c", [f"c{i}.png" for i in range(3)], seed=2, size=(80, 80))[0].parent
    s = image_writer(tmp_path / "s", [f"s{i}.png" for i in range(3)], seed=3, size=(80, 80))[0].parent
    out = tmp_path / "out"
    assert stylekernel_main(["evaluate", "--stylized-dir", str(x), "--content-dir", str(c), "--style-dir", str(s),
                             "--output", str(out), "--loss-encoder", "random", "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["fid_sqrtm"] == "reference"  # the default
    label = "exact (reference sqrtm failed: scipy's sqrtm raised LinAlgError: Matrix is singular, art-fid raises)"
    fid = summary["metrics"]["fid"]
    assert fid["sqrtm"] == label and "value_exact" not in fid and fid["value"] > 0
    assert summary["resizing"]["reference_exact"] is False  # no reference figure exists for it to be
    assert summary["resizing"]["differences"] == [f"FID square root: {label}; art-fid cannot compute this figure"]
    assert f"art-fid cannot compute this figure (sqrtm: {label})" in (out / "summary.md").read_text()
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and r.name.endswith("metrics.fid")]
    assert len(warned) == 1 and "Matrix is singular" in warned[0] and "exact value is reported instead" in warned[0]


def test_missing_weights_is_one_line(weights_cache: Path, image_dirs: tuple[Path, Path], checkpoint_file: Path,
                                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    content, style = image_dirs
    status = stylekernel_main(["evaluate", "--checkpoint", str(checkpoint_file), "--content-dir", str(content),
                               "--style-dir", str(style), "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1
    assert "stylekernel weights download alexnet" in err and "https://" in err


def test_bad_folders_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = stylekernel_main(["evaluate", "--stylized-dir", str(tmp_path / "nope"), "--content-dir", str(tmp_path),
                               "--style-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1 and "does not exist" in err
    status = stylekernel_main(["evaluate", "--content-dir", "c", "--style-dir", "s"])
    assert status == 2 and "exactly one of --checkpoint" in capsys.readouterr().err


def test_presets_ship_as_package_data(tmp_path: Path) -> None:
    """`--preset paper` works from a non-editable install: the wheel holds the presets and an
    unpacked copy of it (no repository around) resolves them."""
    import importlib.resources
    import shutil
    import subprocess
    import sys
    import zipfile

    assert "size: 512" in (importlib.resources.files("stylekernel_eval") / "presets" / "paper.yaml").read_text()
    pytest.importorskip("setuptools")
    pytest.importorskip("wheel")
    root = Path(__file__).resolve().parents[2]
    project = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("src", "evaluation"):
        shutil.copytree(root / name, project / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, project / name)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-q", "-w", "dist"],
                          cwd=project, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = (project / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        assert {"stylekernel_eval/presets/paper.yaml", "stylekernel_eval/presets/smoke.yaml"} <= set(zf.namelist())
        zf.extractall(tmp_path / "site")
    code = ("from stylekernel_eval.cli import parse_config; from stylekernel_eval.protocol import preset_path; "
            "print(preset_path('paper')); print(parse_config(['--preset', 'paper', '--checkpoint', 'x', '--content-dir', 'c', '--style-dir', 's']).size)")
    env = {**__import__("os").environ, "PYTHONPATH": str(tmp_path / "site")}
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    where, size = run.stdout.split()
    assert Path(where).is_relative_to(tmp_path / "site") and size == "512"
