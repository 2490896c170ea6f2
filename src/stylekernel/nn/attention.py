"""Scaled dot-product attention over image positions, computed in query chunks.

Chunking splits the content (query) positions only; every row of the attention matrix still
sees every style position, so any row-wise operation (softmax, the CGM gate, a row
renormalisation) gives exactly the unchunked result while peak memory drops from
``B x Nq x Ns`` to ``B x chunk x Ns``.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import torch
from torch import Tensor

# attn (B, n, Ns) and the query range [start, end) -> transformed attn (B, n, Ns)
RowTransform = Callable[[Tensor, int, int], Tensor]


def chunked_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    chunk_size: Optional[int] = None,
    row_transform: Optional[RowTransform] = None,
    scale: Optional[float] = None,
) -> Tensor:
    """softmax(q kᵀ · scale) v, one chunk of queries at a time.

    q: (B, Nq, D), k: (B, Ns, D), v: (B, Ns, Cv) -> (B, Nq, Cv).
    ``scale`` defaults to 1/sqrt(D). ``row_transform`` is applied to the softmaxed rows of each
    chunk before they weight ``v`` (the CGM gate uses it). ``chunk_size=None`` means one chunk.
    """
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    n_q = q.shape[1]
    step = n_q if not chunk_size or chunk_size >= n_q else int(chunk_size)
    outputs = []
    for start in range(0, n_q, step):
        end = min(start + step, n_q)
        logits = torch.bmm(q[:, start:end], k.transpose(1, 2)) * scale
        attn = torch.softmax(logits.float(), dim=-1)
        if row_transform is not None:
            attn = row_transform(attn, start, end)
        outputs.append(torch.bmm(attn.to(v.dtype), v))
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
