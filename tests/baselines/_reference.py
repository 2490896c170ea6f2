"""Naive float64 reference implementations shared by the baseline math tests."""

from __future__ import annotations

import torch
from torch import Tensor, nn

EPS = 1e-5


def mvn_ref(x: Tensor, eps: float = EPS, unbiased: bool = False) -> Tensor:
    """(B, C, H, W) -> per-instance, per-channel (x - mean) / sqrt(var + eps), float64; var is
    the sum of squared deviations over N (biased) or N - 1 (``unbiased``, the peers')."""
    x = x.double()
    n = x.shape[2] * x.shape[3]
    mean = x.mean(dim=(2, 3), keepdim=True)
    var = ((x - mean) ** 2).sum(dim=(2, 3), keepdim=True) / (n - 1 if unbiased else n)
    return (x - mean) / torch.sqrt(var + eps)


def conv1x1_ref(conv: nn.Conv2d, x: Tensor) -> Tensor:
    """A 1x1 conv as an explicit channel matrix product, float64."""
    w = conv.weight.detach().double()[:, :, 0, 0]
    b = conv.bias.detach().double()
    return torch.einsum("oc,bchw->bohw", w, x.double()) + b[None, :, None, None]


def softmax_row(logits: list[float]) -> list[float]:
    """Softmax of a Python list (max-subtracted exponentials over their sum)."""
    m = max(logits)
    e = [float(torch.tensor(v - m, dtype=torch.float64).exp()) for v in logits]
    s = sum(e)
    return [v / s for v in e]


def attention_rows(q: Tensor, k: Tensor, scale: float) -> list[list[list[float]]]:
    """q: (B, C, Hq, Wq), k: (B, C, Hk, Wk) -> per batch, per query position, softmax weights over
    the key positions (row-major), computed one position pair at a time."""
    b, c = q.shape[:2]
    qf, kf = q.reshape(b, c, -1), k.reshape(b, c, -1)
    rows = []
    for n in range(b):
        per_batch = []
        for i in range(qf.shape[-1]):
            logits = [float((qf[n, :, i] * kf[n, :, j]).sum()) * scale for j in range(kf.shape[-1])]
            per_batch.append(softmax_row(logits))
        rows.append(per_batch)
    return rows
