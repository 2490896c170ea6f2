"""Training-step cost of StyleKernelNet against the AdaIN floor (same encoder, decoder, losses).

Forward + backward + Adam step of ``StyleTransferModule.compute_losses`` (content, style,
identity 1 and 2 losses) at 256x256, batch 4, on one device. Time: all models live in one
process and their steps are interleaved (A, B, A, B, ...), so that machine noise hits every
model alike; the figure is the median per model and the ratio of medians. Peak memory: one step
of each model in a fresh process. Prints and saves JSON.

    python -m experiments.benchmarks.train_step_cost [--size 256] [--batch 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Callable

import torch

from experiments.benchmarks._measure import environment, median_time, peak_rss_mb, run_isolated, save
from stylekernel.baselines.registry import build
from stylekernel.module import StyleTransferModule


def _stepper(model: str, *, size: int, batch: int, device: torch.device) -> tuple[Callable[[], None], int]:
    """A closure doing one training step of ``model`` on fixed random images, and its size."""
    torch.manual_seed(0)
    module = StyleTransferModule(build(model, encoder_weights="random")).to(device)
    opt = torch.optim.Adam(module.net.trainable_parameters(), lr=1e-4)
    content = torch.rand(batch, 3, size, size, device=device)
    style = torch.rand(batch, 3, size, size, device=device)

    def step() -> None:
        terms, _ = module.compute_losses(content, style)
        terms["loss"].backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step, module.net.parameter_count()


def _memory_case(case: dict) -> dict:
    device = torch.device(case["device"])
    step, params = _stepper(case["model"], size=case["size"], batch=case["batch"], device=device)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        step()
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        base = peak_rss_mb()
        step()
        peak = peak_rss_mb() - base
    return {**case, "peak_mb": peak, "params": params}


def interleaved_times(models: list[str], *, size: int, batch: int, repeats: int, device: torch.device) -> dict[str, list[float]]:
    """Seconds per step of each model, steps interleaved across models, after one warm-up each."""
    steppers = {m: _stepper(m, size=size, batch=batch, device=device)[0] for m in models}
    times: dict[str, list[float]] = {m: [] for m in models}
    for m in models:
        steppers[m]()  # warm-up
    for _ in range(repeats):
        for m in models:
            times[m].append(median_time(steppers[m], device=device, warmup=0, repeats=1))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=["stylekernel", "adain"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=Path("experiments/benchmarks/results/train_step.json"))
    args = parser.parse_args()
    if args.case:
        print(json.dumps(_memory_case(json.loads(args.case))))
        return
    device = torch.device(args.device)
    times = interleaved_times(args.models, size=args.size, batch=args.batch, repeats=args.repeats, device=device)
    rows = []
    for model in args.models:
        case = {"model": model, "size": args.size, "batch": args.batch, "device": args.device}
        r = run_isolated("experiments.benchmarks.train_step_cost", case)
        r["seconds_all"] = times[model]
        r["seconds"] = statistics.median(times[model])
        rows.append(r)
        print(f"{model:<12} {r['params'] / 1e6:6.2f} M params  step {r['seconds']:7.2f} s (median of {args.repeats})  peak +{r['peak_mb']:8.1f} MiB")
    base = next((r for r in rows if r["model"] == "adain"), None)
    if base:
        for r in rows:
            print(f"{r['model']:<12} / adain: time {r['seconds'] / base['seconds']:.2f}x, memory {r['peak_mb'] / max(base['peak_mb'], 1e-9):.2f}x")
    save({"environment": environment(), "rows": rows}, args.out)


if __name__ == "__main__":
    main()
