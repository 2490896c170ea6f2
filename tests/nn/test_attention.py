"""Chunked attention equals unchunked attention and a naive softmax reference."""

from __future__ import annotations

import math

import pytest
import torch

from stylekernel.nn.attention import chunked_attention, token_subset
from stylekernel.nn.cgm import ContentGatingModulation


def naive_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    b, n, d = q.shape
    out = torch.zeros(b, n, v.shape[-1], dtype=q.dtype)
    for bi in range(b):
        for i in range(n):
            logits = torch.stack([q[bi, i] @ k[bi, j] for j in range(k.shape[1])]) / math.sqrt(d)
            w = torch.exp(logits - logits.max())
            out[bi, i] = (w / w.sum()) @ v[bi]
    return out


def test_matches_naive_reference() -> None:
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, n, 4, dtype=torch.float64, generator=gen) for n in (5, 7, 7))
    torch.testing.assert_close(chunked_attention(q, k, v), naive_attention(q, k, v))


@pytest.mark.parametrize("chunk", [1, 3, 7, 64])
def test_chunked_equals_unchunked_with_gate(chunk: int) -> None:
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 19, 8), torch.randn(2, 11, 8), torch.randn(2, 11, 6)
    gate = ContentGatingModulation(channels=8, hidden_channels=4, mode="soft", temperature=0.2)
    t = torch.rand(2, 19)
    transform = lambda attn, s, e: gate(attn, t[:, s:e])  # noqa: E731
    full = chunked_attention(q, k, v, chunk_size=None, row_transform=transform)
    part = chunked_attention(q, k, v, chunk_size=chunk, row_transform=transform)
    torch.testing.assert_close(part, full, rtol=1e-6, atol=1e-6)


def test_token_subset_eval_is_deterministic_and_bounded() -> None:
    a = token_subset(1000, 64, random=False, device=torch.device("cpu"))
    b = token_subset(1000, 64, random=False, device=torch.device("cpu"))
    assert a is not None and torch.equal(a, b) and len(a.unique()) == 64 and int(a.max()) < 1000
    assert token_subset(10, 64, random=True, device=torch.device("cpu")) is None
    r = token_subset(1000, 64, random=True, device=torch.device("cpu"))
    assert r is not None and len(r.unique()) == 64
