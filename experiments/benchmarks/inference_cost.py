"""Inference cost of ``Stylizer`` (the engine of ``stylekernel stylize``): time and peak memory vs size.

    python experiments/benchmarks/inference_cost.py                          # 512..8192 within --time-budget
    python experiments/benchmarks/inference_cost.py --sizes 512 1024 --repeats 5
    python experiments/benchmarks/inference_cost.py --device cuda            # GPU: allocator peak per case
    python experiments/benchmarks/inference_cost.py --make-checkpoint /tmp/random.ckpt   # for /usr/bin/time -v

Each (model, size) case runs in a fresh subprocess, so its peak resident memory (``VmHWM``)
is its own (on CUDA also the allocator's peak, ``torch.cuda.max_memory_allocated``, reset per
case): reported are the process's whole peak RSS and the growth during stylization (peak
minus the RSS after building the network, before any image; it includes the warm-up passes,
which are never larger than the timed one). Time per image: ``Stylizer.stylize_tensor`` on a
square random content image of the given side and a 512x512 style image (the default style
size), I/O excluded, after a warm-up pass, device synchronised, with the feature cache off (every
pass encodes both images); the median of ``--repeats`` passes (one pass from 2048 up). Process CPU
time is reported next to wall time: on a shared machine the wall time includes waiting for
other processes. AdaIN (the same VGG encoder and decoder with a parameter-free transform) is the
floor: ``ratio`` = ours / AdaIN is the cost of the dynamic kernels; SANet and AdaConv rows (their
transform, and AdaConv's statistics-pass decoder, in tiles as well) get their ratio to AdaIN too
(``ratio_over_adain``). Encoders use random weights
(the weights do not change the cost). Sizes are skipped once the predicted time of the next
one (4x the previous) exceeds ``--time-budget`` seconds per case. ``estimate_mb`` is the
engine's own memory estimate (``stylekernel.inference.estimate_stylize_bytes``, which refuses
contents too large) next to the measured growth. FLOPs (``--flops-sizes``, default 512 1024):
the convolution and matrix-multiply FLOPs of one ``stylize_tensor`` call and of the transform
alone (``torch.utils.flop_counter``) at each of those sides, so the transform's share and the
FLOP ratio ours / AdaIN -- the floor of the time ratio at that size -- are printed and saved, and
each measured ratio row carries the floor of its size (``flop_floor``). The floor grows with the
content side: the style is encoded at ``--style-size`` whatever the content, so the shared style
encoding weighs less at larger contents. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "inference_cost.json"
MODELS = ("stylekernel", "adain", "sanet", "adaconv")  # all four transforms tiled (--tile-size)


def _rss_mb() -> float:
    """Current resident set size in MiB (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


def _peak_rss_mb() -> float:
    from stylekernel_eval.timing import peak_rss_mb

    return peak_rss_mb()


def build_net(model: str) -> Any:
    """The network of ``model`` with random encoder weights."""
    import torch

    from stylekernel.baselines.registry import build

    torch.manual_seed(0)
    return build(model, encoder_weights="random").eval()


def measure_case(case: dict[str, Any]) -> dict[str, Any]:
    """Run one (model, size) case in this process; returns the row for the JSON file."""
    import torch

    from stylekernel.inference import Stylizer

    logging.getLogger("stylekernel.nn.encoder").setLevel(logging.ERROR)  # random weights on purpose
    if case.get("threads"):
        torch.set_num_threads(case["threads"])
    device = torch.device(case["device"])
    net = build_net(case["model"])
    stylizer = Stylizer(net, device=device, precision=case["precision"], tile_size=case["tile_size"], feature_cache_bytes=0)
    rss_before = _rss_mb()  # process + network, before any image is processed
    size = case["size"]
    gen = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, size, size, generator=gen)
    style = torch.rand(1, 3, case["style_size"], case["style_size"], generator=gen)
    warm = torch.rand(1, 3, min(size, 256), min(size, 256), generator=gen)
    stylizer.stylize_tensor(warm, [style])  # warm-up (kernels, allocator)
    if size <= 1024:
        stylizer.stylize_tensor(content, [style])
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times, cpu = [], []
    for _ in range(case["repeats"] if size < 2048 else 1):
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        out = stylizer.stylize_tensor(content, [style])
        sync()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        del out
    peak = _peak_rss_mb()
    from stylekernel.inference import estimate_stylize_bytes

    estimate = estimate_stylize_bytes(net, size, size, tile_size=case["tile_size"]) / 2**20
    return {
        "model": case["model"],
        "size": size,
        "style_size": case["style_size"],
        "tile_size": case["tile_size"],
        "precision": case["precision"],
        "seconds_per_image": statistics.median(times),
        "seconds_all": times,
        "cpu_seconds_per_image": statistics.median(cpu),
        "peak_rss_mb": round(peak, 1),
        "rss_before_mb": round(rss_before, 1),
        "peak_growth_mb": round(peak - rss_before, 1),
        "cuda_peak_mb": round(torch.cuda.max_memory_allocated(device) / 2**20, 1) if device.type == "cuda" else None,
        "estimate_mb": round(estimate, 1),
    }


