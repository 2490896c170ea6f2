"""The paper's comparison table and the ablation table, from training to Markdown / LaTeX / CSV.

One command trains every method (``stylekernel fit``, a subprocess per method) or takes given
checkpoints, evaluates each with an evaluation preset (``stylekernel evaluate``, a subprocess),
and renders the tables::

    # the full pipeline (see README.md in this folder for the exact recipe)
    python experiments/paper_table/run.py --output runs/paper_table \\
        --data-config configs/data/coco_wikiart_local.yaml --trainer-config configs/trainer/gpu.yaml \\
        --content-dir coco_test --style-dir wikiart_test --preset paper

    # checkpoints you already have (methods not given are trained)
    python experiments/paper_table/run.py ... --checkpoint adain=adain.ckpt --checkpoint stylekernel=last.ckpt

    # the peers' released weights (`stylekernel weights import`) beside the models trained here
    python experiments/paper_table/run.py ... --released adain=adain_released.ckpt --released sanet=sanet_released.ckpt

    # everything on the embedded demo set, tiny, random encoder: shows the pipeline working
    python experiments/paper_table/run.py --smoke --output runs/paper_table_smoke

    # re-render the tables from the files of an earlier run (no training, no evaluation)
    python experiments/paper_table/run.py --output runs/paper_table --render-only

Outputs under ``--output``:

* ``methods/<m>/`` and ``ablations/<a>/``: ``train/`` (the fit run, unless a checkpoint was
  given), ``eval/summary.json`` (+ ``per_pair.csv``, ``summary.md``), ``params.json``
  (parameter count of the checkpoint's network, with the checkpoint's path and SHA-256, and
  ``weights``: where the weights come from, read from the checkpoint's ``stylekernel.release``
  record: ``released`` with the peer's source and files, or ``trained`` by this suite);
* ``manifest.json``: which column reads which files;
* ``paper_table.{md,tex,csv,json}`` and ``ablation_table.{md,tex,csv,json}``. The JSON sidecar
  holds every cell: its value, its display text, the file it was read from and the key path in
  that file. The Markdown, LaTeX and CSV files are rendered from the sidecar, which is built
  from the files only (``--render-only`` rebuilds it from the manifest).

The table's first row, "Weights", says for each column whether its numbers come from the peer's
released weights or from a model trained here (from ``params.json``, so it is traceable too).

The paper's reported figures (``paper_reported.json``: LPIPS 0.30, 0.035 s per 512 x 512 image)
are a separate column labelled "reported in the paper", never mixed with measured numbers.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from stylekernel.baselines.registry import MODELS
from stylekernel.weights import sha256_file

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PAPER_REPORTED = HERE / "paper_reported.json"
ABLATION_DIR = ROOT / "experiments" / "ablations"
METHODS = tuple(MODELS)  # every registered network is a column (configs/model/<name>.yaml trains it)
METHOD_LABELS = {"stylekernel": "Ours (StyleKernel)", "adain": "AdaIN", "sanet": "SANet", "adaattn": "AdaAttN",
                 "adaconv": "AdaConv", "stytr2": "StyTr-2"}
ORIGIN_LABELS = {"released": "released weights", "trained": "trained here"}
FULL_MODEL = "stylekernel"

# Smoke mode: the demo set, 2 training steps on 32 px crops with a random encoder, evaluation at
# 96 px (the art Inception needs >= 75 px) on 3 content x 4 style images, timing at 96 px.
SMOKE_FIT_ARGS = [
    "--model.init_args.net.init_args.encoder_weights=random",
    "--data.init_args.load_size=40",
    "--data.init_args.crop_size=32",
    "--data.init_args.val_size=32",
    "--data.init_args.test_size=32",
    "--data.init_args.batch_size=2",
    "--data.init_args.steps_per_epoch=2",
    "--trainer.max_steps=2",
    "--trainer.limit_val_batches=1",
    "--trainer.num_sanity_val_steps=0",
    "--trainer.log_every_n_steps=1",
    "--trainer.enable_progress_bar=false",
]
SMOKE_SIZE = 96
SMOKE_EVAL_ARGS = ["--size", str(SMOKE_SIZE), "--loss-encoder", "random", "--timing", "--timing-sizes", str(SMOKE_SIZE),
                   "--timing-runs", "2", "--timing-warmup", "1", "--timing-batch-size", "1"]
SMOKE_N_CONTENT, SMOKE_N_STYLE = 3, 4


# --------------------------------------------------------------------------------------------
# table rows: (key, label, lower_is_better, formatter, how to read it from the files)
def _summary_metric(name: str) -> dict[str, Any]:
    return {"file": "summary", "path": ["metrics", name, "value"]}


ROWS: list[dict[str, Any]] = [
    {"key": "lpips", "label": "LPIPS", "arrow": "down", "fmt": "{:.4f}", **_summary_metric("lpips")},
    {"key": "fid", "label": "FID", "arrow": "down", "fmt": "{:.2f}", **_summary_metric("fid")},
    {"key": "art_fid", "label": "ArtFID", "arrow": "down", "fmt": "{:.2f}", **_summary_metric("art_fid")},
    {"key": "content_loss", "label": "Content loss", "arrow": "down", "fmt": "{:.4f}", **_summary_metric("content_loss")},
    {"key": "style_loss", "label": "Style loss", "arrow": "down", "fmt": "{:.4f}", **_summary_metric("style_loss")},
    {"key": "ssim", "label": "SSIM", "arrow": "up", "fmt": "{:.4f}", **_summary_metric("ssim")},
    {"key": "seconds_per_image", "label": "Time (s / image @ {size})", "arrow": "down", "fmt": "{:.4f}",
     "file": "summary", "key_timing": True},
    {"key": "params", "label": "Parameters (M)", "arrow": "none", "fmt": "{:.2f}", "file": "params",
     "path": ["trainable_parameters"], "scale": 1e-6},
]
REPORTED_ROWS = {"lpips": "lpips", "seconds_per_image": "seconds_per_image_512"}


def lookup(data: Any, key: Sequence[Any]) -> Any:
    """``lookup(d, ["timing", "sizes", 1, "ms_per_image"])``; KeyError/IndexError if absent."""
    for part in key:
        data = data[part]
    return data


def cell_value(source_value: Any, cell: dict[str, Any]) -> float:
    """The value a cell shows, from the raw value in its file (``scale`` applied)."""
    return float(source_value) * float(cell.get("scale", 1.0))


def _read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def _timing_key(summary: dict[str, Any], size: int) -> list[Any] | None:
    timing = summary.get("timing") or {}
    for i, t in enumerate(timing.get("sizes", [])):
        if int(t["size"]) == size:
            return ["timing", "sizes", i, "ms_per_image"]
    return None


def _origin_cell(params: dict[str, Any] | None, source: str) -> dict[str, Any]:
    """The "Weights" cell of a column: released / trained here, from params.json's ``weights``."""
    key = ["weights", "origin"]
    try:
        origin = lookup(params, key)
    except (KeyError, TypeError):
        return {"value": None, "display": "n/a", "source": source, "reason": f"{'.'.join(key)} not in this file"}
    cell = {"value": origin, "display": ORIGIN_LABELS.get(origin, str(origin)), "source": source, "key": key}
    if origin == "released":
        cell["release_source"] = params["weights"].get("source")  # type: ignore[index]
    return cell


