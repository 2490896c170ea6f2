"""experiments/paper_table/run.py --smoke end to end, and the qualitative grid script.

The smoke pipeline runs `stylekernel data demo`, trains 2 methods (adain, stylekernel) and 1
ablation (no_cgm) for 2 steps each, evaluates each (fake LPIPS / art-Inception weights, random
loss encoder) and renders the tables (about 70 s on 2 CPU cores: marked slow). The checks: every measured cell of the sidecar is the
value at its key path in the file it names; Markdown, LaTeX and CSV show exactly the sidecar's
cells; the paper's reported figures sit only in their labelled column; --render-only rebuilds
the same tables from the files. The fast tests import run.py's two halves directly
(``experiments.paper_table.pipeline`` and ``.tables``) and run the entry point from elsewhere.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import sys
import time
from pathlib import Path

import pytest

from ._cli import ROOT, run

RUN = ROOT / "experiments" / "paper_table" / "run.py"
FIGURES = ROOT / "experiments" / "figures" / "qualitative.py"
PAPER_REPORTED = ROOT / "experiments" / "paper_table" / "paper_reported.json"


def _eval_conftest():  # type: ignore[no-untyped-def]
    """tests/evaluation/conftest.py as a module (its fake-weight factories; importlib import mode)."""
    spec = importlib.util.spec_from_file_location("_stylekernel_eval_conftest", ROOT / "tests" / "evaluation" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# the smoke run: 3 fits + 3 evaluations as subprocesses, about 70 s on 2 shared CPU cores (slow)
@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], float]:
    from stylekernel import weights as weight_files

    fakes = _eval_conftest()
    root = tmp_path_factory.mktemp("paper-table")
    cache, hub = root / "cache", root / "torch-home" / "hub" / "checkpoints"
    cache.mkdir()
    hub.mkdir(parents=True)
    for name, make in (("alexnet", fakes.make_fake_alexnet), ("art_inception", fakes.make_fake_art_inception)):
        filename = weight_files.spec(name).filename
        make(cache / filename)
        os.symlink(cache / filename, hub / filename)
    env = {"STYLEKERNEL_CACHE": str(cache), "TORCH_HOME": str(root / "torch-home"), "STYLEKERNEL_OFFLINE": "1"}
    out = root / "out"
    t0 = time.perf_counter()
    res = run([sys.executable, str(RUN), "--smoke", "--output", str(out), "--methods", "adain", "stylekernel",
               "--ablations", "no_cgm"], cwd=root, env=env, timeout=900)
    wall = time.perf_counter() - t0
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return out, env, wall


def _lookup(data, key):  # type: ignore[no-untyped-def]
    for part in key:
        data = data[part]
    return data


def _check_sidecar(out: Path, stem: str, expected_columns: list[str]) -> dict:  # type: ignore[type-arg]
    sidecar = json.loads((out / f"{stem}.json").read_text())
    assert [c["name"] for c in sidecar["columns"]] == expected_columns
    row_keys = [r["key"] for r in sidecar["rows"]]
    assert row_keys == ["lpips", "fid", "art_fid", "content_loss", "style_loss", "ssim", "seconds_per_image", "params"]
    for col in sidecar["columns"]:
        for key in row_keys:
            cell = sidecar["cells"][col["name"]][key]
            # every cell has a number (smoke runs compute every metric) read from a file
            assert cell["value"] is not None, (col["name"], key, cell)
            source = out / cell["source"]
            assert source.is_file(), source
            assert source.name in ("summary.json", "params.json")
            assert source.parent.parent.name == col["name"] or source.parent.name == col["name"]
            raw = _lookup(json.loads(source.read_text()), cell["key"])
            assert math.isclose(float(raw) * cell["scale"], cell["value"], rel_tol=1e-12), (col["name"], key)
    return sidecar


@pytest.mark.slow
def test_smoke_pipeline_every_cell_comes_from_a_file(smoke_run) -> None:  # type: ignore[no-untyped-def]
    out, env, wall = smoke_run
    print(f"smoke pipeline wall time: {wall:.1f} s")
    paper = _check_sidecar(out, "paper_table", ["adain", "stylekernel"])
    ablation = _check_sidecar(out, "ablation_table", ["stylekernel", "no_cgm"])
    assert ablation["reported"] is None  # the paper's figures only in the comparison table
    # every column was trained here (no --released): the Weights row says so, from params.json
    for name in ("adain", "stylekernel"):
        origin = paper["origins"][name]
        assert origin["display"] == "trained here" and origin["source"] == f"methods/{name}/params.json"
        assert _lookup(json.loads((out / origin["source"]).read_text()), origin["key"]) == "trained"

    # the time row reads the timing entry of the timing size, in seconds
    for name in ("adain", "stylekernel"):
        cell = paper["cells"][name]["seconds_per_image"]
        summary = json.loads((out / cell["source"]).read_text())
        entry = summary["timing"]["sizes"][cell["key"][2]]
        assert entry["size"] == paper["timing_size"] == 96 and cell["value"] == entry["ms_per_image"] / 1000
        params = json.loads((out / paper["cells"][name]["params"]["source"]).read_text())
        assert Path(params["checkpoint"]).is_file() and params["trainable_parameters"] > 0

    # reported figures: from paper_reported.json, in their own column only, labelled
    reported = json.loads(PAPER_REPORTED.read_text())
    rep = paper["reported"]
    assert "reported in the paper" in rep["label"]
    assert rep["cells"]["lpips"]["value"] == reported["figures"]["lpips"]["value"] == 0.30
    assert "seconds_per_image" not in rep["cells"]  # smoke times are at 96 px, not comparable with the paper's 512
    assert any("0.035 s per 512x512 image" in n for n in rep["footnotes"])
    assert all(c["source"].endswith("paper_reported.json") for c in rep["cells"].values())

    # Markdown: one line per row, measured columns then the reported column, exactly the sidecar's displays
    md = (out / "paper_table.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| Metric"))
    assert header.split(" | ")[-1].rstrip(" |") == rep["label"]
    for row in paper["rows"]:
        line = next(l for l in md.splitlines() if l.startswith(f"| {row['label']}"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        expected = [paper["cells"][c["name"]][row["key"]]["display"] for c in paper["columns"]]
        expected.append(rep["cells"].get(row["key"], {}).get("display", ""))
        assert cells[1:] == expected, row["key"]
    weights_line = next(l for l in md.splitlines() if l.startswith("| Weights |"))
    assert [c.strip() for c in weights_line.strip("|").split("|")][1:] == ["trained here", "trained here", ""]

    # LaTeX: the same displays
    tex = (out / "paper_table.tex").read_text()
    assert r"\begin{tabular}{lcc|c}" in tex
    for col in paper["cells"].values():
        for cell in col.values():
            assert cell["display"] in tex

    # CSV: one measured row per cell with the full-precision value and its source; reported rows labelled
    with open(out / "paper_table.csv") as f:
        rows = list(csv.DictReader(f))
    measured_rows = [r for r in rows if r["kind"] == "measured"]
    assert len(measured_rows) == 2 * 8
    for r in measured_rows:
        cell = paper["cells"][r["column"]][r["metric"]]
        raw = _lookup(json.loads((out / r["source"]).read_text()), json.loads(r["key"]))
        assert float(r["value"]) == cell["value"] and math.isclose(float(raw) * cell["scale"], float(r["value"]))
    assert [(r["column"], r["value"]) for r in rows if r["kind"] == "origin"] == [("adain", "trained"), ("stylekernel", "trained")]
    reported_rows = [r for r in rows if r["kind"] == "reported in the paper"]
    assert [(r["metric"], r["column"], r["kind"]) for r in reported_rows] == [
        ("lpips", "paper_reported", "reported in the paper")]

    # --render-only rebuilds the same tables from the files alone
    before = {p.name: p.read_text() for p in out.glob("*_table.*")}
    for p in out.glob("*_table.*"):
        p.unlink()
    res = run([sys.executable, str(RUN), "--output", str(out), "--render-only"], cwd=out, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert {p.name: p.read_text() for p in out.glob("*_table.*")} == before


@pytest.mark.slow
def test_qualitative_grid_per_method(smoke_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    out, env, _ = smoke_run
    figs = tmp_path / "figs"
    res = run([sys.executable, str(FIGURES), "--from-paper-table", str(out), "--content-dir",
               str(out / "demo_test" / "content"), "--style-dir", str(out / "demo_test" / "style"),
               "--output", str(figs), "--size", "32", "--num-content", "2", "--num-style", "3"], cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    pad = 4
    for name in ("adain", "stylekernel"):
        img = Image.open(figs / f"{name}.png")
        # (1 + 3 styles) columns x (1 + 2 contents) rows of 32 px cells, 4 px padding
        assert img.size == (4 * 32 + 5 * pad, 3 * 32 + 4 * pad)
    record = json.loads((figs / "grid.json").read_text())
    assert set(record["checkpoints"]) == {"adain", "stylekernel"} and len(record["content"]) == 2
    assert (figs / "comparison.png").is_file()


# --- released weights beside trained ones (fast: no training, no evaluation) ------------------
@pytest.fixture(scope="module")
def paper_table():  # type: ignore[no-untyped-def]
    """``(pipeline, tables)``: the modules of experiments/paper_table, its package loaded as
    ``_paper_table`` (in pytest, ``experiments`` names this tests/experiments folder)."""
    folder = RUN.parent
    spec = importlib.util.spec_from_file_location("_paper_table", folder / "__init__.py", submodule_search_locations=[str(folder)])
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules["_paper_table"] = package
    spec.loader.exec_module(package)
    return importlib.import_module("_paper_table.pipeline"), importlib.import_module("_paper_table.tables")


def test_run_py_is_the_entry_point_from_any_folder(tmp_path: Path) -> None:
    """``python experiments/paper_table/run.py`` finds its modules wherever it is started; its
    options are the pipeline's; --render-only reads a manifest and its files, nothing else."""
    res = run([sys.executable, str(RUN), "--help"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "--render-only" in res.stdout and "--released METHOD=PATH" in res.stdout
    out = tmp_path / "out"
    _summary(out / "methods" / "adain" / "eval" / "summary.json", 0.25)
    column = {"name": "adain", "label": "AdaIN", "summary": "methods/adain/eval/summary.json",
              "params": "methods/adain/params.json"}
    manifest = {"timing_size": 512, "tables": [{"stem": "paper_table", "reported": False, "title": "t", "columns": [column]}]}
    (out / "manifest.json").write_text(json.dumps(manifest))
    res = run([sys.executable, str(RUN), "--output", str(out), "--render-only"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    sidecar = json.loads((out / "paper_table.json").read_text())
    assert sidecar["cells"]["adain"]["lpips"]["value"] == 0.25 and sidecar["cells"]["adain"]["params"]["value"] is None
    assert "| LPIPS (lower is better) | 0.2500 |" in (out / "paper_table.md").read_text()


def _write_checkpoint(path: Path, *, release: dict | None) -> Path:  # type: ignore[type-arg]
    """A checkpoint of a random AdaIN net; with ``release`` as `stylekernel weights import` writes it."""
    import torch

    from stylekernel.baselines.adain import AdaINNet

    torch.manual_seed(0)
    net = AdaINNet(encoder_weights="random")
    record = {"version": "0.1.0", "net": net.init_config(), "encoder_source": "random"}
    if release is not None:
        record.update(encoder_source="released:adain", release=release)
    torch.save({"state_dict": {"net." + k: v for k, v in net.state_dict().items()}, "stylekernel": record}, path)
    return path


def _summary(path: Path, lpips: float) -> Path:
    metrics = {k: {"value": v} for k, v in (("lpips", lpips), ("fid", 10.0), ("art_fid", 20.0), ("content_loss", 1.0),
                                              ("style_loss", 2.0), ("ssim", 0.5))}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"metrics": metrics, "timing": {"sizes": [{"size": 512, "ms_per_image": 35.0}]}}))
    return path


def test_released_column_says_where_the_weights_come_from(tmp_path: Path, paper_table) -> None:  # type: ignore[no-untyped-def]
    from stylekernel.baselines.registry import MODELS

    pt, tables = paper_table
    assert pt.METHODS == tuple(MODELS)  # the method list is the registry's
    assert pt.build_parser().get_default("methods") == list(MODELS)
    release = {"method": "adain", "source": "https://github.com/naoto0804/pytorch-AdaIN",
               "files": {"vgg": {"name": "vgg_normalised.pth", "sha256": "0" * 64},
                         "decoder": {"name": "decoder.pth", "sha256": "1" * 64}}}
    released = _write_checkpoint(tmp_path / "adain_released.ckpt", release=release)
    trained = _write_checkpoint(tmp_path / "adain_trained.ckpt", release=None)
    assert pt.parse_released([f"adain={released}"]) == {"adain": released.resolve()}

    out = tmp_path / "out"
    columns = []
    for name, ckpt, lpips in (("adain", released, 0.41), ("stylekernel", trained, 0.31)):
        pt.write_params(ckpt, out / "methods" / name / "params.json")
        columns.append({"name": name, "label": tables.METHOD_LABELS[name], "params": out / "methods" / name / "params.json",
                        "summary": _summary(out / "methods" / name / "eval" / "summary.json", lpips)})
    params = json.loads((out / "methods" / "adain" / "params.json").read_text())
    assert params["weights"] == {"origin": "released", **release}
    sidecar = tables.build_sidecar(columns, title="t", timing_size=512, base=out)
    assert {n: c["value"] for n, c in sidecar["origins"].items()} == {"adain": "released", "stylekernel": "trained"}
    for name, cell in sidecar["origins"].items():  # traceable like every other cell
        assert _lookup(json.loads((out / cell["source"]).read_text()), cell["key"]) == cell["value"]
    assert sidecar["cells"]["adain"]["lpips"]["value"] == 0.41

    paths = tables.write_table(sidecar, out, "paper_table")
    md = paths["md"].read_text()
    line = next(l for l in md.splitlines() if l.startswith("| Weights |"))
    assert [c.strip() for c in line.strip("|").split("|")] == ["Weights", "released weights", "trained here"]
    assert "AdaIN: https://github.com/naoto0804/pytorch-AdaIN" in md
    assert "released weights & trained here" in paths["tex"].read_text()
    with open(paths["csv"]) as f:
        origin_rows = [r for r in csv.DictReader(f) if r["kind"] == "origin"]
    assert [(r["column"], r["value"], r["source"]) for r in origin_rows] == [
        ("adain", "released", "methods/adain/params.json"), ("stylekernel", "trained", "methods/stylekernel/params.json")]


def test_released_checkpoints_are_checked(tmp_path: Path, paper_table) -> None:  # type: ignore[no-untyped-def]
    pt, _ = paper_table
    release = {"method": "adain", "source": "x", "files": {}}
    released = _write_checkpoint(tmp_path / "r.ckpt", release=release)
    trained = _write_checkpoint(tmp_path / "t.ckpt", release=None)
    with pytest.raises(SystemExit, match="has no release record"):
        pt.parse_released([f"adain={trained}"])
    with pytest.raises(SystemExit, match="released weights of adain, not sanet"):
        pt.parse_released([f"sanet={released}"])
    with pytest.raises(SystemExit, match="not a registered method"):
        pt.parse_released([f"nope={released}"])
    (tmp_path / "junk.ckpt").write_text("junk")
    with pytest.raises(SystemExit, match="not a readable checkpoint"):
        pt.parse_released([f"adain={tmp_path / 'junk.ckpt'}"])


@pytest.mark.slow
def test_export_of_a_fit_run_has_its_config_and_evaluation(smoke_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`stylekernel export` on a checkpoint left by a real `stylekernel fit` (the smoke run's) and its summary."""
    from ._cli import stylekernel

    out, env, _ = smoke_run
    ckpt = json.loads((out / "methods" / "adain" / "params.json").read_text())["checkpoint"]
    summary = out / "methods" / "adain" / "eval" / "summary.json"
    res = stylekernel("export", ckpt, "--output", str(tmp_path / "rel"), "--eval-summary", str(summary), cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    card = (tmp_path / "rel" / "README.md").read_text()
    assert "`config.yaml` of the run folder" in card and "class_path: stylekernel.baselines.adain.AdaINNet" in card
    lpips = json.loads(summary.read_text())["metrics"]["lpips"]["value"]
    assert f"{lpips:.4f}" in card
    content = sorted((out / "demo_test" / "content").iterdir())[0]
    style = sorted((out / "demo_test" / "style").iterdir())[0]
    for name, ref in (("ckpt", ckpt), ("dir", str(tmp_path / "rel"))):
        res = stylekernel("stylize", "--checkpoint", ref, "--content", str(content), "--style", str(style),
                          "--output", str(tmp_path / f"{name}.png"), cwd=tmp_path, env=env)
        assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "ckpt.png").read_bytes() == (tmp_path / "dir.png").read_bytes()