def count_flops(case: dict[str, Any]) -> dict[str, Any]:
    """FLOPs (convolutions and matrix products) of one stylize_tensor call and of its transform."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from stylekernel.inference import Stylizer

    logging.getLogger("stylekernel.nn.encoder").setLevel(logging.ERROR)
    net = build_net(case["model"])
    stylizer = Stylizer(net, tile_size=case["tile_size"], feature_cache_bytes=0)
    size, ss = case["size"], case["style_size"]
    content, style = torch.rand(1, 3, size, size), torch.rand(1, 3, ss, ss)
    with FlopCounterMode(display=False) as total:
        stylizer.stylize_tensor(content, [style])
    with torch.inference_mode():
        fc, fs = net.encode(content), net.encode(style)
        with FlopCounterMode(display=False) as transform:
            net.transform(fc, fs)
    return {"model": case["model"], "size": size, "flops": total.get_total_flops(), "transform_flops": transform.get_total_flops()}


def run_isolated(case: dict[str, Any]) -> dict[str, Any]:
    """``measure_case`` in a fresh Python process (its own peak RSS)."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--case", json.dumps(case)],
        capture_output=True, text=True,
    )  # fmt: skip
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"model": case["model"], "size": case["size"], "error": f"exit {proc.returncode}: {tail}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def make_checkpoint(path: Path, model: str) -> None:
    """Write a ``stylekernel fit``-style checkpoint with random weights (for CLI memory runs)."""
    import lightning as L

    from stylekernel.module import StyleTransferModule

    logging.getLogger("stylekernel.nn.encoder").setLevel(logging.ERROR)
    module = StyleTransferModule(build_net(model))
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.strategy.connect(module)
    path.parent.mkdir(parents=True, exist_ok=True)
    trainer.save_checkpoint(path)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--sizes", nargs="+", type=int, default=[512, 1024, 2048, 4096, 8192])
    parser.add_argument("--flops-sizes", "--flops-size", nargs="+", type=int, default=[512, 1024],
                        help="content sides of the FLOP count (0: skip)")  # fmt: skip
    parser.add_argument("--style-size", type=int, default=512)
    parser.add_argument("--tile-size", type=int, default=1024)
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--time-budget", type=float, default=1200.0, help="skip a size predicted to take longer (s/case)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--make-checkpoint", type=Path, default=None, help="write a random-weight checkpoint and exit")
    args = parser.parse_args(argv)
    if args.case:
        case = json.loads(args.case)
        print(json.dumps(count_flops(case) if case.get("flops") else measure_case(case)))
        return 0
    if args.make_checkpoint:
        make_checkpoint(args.make_checkpoint, args.models[0])
        return 0
    load_before = os.getloadavg()[0]
    rows: list[dict[str, Any]] = []
    last_time: dict[str, float] = {}
    flops: dict[str, Any] = {}
    for flops_size in [n for n in args.flops_sizes if n > 0]:
        at_size: dict[str, Any] = flops.setdefault(str(flops_size), {})
        for model in args.models:
            row = run_isolated({"model": model, "size": flops_size, "style_size": args.style_size,
                                "tile_size": args.tile_size, "flops": True})  # fmt: skip
            at_size[model] = row
            if "flops" in row:
                print(f"{model:<12} {flops_size:>5}: {row['flops'] / 1e9:.1f} GFLOP per image, transform "
                      f"{row['transform_flops'] / 1e9:.1f} GFLOP ({100 * row['transform_flops'] / row['flops']:.1f} %)")  # fmt: skip
        for model in [m for m in args.models if m != "adain"]:
            if "flops" in at_size.get(model, {}) and "flops" in at_size.get("adain", {}):
                floor = at_size[model]["flops"] / at_size["adain"]["flops"]
                at_size[f"flop_ratio_{model}_over_adain"] = round(floor, 3)
                print(f"FLOP ratio {model} / adain at {flops_size}: {floor:.3f} (the floor of the time ratio)")
    header = (f"{'model':<12} {'size':>5} {'wall s/img':>11} {'cpu s/img':>10} {'peak RSS MB':>12} {'growth MB':>10} "
              f"{'estimate MB':>12} {'cuda peak MB':>13}")  # fmt: skip
    print(header, flush=True)
    for size in sorted(args.sizes):
        for model in args.models:
            prev = last_time.get(model)
            if prev is not None and prev * 4 > args.time_budget:
                rows.append({"model": model, "size": size, "skipped": f"predicted {prev * 4:.0f} s > budget {args.time_budget:.0f} s"})
                print(f"{model:<12} {size:>5} skipped (predicted {prev * 4:.0f} s > --time-budget)", flush=True)
                continue
            case = {"model": model, "size": size, "style_size": args.style_size, "tile_size": args.tile_size,
                    "precision": args.precision, "device": args.device, "threads": args.threads, "repeats": args.repeats}  # fmt: skip
            row = run_isolated(case)
            rows.append(row)
            if "error" in row:
                print(f"{model:<12} {size:>5} failed: {row['error']}", flush=True)
                continue
            last_time[model] = row["seconds_per_image"]
            cuda_peak = "-" if row["cuda_peak_mb"] is None else f"{row['cuda_peak_mb']:.0f}"
            print(
                f"{model:<12} {size:>5} {row['seconds_per_image']:>11.2f} {row['cpu_seconds_per_image']:>10.2f} "
                f"{row['peak_rss_mb']:>12.0f} {row['peak_growth_mb']:>10.0f} {row['estimate_mb']:>12.0f} {cuda_peak:>13}",
                flush=True,
            )
    all_ratios: dict[str, dict[int, dict[str, float]]] = {}
    for model in [m for m in args.models if m != "adain"]:
        ratios = all_ratios.setdefault(model, {})
        for size in sorted(args.sizes):
            ours = next((r for r in rows if r.get("model") == model and r["size"] == size and "seconds_per_image" in r), None)
            floor = next((r for r in rows if r.get("model") == "adain" and r["size"] == size and "seconds_per_image" in r), None)
            if ours and floor:
                ratios[size] = {
                    "wall": round(ours["seconds_per_image"] / floor["seconds_per_image"], 3),
                    "cpu": round(ours["cpu_seconds_per_image"] / floor["cpu_seconds_per_image"], 3),
                    "peak_growth": round(ours["peak_growth_mb"] / max(floor["peak_growth_mb"], 1.0), 3),
                    "peak_rss": round(ours["peak_rss_mb"] / floor["peak_rss_mb"], 3),
                    **({"cuda_peak": round(ours["cuda_peak_mb"] / floor["cuda_peak_mb"], 3)} if ours.get("cuda_peak_mb") else {}),
                }
                flop_floor = flops.get(str(size), {}).get(f"flop_ratio_{model}_over_adain")
                if flop_floor is not None:
                    ratios[size]["flop_floor"] = flop_floor
                print(f"ratio {model} / adain at {size}: wall {ratios[size]['wall']:.2f}x, cpu {ratios[size]['cpu']:.2f}x, "
                      f"peak RSS {ratios[size]['peak_rss']:.2f}x, memory growth {ratios[size]['peak_growth']:.2f}x"
                      + (f", FLOP floor {flop_floor:.3f}" if flop_floor is not None else ""))  # fmt: skip
    import torch

    result = {
        "device": args.device,
        "cpu_count": os.cpu_count(),
        "threads": args.threads or torch.get_num_threads(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg()[0],
        "torch": torch.__version__,
        "python": platform.python_version(),
        "style_size": args.style_size,
        "tile_size": args.tile_size,
        "precision": args.precision,
        "encoder_weights": "random (weights do not change the cost)",
        "command": " ".join(sys.argv),
        "flops": flops,
        "results": rows,
        "ratio_stylekernel_over_adain": all_ratios.get("stylekernel", {}),
        "ratio_over_adain": all_ratios,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