def build_sidecar(columns: list[dict[str, Any]], *, title: str, timing_size: int,
                  reported: Path | None = None, base: Path | None = None) -> dict[str, Any]:
    """The table as data, read from files only.

    ``columns``: ``{"name", "label", "summary": path of summary.json, "params": path of params.json}``.
    Every measured cell is ``{"value", "display", "source": file, "key": key path, "scale"}``
    (``value == lookup(json(source), key) * scale``); a missing number is ``{"value": None,
    "display": "n/a", "reason": ...}``. ``origins`` holds each column's "Weights" cell (released /
    trained here, read from params.json). ``reported`` adds the paper's figures as a separate column.
    """
    base = Path(base) if base is not None else None

    def rel(p: Path) -> str:
        p = Path(p).resolve()
        if base is not None:
            try:
                return str(p.relative_to(base.resolve()))
            except ValueError:
                pass
        return str(p)

    rows = []
    for row in ROWS:
        rows.append({"key": row["key"], "label": row["label"].format(size=timing_size), "better": row["arrow"]})
    cells: dict[str, dict[str, Any]] = {}
    origins: dict[str, dict[str, Any]] = {}
    for col in columns:
        files = {"summary": Path(col["summary"]), "params": Path(col["params"])}
        loaded: dict[str, Any] = {}
        for kind, path in files.items():
            loaded[kind] = _read_json(path) if path.is_file() else None
        col_cells: dict[str, Any] = {}
        for row in ROWS:
            data = loaded[row["file"]]
            path = files[row["file"]]
            if data is None:
                col_cells[row["key"]] = {"value": None, "display": "n/a", "reason": f"{rel(path)} does not exist"}
                continue
            if row.get("key_timing"):
                key = _timing_key(data, timing_size)
                scale = 1e-3  # ms -> s
                if key is None:
                    col_cells[row["key"]] = {"value": None, "display": "n/a", "source": rel(path),
                                             "reason": f"no timing at {timing_size} px in this summary"}
                    continue
            else:
                key, scale = list(row["path"]), row.get("scale", 1.0)
            try:
                raw = lookup(data, key)
            except (KeyError, IndexError, TypeError):
                col_cells[row["key"]] = {"value": None, "display": "n/a", "source": rel(path),
                                         "reason": f"{'.'.join(map(str, key))} not in this file"}
                continue
            if raw is None:
                col_cells[row["key"]] = {"value": None, "display": "n/a", "source": rel(path), "key": key,
                                         "reason": "the file holds null (not finite)"}
                continue
            cell = {"source": rel(path), "key": key, "scale": scale, "raw": raw}
            cell["value"] = cell_value(raw, cell)
            cell["display"] = row["fmt"].format(cell["value"]) if abs(cell["value"]) < 1e5 else f"{cell['value']:.4g}"
            col_cells[row["key"]] = cell
        cells[col["name"]] = col_cells
        origins[col["name"]] = _origin_cell(loaded["params"], rel(files["params"]))
    sidecar: dict[str, Any] = {
        "title": title,
        "timing_size": timing_size,
        "base": str(base.resolve()) if base is not None else None,
        "rows": rows,
        "columns": [{"name": c["name"], "label": c["label"], "summary": rel(c["summary"]), "params": rel(c["params"])}
                    for c in columns],
        "cells": cells,
        "origins": origins,
        "reported": None,
    }
    if reported is not None:
        rep = _read_json(reported)
        rep_cells: dict[str, Any] = {}
        for row_key, fig_key in REPORTED_ROWS.items():
            fig = rep["figures"][fig_key]
            display = f"{fig['value']:.2f}" if row_key == "lpips" else f"{fig['value']:.3f}"
            rep_cells[row_key] = {"value": fig["value"], "display": display, "source": rel(reported),
                                  "key": ["figures", fig_key, "value"], "as_reported": fig["as_reported"]}
        sidecar["reported"] = {"label": f"{rep['label']}", "method": rep["method"], "paper": rep["paper"],
                               "cells": rep_cells,
                               "footnotes": [f["as_reported"] + f" ({f['context']})" for f in rep["figures"].values()]}
        if timing_size != 512:
            rep_cells.pop("seconds_per_image", None)  # the paper's time is at 512: not comparable
            sidecar["reported"]["footnotes"].append(f"measured times here are at {timing_size} px, not 512: "
                                                    "the paper's time is not shown next to them")
    return sidecar


