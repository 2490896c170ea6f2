"""What an evaluation costs per pair (CPU and wall), and its split between the phases; old vs new code.

Runs the real evaluation (:func:`stylekernel_eval.runner.evaluate`) on synthetic images with a
random-weight :class:`~stylekernel.nn.style_kernel_net.StyleKernelNet` and random (shape-exact)
LPIPS / art-Inception / VGG19 weight files in a cache under ``--workdir``, so it needs no download
and measures cost only (the metric values are meaningless). Content images are 640x768, style
images 704x640, ``--size 512`` resizes both (shorter side, centre crop). ``--mode stylized_dir``
scores a folder of ``<content>__<style>.png`` 512x512 files written once into the work folder.

The CPU figure is the process's CPU time (all threads) of the ``evaluate()`` call, divided by
the number of pairs; the split comes from the runner's phase timer (``cost_seconds``).

    python experiments/benchmarks/eval_cost.py --contents 4 --styles 8 --size 512 --mode checkpoint
    # side by side with another checkout (e.g. a git worktree of an older commit), alternating runs:
    python experiments/benchmarks/eval_cost.py --contents 4 --styles 8 --against /tmp/old --repeats 2 \
        --json experiments/benchmarks/results/eval_cost.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

HERE = Path(__file__).resolve()
def write_fake_weights(cache: Path) -> None:
    """Random AlexNet and art-Inception files under their registry names (BatchNorm calibrated)."""
    import torchvision

    from stylekernel import weights as weight_files
    from stylekernel_eval.inception import ArtInception

    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), cache / weight_files.spec("alexnet").filename)
    model = ArtInception()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None
    torch.nn.Module.train(model, True)
    with torch.no_grad():
        for _ in range(2):
            model(torch.rand(4, 3, 96, 96))
    torch.save(model.state_dict(), cache / weight_files.spec("art_inception").filename)
    vgg = torchvision.models.vgg19(weights=None).features.state_dict()  # the losses' VGG19 (features only)
    torch.save({f"features.{k}": v for k, v in vgg.items()}, cache / weight_files.spec("vgg19").filename)


def write_images(folder: Path, n: int, *, seed: int, size: tuple[int, int], prefix: str = "") -> None:
    """``n`` smooth random RGB PNGs of ``size`` (H, W) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    for i in range(n):
        img = np.stack([0.5 + 0.4 * np.sin(2 * np.pi * (rng.uniform(1, 8) * xx + rng.uniform(1, 8) * yy)) for _ in range(3)], -1)
        img = np.clip(img + rng.normal(0, 0.05, img.shape), 0, 1)
        Image.fromarray((img * 255).round().astype(np.uint8)).save(folder / f"{prefix}{i:03d}.png")



def prepare(workdir: Path, contents: int, styles: int) -> None:
    """Weights, content/style images and a stylized folder (once per work folder)."""
    marker = workdir / f"ready-{contents}x{styles}"
    if marker.exists():
        return
    cache = workdir / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    write_fake_weights(cache)
    write_images(workdir / "content", contents, seed=1, size=(640, 768), prefix="c")
    write_images(workdir / "style", styles, seed=2, size=(704, 640), prefix="s")
    stylized = workdir / "stylized"
    stylized.mkdir(exist_ok=True)
    rng = np.random.default_rng(3)
    for i in range(contents):
        for j in range(styles):
            img = rng.integers(0, 256, size=(512, 512, 3), dtype=np.uint8)
            Image.fromarray(img).save(stylized / f"c{i:03d}__s{j:03d}.png")
    marker.write_text("ok\n")


