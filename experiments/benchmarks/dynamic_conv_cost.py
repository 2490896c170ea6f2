"""Dynamic convolution: memory-lean fast path vs the naive unfold reference.

Times forward+backward (median of N) and measures peak memory of one forward+backward at
C=512, 64x64, k=3 and k=5 (each case in a fresh process). Prints a table and saves JSON.

    python -m experiments.benchmarks.dynamic_conv_cost [--batch 1] [--repeats 5] [--out runs/benchmarks/dynamic_conv.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from experiments.benchmarks._measure import environment, median_time, peak_rss_mb, run_isolated, save
from stylekernel.nn.dynamic_conv import dynamic_conv2d, dynamic_conv2d_reference

IMPLS = {"fast": dynamic_conv2d, "unfold": dynamic_conv2d_reference}


def _case(case: dict) -> dict:
    torch.manual_seed(0)
    device = torch.device(case["device"])
    b, c, s, k, g = case["batch"], 512, case["size"], case["k"], 64
    x = torch.randn(b, c, s, s, device=device, requires_grad=True)
    kern = torch.randn(b, g, k * k, s, s, device=device, requires_grad=True)
    bias = torch.randn(b, c, s, s, device=device, requires_grad=True)
    fn = IMPLS[case["impl"]]

    def step() -> None:
        out = fn(x, kern, bias)
        out.sum().backward()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        step()
        peak = (torch.cuda.max_memory_allocated(device) - base) / 2**20
    else:
        base = peak_rss_mb()
        step()
        peak = peak_rss_mb() - base
    seconds = median_time(step, device=device, repeats=case["repeats"])
    return {**case, "seconds": seconds, "peak_mb": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=Path("experiments/benchmarks/results/dynamic_conv.json"))
    args = parser.parse_args()
    if args.case:
        print(json.dumps(_case(json.loads(args.case))))
        return
    rows = []
    for k in (3, 5):
        for impl in ("fast", "unfold"):
            case = {"impl": impl, "k": k, "batch": args.batch, "size": args.size, "repeats": args.repeats, "device": args.device}
            rows.append(run_isolated("experiments.benchmarks.dynamic_conv_cost", case))
            r = rows[-1]
            print(f"k={k} {impl:<7} fwd+bwd {r['seconds'] * 1e3:8.1f} ms   peak +{r['peak_mb']:7.1f} MiB")
    for k in (3, 5):
        fast, ref = (next(r for r in rows if r["k"] == k and r["impl"] == i) for i in ("fast", "unfold"))
        print(f"k={k}: fast/unfold time {fast['seconds'] / ref['seconds']:.2f}x, memory {fast['peak_mb'] / max(ref['peak_mb'], 1e-9):.2f}x")
    save({"environment": environment(), "shape": "B x 512 x S x S, G=64", "rows": rows}, args.out)


if __name__ == "__main__":
    main()