def _grid(sidecar: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and body rows (display strings) from a sidecar."""
    header = ["Metric"] + [c["label"] for c in sidecar["columns"]]
    rep = sidecar.get("reported")
    if rep:
        header.append(rep["label"])
    body = []
    origins = sidecar.get("origins") or {}
    if origins:
        body.append(["Weights"] + [origins[c["name"]]["display"] for c in sidecar["columns"]] + ([""] if rep else []))
    for row in sidecar["rows"]:
        arrow = {"down": " (lower is better)", "up": " (higher is better)"}.get(row["better"], "")
        line = [row["label"] + arrow] + [sidecar["cells"][c["name"]][row["key"]]["display"] for c in sidecar["columns"]]
        if rep:
            line.append(rep["cells"].get(row["key"], {}).get("display", ""))
        body.append(line)
    return header, body


def render_markdown(sidecar: dict[str, Any]) -> str:
    header, body = _grid(sidecar)
    out = [f"## {sidecar['title']}", "", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    out += ["| " + " | ".join(line) + " |" for line in body]
    out.append("")
    out.append("Measured numbers: each cell is read from the file named in the JSON sidecar "
               "(`" + sidecar.get("sidecar_name", "table.json") + "`).")
    released = {c["label"]: sidecar["origins"][c["name"]].get("release_source") for c in sidecar["columns"]
                if (sidecar.get("origins") or {}).get(c["name"], {}).get("value") == "released"}
    if sidecar.get("origins"):
        out.append("Weights: *" + ORIGIN_LABELS["released"] + "* are the peer's published files imported with "
                   "`stylekernel weights import` (" + (", ".join(f"{k}: {v}" for k, v in released.items()) or "none here")
                   + "); *" + ORIGIN_LABELS["trained"] + "*: trained by `stylekernel fit` of this suite.")
    rep = sidecar.get("reported")
    if rep:
        out.append(f"The last column is **{rep['label']}** ({rep['paper']}); it is not measured by this repository:")
        out += [f"- {note}" for note in rep["footnotes"]]
    return "\n".join(out) + "\n"


def _tex(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#")):
        text = text.replace(a, b)
    return text.replace("(lower is better)", r"$\downarrow$").replace("(higher is better)", r"$\uparrow$")


def render_latex(sidecar: dict[str, Any]) -> str:
    header, body = _grid(sidecar)
    rep = sidecar.get("reported")
    n_measured = len(sidecar["columns"])
    spec = "l" + "c" * n_measured + ("|c" if rep else "")
    lines = [r"% rendered by experiments/paper_table/run.py from " + sidecar.get("sidecar_name", "table.json"),
             r"\begin{table}[t]", r"\centering", r"\begin{tabular}{" + spec + "}", r"\toprule",
             " & ".join(_tex(h) for h in header) + r" \\", r"\midrule"]
    lines += [" & ".join(_tex(c) for c in line) + r" \\" for line in body]
    lines += [r"\bottomrule", r"\end{tabular}"]
    caption = _tex(sidecar["title"]) + "."
    if rep:
        caption += " Last column: " + _tex(rep["label"]) + " (" + "; ".join(_tex(n) for n in rep["footnotes"]) + ")."
    lines += [r"\caption{" + caption + "}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def render_csv(sidecar: dict[str, Any], path: Path) -> None:
    """Long format: one row per cell with its value, display text and source (measured and reported)."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["metric", "column", "kind", "value", "display", "source", "key"])
        for col in sidecar["columns"]:
            c = (sidecar.get("origins") or {}).get(col["name"])
            if c is not None:
                w.writerow(["weights", col["name"], "origin", "" if c["value"] is None else c["value"], c["display"],
                            c.get("source", ""), json.dumps(c.get("key", ""))])
        for row in sidecar["rows"]:
            for col in sidecar["columns"]:
                c = sidecar["cells"][col["name"]][row["key"]]
                w.writerow([row["key"], col["name"], "measured", "" if c["value"] is None else repr(c["value"]),
                            c["display"], c.get("source", ""), json.dumps(c.get("key", ""))])
            rep = sidecar.get("reported")
            if rep and row["key"] in rep["cells"]:
                c = rep["cells"][row["key"]]
                w.writerow([row["key"], "paper_reported", "reported in the paper", repr(c["value"]), c["display"],
                            c["source"], json.dumps(c["key"])])


def write_table(sidecar: dict[str, Any], output: Path, stem: str) -> dict[str, Path]:
    output.mkdir(parents=True, exist_ok=True)
    sidecar["sidecar_name"] = f"{stem}.json"
    paths = {ext: output / f"{stem}.{ext}" for ext in ("json", "md", "tex", "csv")}
    paths["json"].write_text(json.dumps(sidecar, indent=2) + "\n")
    paths["md"].write_text(render_markdown(sidecar))
    paths["tex"].write_text(render_latex(sidecar))
    render_csv(sidecar, paths["csv"])
    return paths


def render_from_manifest(output: Path) -> dict[str, dict[str, Path]]:
    """Rebuild both tables from ``output/manifest.json`` and the files it names."""
    manifest = _read_json(output / "manifest.json")
    written = {}
    for table in manifest["tables"]:
        columns = [{**c, "summary": output / c["summary"], "params": output / c["params"]} for c in table["columns"]]
        reported = PAPER_REPORTED if table.get("reported") else None
        sidecar = build_sidecar(columns, title=table["title"], timing_size=manifest["timing_size"],
                                reported=reported, base=output)
        written[table["stem"]] = write_table(sidecar, output, table["stem"])
    return written


# --------------------------------------------------------------------------------------------
# running the pipeline
def _run(cmd: list[str], log: Path, *, env: dict[str, str] | None = None) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    print("+ " + shlex.join(cmd), flush=True)
    t0 = time.perf_counter()
    with open(log, "w") as f:
        res = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, text=True,
                             env={**os.environ, **(env or {})})
    print(f"  ({time.perf_counter() - t0:.1f} s, log {log})", flush=True)
    if res.returncode != 0:
        tail = log.read_text()[-3000:]
        raise SystemExit(f"command failed (exit {res.returncode}): {shlex.join(cmd)}\n--- last lines of {log} ---\n{tail}")