def measure(args: argparse.Namespace) -> dict:
    """One evaluate() call in this process, with whatever stylekernel_eval is importable."""
    workdir = args.workdir
    prepare(workdir, args.contents, args.styles)
    os.environ["STYLEKERNEL_CACHE"] = str(workdir / "cache")
    os.environ["STYLEKERNEL_OFFLINE"] = "1"
    import stylekernel_eval
    from stylekernel.nn.style_kernel_net import StyleKernelNet
    from stylekernel_eval.protocol import EvalConfig
    from stylekernel_eval.runner import evaluate

    torch.manual_seed(0)
    net = StyleKernelNet(encoder_weights="random").eval() if args.mode == "checkpoint" else None
    with tempfile.TemporaryDirectory() as out:
        common = dict(content_dir=str(workdir / "content"), style_dir=str(workdir / "style"), size=args.size,
                      batch_size=args.batch_size, output=out, loss_encoder="torchvision", gram=True, progress=False,
                      accelerator="cpu")
        if args.mode == "stylized_dir":
            common["stylized_dir"] = str(workdir / "stylized")
        if "fid_sqrtm" in EvalConfig.__dataclass_fields__:  # older code has no choice: its exact square root
            common["fid_sqrtm"] = "exact"  # the default reference sqrtm adds ~one 2048 x 2048 scipy sqrtm per run
        config = EvalConfig(**common)
        c0, t0 = time.process_time(), time.perf_counter()
        summary = evaluate(config, net=net)
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    n = summary["n_pairs"]
    cost = summary["cost_seconds"]
    return {
        "code": str(Path(stylekernel_eval.__file__).resolve().parents[2]), "mode": args.mode, "n_pairs": n,
        "grid": f"{args.contents}x{args.styles}", "size": args.size, "batch_size": args.batch_size,
        "cpu_s": cpu, "wall_s": wall, "cpu_s_per_pair": cpu / n, "wall_s_per_pair": wall / n,
        "setup_wall_s": cost.get("setup", 0.0), "phases_s": cost, "threads": torch.get_num_threads(),
        "load_average_1m": os.getloadavg()[0],
    }


def _child(code: Path, args: argparse.Namespace, mode: str) -> dict:
    env = dict(os.environ, PYTHONPATH=f"{code / 'src'}{os.pathsep}{code / 'evaluation'}")
    cmd = [sys.executable, str(HERE), "--measure", "--mode", mode, "--contents", str(args.contents),
           "--styles", str(args.styles), "--size", str(args.size), "--batch-size", str(args.batch_size),
           "--workdir", str(args.workdir)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{code}: measurement failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(args: argparse.Namespace) -> dict:
    """Alternate old/new runs per mode (same images, same work folder); medians and ratios."""
    new_code, old_code = HERE.parents[2], args.against.resolve()
    record: dict = {"grid": f"{args.contents}x{args.styles}", "size": args.size, "batch_size": args.batch_size,
                    "old": str(old_code), "new": str(new_code), "cpu": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(), "modes": {}}
    for mode in args.modes:
        runs: dict[str, list[dict]] = {"old": [], "new": []}
        for _ in range(args.repeats):
            for name, code in (("old", old_code), ("new", new_code)):
                runs[name].append(_child(code, args, mode))
                r = runs[name][-1]
                print(f"{mode:<13} {name}: {r['cpu_s_per_pair']:.3f} CPU s/pair, {r['wall_s_per_pair']:.3f} wall s/pair "
                      f"(load {r['load_average_1m']:.1f})", flush=True)
        med = {k: {m: statistics.median(r[m] for r in v) for m in ("cpu_s_per_pair", "wall_s_per_pair", "cpu_s",
                                                                    "setup_wall_s")} for k, v in runs.items()}
        n = runs["new"][0]["n_pairs"]
        entry = {"runs": runs, "median": med, "cpu_ratio_new_over_old": med["new"]["cpu_s_per_pair"] / med["old"]["cpu_s_per_pair"],
                 "wall_ratio_new_over_old": med["new"]["wall_s_per_pair"] / med["old"]["wall_s_per_pair"]}
        # EXTRAPOLATED (not measured): 20 x 40 = 800 pairs, per-pair CPU of this grid without the setup phase
        # (setup wall time taken as its CPU time), plus one setup; the new code's encodings amortise over more
        # pairs there, so its figure is an upper bound.
        for k in ("old", "new"):
            marginal = (med[k]["cpu_s"] - med[k]["setup_wall_s"]) / n
            entry.setdefault("extrapolated_20x40_cpu_s", {})[k] = med[k]["setup_wall_s"] + 800 * marginal
        record["modes"][mode] = entry
        print(f"{mode}: new/old CPU per pair = {entry['cpu_ratio_new_over_old']:.3f}; extrapolated 20x40 CPU s: "
              f"old {entry['extrapolated_20x40_cpu_s']['old']:.0f}, new {entry['extrapolated_20x40_cpu_s']['new']:.0f}")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contents", type=int, default=4)
    parser.add_argument("--styles", type=int, default=8)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--mode", choices=("checkpoint", "stylized_dir"), default="checkpoint")
    parser.add_argument("--modes", nargs="+", default=["checkpoint", "stylized_dir"], help="with --against")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "stylekernel-eval-cost")
    parser.add_argument("--against", type=Path, default=None, help="another checkout to compare with")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, default=None, help="write the measurement here")
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args)))
        return 0
    record = compare(args) if args.against is not None else measure(args)
    if args.against is None:
        print(json.dumps(record, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
