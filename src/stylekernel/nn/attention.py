"""Scaled dot-product attention over image positions, computed in query chunks, logits in fp32.

Chunking splits the content (query) positions only; every row of the attention matrix still
sees every style position, so any row-wise operation (softmax, the CGM gate, a row
renormalisation) gives exactly the unchunked result while peak memory drops from
``B x Nq x Ns`` to ``B x chunk x Ns``. Because queries are independent, the same property lets
the inference engine run the attention per spatial tile (``stylekernel.tiling.tiled_transform``).

Precision: under bf16/fp16 autocast the logits and the softmax are always computed in float32
(:func:`attention_logits`, :func:`softmax_fp32`); a bf16 logit has 8 significant bits, which
over 4096 style positions shifts the output by percents. Every attention in the suite goes
through these two helpers.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

#: The networks' default number of content (query) positions per attention chunk (SAE and
#: StyleKernelNet, SANet, AdaAttN take it from here): it bounds the B x chunk x Ns logits; the result
#: does not depend on it.
QUERY_CHUNK_SIZE = 4096

# attn (B, n, Ns) and the query range [start, end) -> transformed attn (B, n, Ns)
RowTransform = Callable[[Tensor, int, int], Tensor]
# e = exp(logits - rowmax) (B, n, Ns), fp32, and the query range -> unnormalised row weights
RowWeights = Callable[[Tensor, int, int], Tensor]


def _full(x: Tensor) -> Tensor:
    """x in float32, or float64 if it already is."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def attention_logits(q: Tensor, k: Tensor, scale: float = 1.0) -> Tensor:
    """q kᵀ · scale in float32 (float64 inputs stay float64) whatever the autocast state.

    q (B, n, D), k (B, Ns, D) -> (B, n, Ns).
    """
    with torch.autocast(device_type=q.device.type, enabled=False):
        logits = torch.bmm(_full(q), _full(k).transpose(1, 2))
        if scale != 1.0:
            logits = logits * scale if logits.requires_grad else logits.mul_(scale)
        return logits


def softmax_fp32(logits: Tensor, dim: int = -1) -> Tensor:
    """Softmax in float32 (outside autocast), whatever the input dtype."""
    with torch.autocast(device_type=logits.device.type, enabled=False):
        return torch.softmax(_full(logits), dim=dim)


def chunked_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    chunk_size: Optional[int] = None,
    row_transform: Optional[RowTransform] = None,
    row_weights: Optional[RowWeights] = None,
    scale: Optional[float] = None,
) -> Tensor:
    """softmax(q kᵀ · scale) v, one chunk of queries at a time; logits and softmax in fp32.

    q: (B, Nq, D), k: (B, Ns, D), v: (B, Ns, Cv) -> (B, Nq, Cv) (dtype of v).
    ``scale`` defaults to 1/sqrt(D). ``row_transform`` is applied to the softmaxed rows of each
    chunk before they weight ``v``. ``row_weights`` is the fused alternative for gates that only
    need each row relative to its maximum: it receives e = exp(logits - rowmax) (so its row
    maximum is 1; the softmax denominator cancels) and returns unnormalised weights, which are
    normalised by their row sum. Without either, ``F.scaled_dot_product_attention`` runs in
    fp32. ``chunk_size=None`` means one chunk.
    """
    if row_transform is not None and row_weights is not None:
        raise ValueError("chunked_attention: pass row_transform or row_weights, not both")
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    n_q = q.shape[1]
    step = n_q if not chunk_size or chunk_size >= n_q else int(chunk_size)
    grad = torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad)
    outputs = []
    for start in range(0, n_q, step):
        end = min(start + step, n_q)
        qc = q[:, start:end]
        if row_transform is None and row_weights is None:
            with torch.autocast(device_type=q.device.type, enabled=False):
                out = F.scaled_dot_product_attention(_full(qc), _full(k), _full(v), scale=scale)
            outputs.append(out.to(v.dtype))
            continue
        logits = attention_logits(qc, k, scale)
        if row_transform is not None:
            attn = row_transform(softmax_fp32(logits), start, end)
            outputs.append(torch.bmm(attn.to(v.dtype), v))
            continue
        with torch.autocast(device_type=q.device.type, enabled=False):
            peak = logits.amax(dim=-1, keepdim=True)
            e = (logits - peak).exp() if grad else logits.sub_(peak).exp_()
            w = row_weights(e, start, end)
            denom = w.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(w.dtype).tiny)
            out = torch.bmm(w.to(v.dtype), v)
            out = out / denom.to(out.dtype) if grad else out.div_(denom.to(out.dtype))
        outputs.append(out)
    return outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=1)


def flatten_positions(x: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, H*W, C): one token per spatial position."""
    return x.flatten(2).transpose(1, 2)


def token_subset(n: int, max_tokens: Optional[int], *, random: bool, device: torch.device) -> Optional[Tensor]:
    """Indices of at most ``max_tokens`` of ``n`` positions, or None to keep all.

    ``random=True`` (training) draws a fresh random subset; ``random=False`` (evaluation) takes
    evenly spaced positions, so inference is deterministic. Index keys and values with the same
    indices so that they stay paired.
    """
    if max_tokens is None or n <= max_tokens:
        return None
    if random:
        return torch.randperm(n, device=device)[:max_tokens]
    return torch.linspace(0, n - 1, max_tokens, device=device).round().long()
