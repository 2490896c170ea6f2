"""Training-step cost of StyleKernelNet against the AdaIN floor (same encoder, decoder, losses).

Forward + backward + Adam step of ``StyleTransferModule.compute_losses`` (content, style,
identity 1 and 2 losses) at 256x256, batch 4, on one device: median seconds over several steps
and peak memory (each model in a fresh process), then the ratio. Prints and saves JSON.

    python -m experiments.benchmarks.train_step_cost [--size 256] [--batch 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from experiments.benchmarks._measure import environment, median_time, peak_rss_mb, run_isolated, save
from stylekernel.baselines.registry import build
from stylekernel.module import StyleTransferModule


def _case(case: dict) -> dict:
    torch.manual_seed(0)
    device = torch.device(case["device"])
    module = StyleTransferModule(build(case["model"], encoder_weights="random")).to(device)
    opt = torch.optim.Adam(module.net.trainable_parameters(), lr=1e-4)
    content = torch.rand(case["batch"], 3, case["size"], case["size"], device=device)
    style = torch.rand(case["batch"], 3, case["size"], case["size"], device=device)

    def step() -> None:
        terms, _ = module.compute_losses(content, style)
        terms["loss"].backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        step()
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        base = peak_rss_mb()
        step()
        peak = peak_rss_mb() - base
    seconds = median_time(step, device=device, warmup=0, repeats=case["repeats"])
    return {**case, "seconds": seconds, "peak_mb": peak, "params": module.net.parameter_count()}


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
        print(json.dumps(_case(json.loads(args.case))))
        return
    rows = []
    for model in args.models:
        case = {"model": model, "size": args.size, "batch": args.batch, "repeats": args.repeats, "device": args.device}
        rows.append(run_isolated("experiments.benchmarks.train_step_cost", case))
        r = rows[-1]
        print(f"{model:<12} {r['params'] / 1e6:6.2f} M params  step {r['seconds']:7.2f} s  peak +{r['peak_mb']:8.1f} MiB")
    base = next((r for r in rows if r["model"] == "adain"), None)
    if base:
        for r in rows:
            print(f"{r['model']:<12} / adain: time {r['seconds'] / base['seconds']:.2f}x, memory {r['peak_mb'] / max(base['peak_mb'], 1e-9):.2f}x")
    save({"environment": environment(), "rows": rows}, args.out)


if __name__ == "__main__":
    main()
