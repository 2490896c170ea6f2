"""Parameter counts and forward time per image of every registered network.

    python experiments/benchmarks/model_cost.py                     # CPU, 512x512, all models
    python experiments/benchmarks/model_cost.py --device cuda --sizes 256 512 1024

For each model of ``stylekernel.baselines.registry.MODELS``: trainable and total parameters
(``net.parameter_count()``), and the time of one full forward pass (encoder on content and
style, transform, decoder) on a batch of one content and one style image of the same size, in
``torch.inference_mode``, after ``--warmup`` untimed passes, device synchronised, I/O excluded.
The encoder is built with random weights: the weights do not change the cost. Prints a table
and writes JSON (default ``experiments/benchmarks/results/model_cost.json``), with the process
CPU time per image next to the wall time and the machine's load average before and after: on a
shared machine the wall time is inflated by other processes, while with ``--threads 1`` the CPU
time is close to what one idle core would take.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from stylekernel.baselines.registry import MODELS, build

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "model_cost.json"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(name: str, *, size: int, device: torch.device, warmup: int, repeats: int) -> dict[str, Any]:
    """Parameter counts and forward seconds per image of model ``name`` at ``size`` x ``size``."""
    torch.manual_seed(0)
    net = build(name, encoder_weights="random").to(device).eval()
    content = torch.rand(1, 3, size, size, device=device)
    style = torch.rand(1, 3, size, size, device=device)
    times, cpu_times = [], []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            _sync(device)
            start, cpu_start = time.perf_counter(), time.process_time()
            out = net(content, style)
            _sync(device)
            if i >= warmup:
                times.append(time.perf_counter() - start)
                cpu_times.append(time.process_time() - cpu_start)
    assert out.shape == content.shape
    return {
        "model": name,
        "class_path": net.init_config()["class_path"],
        "size": size,
        "trainable_parameters": net.parameter_count(),
        "total_parameters": net.parameter_count(trainable_only=False),
        "seconds_per_image_median": statistics.median(times),
        "seconds_per_image_min": min(times),
        "seconds_per_image_mean": statistics.fmean(times),
        "seconds_all": times,
        # CPU time of this process (all threads): with --threads 1 on CPU a load-independent
        # estimate of the single-core cost when other processes share the machine
        "cpu_seconds_per_image_median": statistics.median(cpu_times),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--sizes", nargs="+", type=int, default=[512], help="square image sides (multiples of 16)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (CPU); default: torch's")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    logging.getLogger("stylekernel.nn.encoder").setLevel(logging.ERROR)  # random weights on purpose
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    rows = []
    print(f"{'model':<12} {'size':>5} {'trainable':>12} {'total':>12} {'wall s/img (median)':>20} {'min':>8} {'cpu s/img':>10}")
    for size in args.sizes:
        for name in args.models:
            row = measure(name, size=size, device=device, warmup=args.warmup, repeats=args.repeats)
            rows.append(row)
            print(
                f"{name:<12} {size:>5} {row['trainable_parameters']:>12,} {row['total_parameters']:>12,} "
                f"{row['seconds_per_image_median']:>20.3f} {row['seconds_per_image_min']:>8.3f} "
                f"{row['cpu_seconds_per_image_median']:>10.3f}",
                flush=True,
            )
    result = {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        # 1-min load averages before/after: timings taken on a busy machine are not comparable
        "load_average_before": load_before[0] if load_before else None,
        "load_average_after": os.getloadavg()[0] if load_before else None,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "warmup": args.warmup,
        "repeats": args.repeats,
        "batch": 1,
        "encoder_weights": "random (weights do not change the cost)",
        "results": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
