"""How exact is FID's tr sqrt(S1 S2)? Both methods of ``metrics/fid.py`` against a 40-digit evaluation.

FID = ||mu1 - mu2||^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2). With n1, n2 images and 2048 features the
covariances are singular (rank n - 1), where the ArtFID reference's ``scipy.linalg.sqrtm`` of the
2048 x 2048 product is inexact. The truth is computed from the same float64 features with
``mpmath`` at 40 significant digits: tr sqrt(S1 S2) is the nuclear norm of C1 C2^T / sqrt((n1-1)(n2-1))
(C the centred features), an n1 x n2 SVD.

Features: art-Inception features of seeded synthetic images (smooth patterns plus noise, as the
tests write). With ``--weights art_inception`` (or a path) the real file is used when it is
cached; without it, a seeded random Inception with calibrated BatchNorm statistics, as the tests'
fake file, and the output says so. Also reported: the relative change of the FID when the
Inception features are computed in batches of 4 instead of 16 (float32 rounding).

    python -m experiments.benchmarks.fid_sqrtm_accuracy --n 40 --json experiments/benchmarks/results/fid_sqrtm_accuracy.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from experiments.benchmarks._measure import environment, save
from stylekernel_eval.inception import ArtInception, load_art_inception
from stylekernel_eval.metrics.fid import fid_from_features, frechet_distance


def smooth_images(seed: int, n: int, height: int, width: int) -> torch.Tensor:
    """(n, 3, H, W) in [0, 1], 8-bit values: low-frequency sinusoids plus noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    out = []
    for _ in range(n):
        chans = [0.5 + 0.35 * np.sin(2 * np.pi * (rng.uniform(1, 6) * xx + rng.uniform(1, 6) * yy) + rng.uniform(0, 2 * np.pi))
                 for _ in range(3)]
        img = np.clip(np.stack(chans) + rng.normal(0, 0.08, size=(3, height, width)), 0, 1)
        out.append(torch.from_numpy((img * 255).round() / 255).float())
    return torch.stack(out)


def fake_inception(seed: int = 2, size: int = 80) -> ArtInception:
    """A random Inception with BatchNorm statistics averaged over random batches (finite, spread features)."""
    torch.manual_seed(seed)
    model = ArtInception()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None
    nn.Module.train(model, True)
    with torch.no_grad():
        for _ in range(2):
            model(torch.rand(6, 3, size, size))
    return model.eval()


def features(model: nn.Module, images: torch.Tensor, batch: int) -> np.ndarray:
    with torch.no_grad():
        return np.concatenate([model(images[i:i + batch]).double().numpy() for i in range(0, len(images), batch)])


def high_precision_fid(a: np.ndarray, b: np.ndarray, digits: int = 40) -> float:
    import mpmath

    mpmath.mp.dps = digits
    A, B = mpmath.matrix(a.tolist()), mpmath.matrix(b.tolist())
    (n1, d), n2 = a.shape, b.shape[0]
    ma = [mpmath.fsum(A[i, j] for i in range(n1)) / n1 for j in range(d)]
    mb = [mpmath.fsum(B[i, j] for i in range(n2)) / n2 for j in range(d)]
    ca = mpmath.matrix([[A[i, j] - ma[j] for j in range(d)] for i in range(n1)])
    cb = mpmath.matrix([[B[i, j] - mb[j] for j in range(d)] for i in range(n2)])
    trace_sqrt = mpmath.fsum(mpmath.svd_r(ca * cb.T, compute_uv=False)) / mpmath.sqrt((n1 - 1) * (n2 - 1))
    dist = mpmath.fsum((ma[j] - mb[j]) ** 2 for j in range(d))
    tr1 = mpmath.fsum(ca[i, j] ** 2 for i in range(n1) for j in range(d)) / (n1 - 1)
    tr2 = mpmath.fsum(cb[i, j] ** 2 for i in range(n2) for j in range(d)) / (n2 - 1)
    return float(dist + tr1 + tr2 - 2 * trace_sqrt)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=40, help="images per set")
    p.add_argument("--weights", default=None, help="art Inception registry name or path (default: the seeded fake)")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    torch.set_num_threads(1)
    model = load_art_inception(args.weights) if args.weights else fake_inception()
    stylized, style = smooth_images(1, args.n, 80, 88), smooth_images(3, args.n, 88, 80)
    a16, b16 = features(model, stylized, 16), features(model, style, 16)
    a4, b4 = features(model, stylized, 4), features(model, style, 4)
    truth = high_precision_fid(a16, b16)
    args_cov = (a16.mean(0), np.cov(a16, rowvar=False), b16.mean(0), np.cov(b16, rowvar=False))
    t0 = time.process_time()
    exact = frechet_distance(*args_cov)
    t1 = time.process_time()
    reference = frechet_distance(*args_cov, sqrtm="reference")
    t2 = time.process_time()
    result: dict[str, Any] = {
        "inception": args.weights or "seeded fake (random weights, calibrated BatchNorm): NOT the real art Inception",
        "n_per_set": args.n, "image_hw": {"stylized": [80, 88], "style": [88, 80]},
        "fid_40_digits": truth,
        "exact_rel_error": abs(exact / truth - 1), "exact_cpu_s": t1 - t0,
        "reference_sqrtm_rel_error": abs(reference / truth - 1), "reference_cpu_s": t2 - t1,
        "fid_from_features_rel_error": abs(fid_from_features(a16, b16) / truth - 1),
        "batch4_vs_batch16_rel_change": abs(high_precision_fid(a4, b4) / truth - 1),
        "environment": environment(),
    }
    for k, v in result.items():
        print(f"{k}: {v:.3g}" if isinstance(v, float) else f"{k}: {v}")
    if args.json:
        save(result, args.json)


if __name__ == "__main__":
    main()