def _stylekernel() -> list[str]:
    return [sys.executable, "-m", "stylekernel.cli"]


def find_checkpoint(train_dir: Path) -> Path | None:
    """``last.ckpt`` under ``train_dir`` (newest if several), else the newest ``*.ckpt``."""
    ckpts = sorted(train_dir.rglob("*.ckpt"), key=lambda p: p.stat().st_mtime)
    last = [p for p in ckpts if p.name == "last.ckpt"]
    return (last or ckpts or [None])[-1]


def train(name: str, configs: list[Path], train_dir: Path, fit_args: list[str], *, retrain: bool,
          keep_logger: bool = False) -> Path:
    """``stylekernel fit`` into ``train_dir``; returns its checkpoint (an existing one unless ``retrain``).

    The logger is replaced by a CSVLogger writing to ``train_dir/logs/version_0``, unless
    ``keep_logger``: then the configured logger is kept and only its ``save_dir`` is pointed at
    ``train_dir`` (so the checkpoints land there too).
    """
    existing = None if retrain else find_checkpoint(train_dir)
    if existing is not None:
        print(f"[{name}] reusing {existing} (pass --retrain to train again)")
        return existing
    cmd = [*_stylekernel(), "fit"]
    for c in configs:
        cmd += ["--config", str(c)]
    cmd.append(f"--trainer.default_root_dir={train_dir}")
    if keep_logger:
        cmd.append(f"--trainer.logger.init_args.save_dir={train_dir}")
    else:
        logger = {"class_path": "lightning.pytorch.loggers.CSVLogger",
                  "init_args": {"save_dir": str(train_dir), "name": "logs", "version": 0}}
        cmd.append(f"--trainer.logger={json.dumps(logger)}")
    cmd += fit_args
    _run(cmd, train_dir / "fit.log")
    ckpt = find_checkpoint(train_dir)
    if ckpt is None:
        raise SystemExit(f"[{name}] training finished but wrote no checkpoint under {train_dir}: the trainer config "
                         "needs a ModelCheckpoint callback (configs/trainer/*.yaml have one)")
    return ckpt


