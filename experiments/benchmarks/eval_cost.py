"""What an evaluation costs: wall time for N pairs and its split between the phases.

Runs the real evaluation (:func:`stylekernel_eval.runner.evaluate`) on synthetic images with a
random-weight :class:`~stylekernel.nn.style_kernel_net.StyleKernelNet` and random (shape-exact)
LPIPS / art-Inception weight files written to a temporary cache, so it needs no download and
measures cost only (the metric values are meaningless). The split comes from the runner's own
phase timer (``cost_seconds`` in the summary): load, stylize, lpips, inception, losses, ssim,
compute (metric sync + FID), setup (building the networks and reading weights).

    python experiments/benchmarks/eval_cost.py --contents 4 --styles 3 --size 512 --json cost.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image


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


def write_images(folder: Path, n: int, *, seed: int, size: tuple[int, int]) -> None:
    """``n`` smooth random RGB PNGs of ``size`` (H, W) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    for i in range(n):
        img = np.stack([0.5 + 0.4 * np.sin(2 * np.pi * (rng.uniform(1, 8) * xx + rng.uniform(1, 8) * yy)) for _ in range(3)], -1)
        img = np.clip(img + rng.normal(0, 0.05, img.shape), 0, 1)
        Image.fromarray((img * 255).round().astype(np.uint8)).save(folder / f"{i:03d}.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contents", type=int, default=4)
    parser.add_argument("--styles", type=int, default=3)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="write the measurement here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cache = root / "cache"
        cache.mkdir()
        os.environ["STYLEKERNEL_CACHE"] = str(cache)
        os.environ["STYLEKERNEL_OFFLINE"] = "1"
        write_fake_weights(cache)
        side = int(args.size * 1.25)
        write_images(root / "content", args.contents, seed=1, size=(side, int(side * 1.2)))
        write_images(root / "style", args.styles, seed=2, size=(int(side * 1.1), side))

        from stylekernel.nn.style_kernel_net import StyleKernelNet
        from stylekernel_eval.protocol import EvalConfig
        from stylekernel_eval.runner import evaluate

        torch.manual_seed(0)
        net = StyleKernelNet(encoder_weights="random").eval()
        config = EvalConfig(content_dir=str(root / "content"), style_dir=str(root / "style"), size=args.size,
                            batch_size=args.batch_size, output=str(root / "out"), loss_encoder="random", gram=True,
                            devices=args.devices, accelerator="cpu" if not torch.cuda.is_available() else "auto")
        t0 = time.perf_counter()
        summary = evaluate(config, net=net)
        wall = time.perf_counter() - t0

    cost = summary["cost_seconds"]
    n = summary["n_pairs"]
    record = {
        "n_pairs": n, "size": args.size, "batch_size": args.batch_size, "devices": args.devices, "wall_s": wall,
        "s_per_pair": wall / n, "phases_s": cost,
        "phases_share": {k: v / cost["total"] for k, v in cost.items() if k != "total"},
        "device": summary["device"], "torch": torch.__version__, "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0],
    }
    print(f"{n} pairs at {args.size}: {wall:.1f} s wall ({wall / n:.2f} s per pair), device {summary['device']}, "
          f"{torch.get_num_threads()} threads, load average {record['load_average_1m']:.1f}")
    for k, v in sorted(cost.items(), key=lambda kv: -kv[1]):
        if k != "total":
            print(f"  {k:<10} {v:8.2f} s  {100 * v / cost['total']:5.1f} %")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
