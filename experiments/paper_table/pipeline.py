"""The paper table's pipeline, from training to the manifest the tables are rendered from.

For every method (a column of the comparison table) and ablation: ``stylekernel fit`` (a
subprocess) unless a checkpoint is given, ``params.json`` of the checkpoint, ``stylekernel
evaluate`` with an evaluation preset (a subprocess), then ``manifest.json`` naming the files of
each column, and the tables (:mod:`experiments.paper_table.tables`). The command line is
``experiments/paper_table/run.py`` (its docstring shows the commands).

Outputs under ``--output``:

* ``methods/<m>/`` and ``ablations/<a>/``: ``train/`` (the fit run, unless a checkpoint was
  given), ``eval/summary.json`` (+ ``per_pair.csv``, ``summary.md``), ``params.json``
  (parameter count of the checkpoint's network, with the checkpoint's path and SHA-256, and
  ``weights``: where the weights come from, read from the checkpoint's ``stylekernel.release``
  record: ``released`` with the peer's source and files, or ``trained`` by this suite);
* ``manifest.json``: which column reads which files;
* ``paper_table.{md,tex,csv,json}`` and ``ablation_table.{md,tex,csv,json}`` (see
  :mod:`experiments.paper_table.tables`).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from stylekernel.baselines.registry import models
from stylekernel.weights import sha256_file

from .tables import METHOD_LABELS, render_from_manifest

ROOT = Path(__file__).resolve().parents[2]
ABLATION_DIR = ROOT / "experiments" / "ablations"
METHODS = tuple(models())  # every registered network is a column (method_config(name) trains it)
FULL_MODEL = "stylekernel"

# Smoke mode: the demo set, 2 training steps of the tiny run (configs/debug/tiny.yaml: random encoder,
# 32 px crops), evaluation at 96 px (the art Inception needs >= 75 px) on 3 content x 4 style
# images, timing at 96 px.
SMOKE_FIT_ARGS = [
    "--config", str(ROOT / "configs" / "debug" / "tiny.yaml"),
    "--trainer.max_steps=2",
    "--trainer.limit_val_batches=1",
    "--trainer.num_sanity_val_steps=0",
]
SMOKE_SIZE = 96
SMOKE_EVAL_ARGS = ["--size", str(SMOKE_SIZE), "--loss-encoder", "random", "--timing", "--timing-sizes", str(SMOKE_SIZE),
                   "--timing-runs", "2", "--timing-warmup", "1", "--timing-batch-size", "1"]
SMOKE_N_CONTENT, SMOKE_N_STYLE = 3, 4



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


def method_config(name: str) -> Path:
    """The config that trains a method: its peer's recipe (``configs/recipes/<name>.yaml``: the peer's
    batch size and iterations, and through it the model fragment) where one exists, else the model fragment."""
    recipe = ROOT / "configs" / "recipes" / f"{name}.yaml"
    return recipe if recipe.is_file() else ROOT / "configs" / "model" / f"{name}.yaml"


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
                         "must not disable checkpointing (trainer.enable_checkpointing; the `checkpoint:` group saves last.ckpt)")
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
        if method not in METHODS:
            raise SystemExit(f"--released {method}: not a registered method (one of {', '.join(METHODS)})")
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
    description = "The paper's comparison table and the ablation table, from training to Markdown / LaTeX / CSV."
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter,
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
        entries.append(("methods", m, [method_config(m)]))
    for a in ablations:
        entries.append(("ablations", a, [ROOT / "configs" / "model" / f"{FULL_MODEL}.yaml", ABLATION_DIR / f"{a}.yaml"]))

    columns: dict[str, dict[str, Any]] = {}
    for kind, name, model_configs in entries:
        entry_dir = output / kind / name
        if name in checkpoints:
            ckpt = checkpoints[name]
            print(f"[{name}] given checkpoint {ckpt}")
        else:
            if model_configs[0].parent.name == "recipes":
                # a peer's recipe last: its batch size and max_steps win over the data and trainer configs
                configs = [data_config, trainer_config, *args.extra_configs, *model_configs]
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