def weights_origin(ckpt: Path) -> dict[str, Any]:
    """Where a checkpoint's weights come from, by its ``stylekernel.release`` record.

    ``{"origin": "released", "method", "source", "files"}`` for `stylekernel weights import`
    checkpoints, else ``{"origin": "trained"}`` (written by `stylekernel fit`).
    """
    from stylekernel.checkpoint import read_checkpoint

    release = (read_checkpoint(ckpt).get("stylekernel") or {}).get("release")
    if not isinstance(release, dict):
        return {"origin": "trained"}
    return {"origin": "released", **{k: release.get(k) for k in ("method", "source", "files")}}


def write_params(ckpt: Path, path: Path) -> None:
    from stylekernel.checkpoint import load_net

    net = load_net(ckpt)
    record = {"checkpoint": str(Path(ckpt).resolve()), "checkpoint_sha256": sha256_file(Path(ckpt)),
              "network": type(net).__name__,
              "trainable_parameters": net.parameter_count(trainable_only=True),
              "total_parameters": net.parameter_count(trainable_only=False),
              "weights": weights_origin(ckpt),
              "note": "trainable parameters: the frozen VGG encoder is excluded; total_parameters includes it"}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")


def evaluate(ckpt: Path, eval_dir: Path, *, presets: list[str], content_dir: Path, style_dir: Path,
             eval_args: list[str], log: Path) -> Path:
    cmd = [*_stylekernel(), "evaluate"]
    for p in presets:
        cmd += ["--preset", p]
    cmd += ["--checkpoint", str(ckpt), "--content-dir", str(content_dir), "--style-dir", str(style_dir),
            "--output", str(eval_dir), "--no-progress", *eval_args]
    _run(cmd, log)
    return eval_dir / "summary.json"


