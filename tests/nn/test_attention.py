"""Chunked attention equals unchunked attention and a naive softmax reference."""

from __future__ import annotations

import math

import pytest
import torch

from stylekernel.nn.attention import attention_logits, chunked_attention, softmax_fp32, token_subset
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


@pytest.mark.parametrize("mode", ["soft", "hard"])
@pytest.mark.parametrize("chunk", [None, 4])
def test_fused_gate_equals_softmax_then_gate(mode: str, chunk) -> None:
    """row_weights (exp(l - max l), no softmax) gives the same rows as softmax + CGM gate."""
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 13, 8), torch.randn(2, 11, 8), torch.randn(2, 11, 6)
    gate = ContentGatingModulation(channels=8, hidden_channels=4, mode=mode, temperature=0.2)
    t = torch.rand(2, 13)
    ref = chunked_attention(q, k, v, row_transform=lambda a, s, e: gate(a, t[:, s:e]))
    with torch.no_grad():  # the in-place inference path
        fused = chunked_attention(q, k, v, chunk_size=chunk, row_weights=lambda e, s, end: gate.weights(e, t[:, s:end]))
    torch.testing.assert_close(fused, ref, rtol=1e-5, atol=1e-6)
    q.requires_grad_(True)  # the autograd path gives the same values and a gradient
    out = chunked_attention(q, k, v, chunk_size=chunk, row_weights=lambda e, s, end: gate.weights(e, t[:, s:end]))
    torch.testing.assert_close(out.detach(), ref, rtol=1e-5, atol=1e-6)
    out.sum().backward()
    assert q.grad is not None and torch.isfinite(q.grad).all()


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
@pytest.mark.parametrize("scale", [None, 1.0])  # scaled (SAE) and unscaled (SANet) logits
@pytest.mark.parametrize("gated", [False, True])
def test_bf16_autocast_keeps_logits_and_softmax_in_fp32(scale, gated, device) -> None:
    """Under bf16 autocast the attention's error vs fp32 comes from the bf16 inputs only.

    Stated tolerance: relative error (Frobenius) <= 1 % for mean-variance-normalised 512-d
    queries/keys against 1024 style positions; computing the logits in bf16 instead (the
    behaviour this protects against) is checked to be clearly worse.
    """
    gen = torch.Generator().manual_seed(0)
    d, ns = 512, 1024
    proj = torch.randn(d, d, generator=gen) / d**0.5
    q = torch.randn(1, 256, d, generator=gen) @ proj
    k = torch.randn(1, ns, d, generator=gen) @ proj
    v = torch.randn(1, ns, d, generator=gen)
    s = 1.0 / d**0.5 if scale is None else 1.0
    if scale == 1.0:  # SANet's unscaled logits: tame them as its 1x1 projections of mvn features do
        q, k = q / d**0.25, k / d**0.25
    gate = ContentGatingModulation(channels=8, hidden_channels=4, mode="soft", temperature=0.1).to(device)
    q, k, v = q.to(device), k.to(device), v.to(device)
    t = torch.full((1, 256), 0.3, device=device)
    rw = (lambda e, a, b: gate.weights(e, t[:, a:b])) if gated else None
    with torch.no_grad():
        ref = chunked_attention(q.double(), k.double(), v.double(), scale=scale, row_weights=rw).float()
        qb, kb, vb = q.bfloat16(), k.bfloat16(), v.bfloat16()
        with torch.autocast(device, dtype=torch.bfloat16):
            out = chunked_attention(qb, kb, vb, scale=scale, row_weights=rw, chunk_size=100)
            logits = attention_logits(qb, kb, s)
        assert logits.dtype == torch.float32
        err = _rel(out.float(), ref)
        assert err <= 0.01, err
        # the protected-against behaviour: bf16 logits and softmax from the same bf16 inputs
        bad_logits = torch.bmm(qb, kb.transpose(1, 2)).mul(s)
        if gated:
            e = (bad_logits - bad_logits.amax(-1, keepdim=True)).exp()
            w = gate.weights(e.float(), t).bfloat16()
            bad = torch.bmm(w, vb).float() / w.float().sum(-1, keepdim=True)
        else:
            bad = torch.bmm(torch.softmax(bad_logits, -1), vb).float()
        assert _rel(bad, ref) > 1.5 * err
    torch.testing.assert_close(softmax_fp32(logits.bfloat16()), torch.softmax(logits.bfloat16().float(), -1))


def test_every_attention_defaults_to_the_one_query_chunk_size() -> None:
    """Each network with chunked attention, and each attention block, defaults to QUERY_CHUNK_SIZE."""
    import inspect

    from stylekernel.baselines.adaattn import AdaAttNBlock
    from stylekernel.baselines.registry import models
    from stylekernel.baselines.sanet import SANetBlock
    from stylekernel.nn.attention import QUERY_CHUNK_SIZE
    from stylekernel.nn.sae import StyleAlignmentEncoding

    blocks = [StyleAlignmentEncoding, SANetBlock, AdaAttNBlock]
    nets = [cls for cls in models().values() if "query_chunk_size" in inspect.signature(cls).parameters]
    assert {c.__name__ for c in nets} >= {"StyleKernelNet", "SANet", "AdaAttN"}
    for cls in [*blocks, *nets]:
        assert inspect.signature(cls).parameters["query_chunk_size"].default == QUERY_CHUNK_SIZE, cls.__name__