def _parse_checkpoints(items: list[str], flag: str = "--checkpoint") -> dict[str, Path]:
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"{flag} wants NAME=PATH, got {item!r}")
        if not Path(path).is_file():
            raise SystemExit(f"{flag} {name}: {path} does not exist")
        out[name] = Path(path).resolve()
    return out


def parse_released(items: list[str]) -> dict[str, Path]:
    """``--released METHOD=PATH``: checkpoints of `stylekernel weights import`, checked to hold that method's release."""
    from stylekernel.errors import StyleKernelError

    released = _parse_checkpoints(items, "--released")
    for method, path in released.items():
        if method not in MODELS:
            raise SystemExit(f"--released {method}: not a registered method (one of {', '.join(MODELS)})")
        try:
            origin = weights_origin(path)
        except StyleKernelError as exc:
            raise SystemExit(f"--released {method}: {exc}") from None
        if origin["origin"] != "released":
            raise SystemExit(f"--released {method}: {path} has no release record (it was not written by "
                             "`stylekernel weights import`; give a checkpoint trained here with --checkpoint)")
        if origin["method"] != method:
            raise SystemExit(f"--released {method}: {path} holds the released weights of {origin['method']}, not {method}")
    return released


def prepare_smoke_data(output: Path) -> tuple[Path, Path]:
    """``stylekernel data demo`` into output/demo, then a 3 x 4 subset as the smoke test set."""
    import shutil

    demo = output / "demo"
    if not (demo / "content").is_dir():
        _run([*_stylekernel(), "data", "demo", "--output", str(demo), "--size", str(SMOKE_SIZE)], output / "logs" / "demo.log")
    subset = output / "demo_test"
    for kind, n in (("content", SMOKE_N_CONTENT), ("style", SMOKE_N_STYLE)):
        dst = subset / kind
        if dst.is_dir():
            shutil.rmtree(dst)
        dst.mkdir(parents=True)
        for f in sorted(p for p in (demo / kind).iterdir() if p.is_file())[:n]:
            shutil.copy2(f, dst / f.name)
    return subset / "content", subset / "style"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Arguments that start with '--' are passed as --fit-arg=--trainer.max_steps=10.")
    p.add_argument("--output", type=Path, default=ROOT / "runs" / "paper_table", help="output folder")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS, help="columns of the paper table")
    p.add_argument("--ablations", nargs="*", default=None,
                   help="ablation names (experiments/ablations/<name>.yaml); default: all; none: give the flag alone")
    p.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH",
                   help="use this checkpoint instead of training NAME (a method or an ablation); repeatable")
    p.add_argument("--released", action="append", default=[], metavar="METHOD=PATH",
                   help="evaluate the peer's released weights (a `stylekernel weights import` checkpoint) for METHOD "
                        "instead of training it; repeatable")
    p.add_argument("--data-config", type=Path, default=ROOT / "configs" / "data" / "coco_wikiart_local.yaml")
    p.add_argument("--trainer-config", type=Path, default=ROOT / "configs" / "trainer" / "gpu.yaml")
    p.add_argument("--config", dest="extra_configs", action="append", type=Path, default=[],
                   help="more fit config files, after the data and trainer configs (e.g. a logger); repeatable")
    p.add_argument("--fit-arg", action="append", default=[], help="extra argument of every `stylekernel fit`; repeatable")
    p.add_argument("--preset", action="append", default=None, help="evaluation preset(s) (default: paper)")
    p.add_argument("--eval-arg", action="append", default=[], help="extra argument of every `stylekernel evaluate`")
    p.add_argument("--content-dir", type=Path, help="evaluation content images (paper: 20 MS-COCO test images)")
    p.add_argument("--style-dir", type=Path, help="evaluation style images (paper: 40 WikiArt test images)")
    p.add_argument("--timing-size", type=int, default=512, help="image size of the time row (must be in the preset's timing_sizes)")
    p.add_argument("--smoke", action="store_true", help="demo data, 2 steps, 32 px, random encoder: the pipeline only")
    p.add_argument("--keep-logger", action="store_true",
                   help="keep the logger of the configs (e.g. configs/logger/wandb.yaml; it needs a save_dir) "
                        "instead of a CSVLogger; its save_dir is set to the model's train/ folder")
    p.add_argument("--retrain", action="store_true", help="train even if a checkpoint exists in the output folder")
    p.add_argument("--render-only", action="store_true", help="only re-render the tables from manifest.json")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    output: Path = args.output.resolve()
    if args.render_only:
        for stem, paths in render_from_manifest(output).items():
            print(f"{stem}: " + ", ".join(str(p) for p in paths.values()))
        return 0
    t_start = time.perf_counter()
    ablations = sorted(p.stem for p in ABLATION_DIR.glob("*.yaml")) if args.ablations is None else list(args.ablations)
    for a in ablations:
        if not (ABLATION_DIR / f"{a}.yaml").is_file():
            raise SystemExit(f"no ablation {a!r} in {ABLATION_DIR}")
    checkpoints = _parse_checkpoints(args.checkpoint)
    released = parse_released(args.released)
    both = sorted(set(checkpoints) & set(released))
    if both:
        raise SystemExit(f"{', '.join(both)}: given both --checkpoint and --released")
    checkpoints.update(released)
    args.methods += [m for m in released if m not in args.methods]
    presets = args.preset or (["smoke"] if args.smoke else ["paper"])
    fit_args, eval_args = list(args.fit_arg), list(args.eval_arg)
    timing_size = args.timing_size
    if args.smoke:
        # tiny models: several OpenMP threads on a small shared CPU spin-wait and run several times slower
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        data_config, trainer_config = ROOT / "configs" / "data" / "demo.yaml", ROOT / "configs" / "trainer" / "cpu.yaml"
        fit_args = SMOKE_FIT_ARGS + fit_args
        eval_args = SMOKE_EVAL_ARGS + eval_args
        timing_size = SMOKE_SIZE
        content_dir, style_dir = prepare_smoke_data(output)
    else:
        data_config, trainer_config = args.data_config, args.trainer_config
        if args.content_dir is None or args.style_dir is None:
            raise SystemExit("--content-dir and --style-dir are required (the held-out test images), or use --smoke")
        content_dir, style_dir = args.content_dir.resolve(), args.style_dir.resolve()

    methods = list(args.methods)
    if ablations and FULL_MODEL not in methods:
        methods.insert(0, FULL_MODEL)  # the full model is the reference column of the ablation table
    entries: list[tuple[str, str, list[Path]]] = []
    for m in methods:
        entries.append(("methods", m, [ROOT / "configs" / "model" / f"{m}.yaml"]))
    for a in ablations:
        entries.append(("ablations", a, [ROOT / "configs" / "model" / f"{FULL_MODEL}.yaml", ABLATION_DIR / f"{a}.yaml"]))

    columns: dict[str, dict[str, Any]] = {}
    for kind, name, model_configs in entries:
        entry_dir = output / kind / name
        if name in checkpoints:
            ckpt = checkpoints[name]
            print(f"[{name}] given checkpoint {ckpt}")
        else:
            # model config first, then data and trainer, extra configs, and the ablation last
            configs = [model_configs[0], data_config, trainer_config, *args.extra_configs, *model_configs[1:]]
            ckpt = train(name, configs, entry_dir / "train", fit_args, retrain=args.retrain,
                         keep_logger=args.keep_logger)
        write_params(ckpt, entry_dir / "params.json")
        summary = evaluate(ckpt, entry_dir / "eval", presets=presets, content_dir=content_dir, style_dir=style_dir,
                           eval_args=eval_args, log=entry_dir / "eval.log")
        columns[name] = {"name": name, "label": METHOD_LABELS.get(name, name),
                         "summary": str(summary.relative_to(output)),
                         "params": str((entry_dir / "params.json").relative_to(output)), "checkpoint": str(ckpt)}

    tables = [{"stem": "paper_table", "reported": True, "columns": [columns[m] for m in args.methods],
               "title": "Comparison with the state of the art" + (" (SMOKE: demo data, random encoder, 2 steps)" if args.smoke else "")}]
    if ablations:
        full = {**columns[FULL_MODEL], "label": "full model"}
        tables.append({"stem": "ablation_table", "reported": False, "columns": [full] + [columns[a] for a in ablations],
                       "title": "Ablations of StyleKernelNet" + (" (SMOKE)" if args.smoke else "")})
    manifest = {"timing_size": timing_size, "smoke": args.smoke, "presets": presets, "eval_args": eval_args,
                "fit_args": fit_args, "content_dir": str(content_dir), "style_dir": str(style_dir),
                "data_config": str(data_config), "trainer_config": str(trainer_config), "tables": tables,
                "command": [sys.argv[0], *(argv if argv is not None else sys.argv[1:])]}
    output.mkdir(parents=True, exist_ok=True)
    (output / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for stem, paths in render_from_manifest(output).items():
        print(f"{stem}: " + ", ".join(str(p) for p in paths.values()))
    print(f"done in {time.perf_counter() - t_start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
