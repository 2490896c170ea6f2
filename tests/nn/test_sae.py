"""SAE (with and without the CGM gate) against a direct re-derivation in the test."""

from __future__ import annotations

import math

import pytest
import torch

from stylekernel.nn.cgm import ContentGatingModulation
from stylekernel.nn.sae import StyleAlignmentEncoding


def mvn_ref(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    mean = x.mean(dim=(2, 3), keepdim=True)
    var = ((x - mean) ** 2).mean(dim=(2, 3), keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)


def sae_ref(sae: StyleAlignmentEncoding, zc, zs, gate=None):
    b, c, h, w = zc.shape
    q = torch.nn.functional.conv2d(mvn_ref(zc), sae.to_q.weight, sae.to_q.bias).flatten(2)  # (B, D, Nc)
    k = torch.nn.functional.conv2d(mvn_ref(zs), sae.to_k.weight, sae.to_k.bias).flatten(2)
    v = torch.nn.functional.conv2d(zs, sae.to_v.weight, sae.to_v.bias).flatten(2)  # (B, C, Ns)
    a = torch.softmax(torch.einsum("bdi,bdj->bij", q, k) / math.sqrt(q.shape[1]), dim=-1)
    if gate is not None:
        t = torch.sigmoid(gate.head(mvn_ref(zc))).flatten(1)
        m = torch.sigmoid((a / a.max(dim=-1, keepdim=True).values - t[..., None]) / gate.temperature)
        a = a * m
        a = a / a.sum(-1, keepdim=True)
    return torch.einsum("bij,bcj->bci", a, v).view(b, c, h, w)


@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("chunk", [None, 5])
def test_sae_matches_reference(gated: bool, chunk) -> None:
    torch.manual_seed(0)
    sae = StyleAlignmentEncoding(channels=8, key_channels=6, query_chunk_size=chunk)
    gate = ContentGatingModulation(channels=8, hidden_channels=4, temperature=0.3) if gated else None
    zc, zs = torch.randn(2, 8, 4, 5), torch.randn(2, 8, 3, 6)
    torch.testing.assert_close(sae(zc, zs, gate=gate), sae_ref(sae, zc, zs, gate), rtol=1e-4, atol=1e-5)


def test_style_token_cap_in_eval_is_deterministic() -> None:
    torch.manual_seed(0)
    sae = StyleAlignmentEncoding(channels=8, max_style_tokens=10).eval()
    zc, zs = torch.randn(1, 8, 4, 4), torch.randn(1, 8, 8, 8)
    a, b = sae(zc, zs), sae(zc, zs)
    assert torch.equal(a, b)
    assert not torch.allclose(a, sae_ref(sae, zc, zs), atol=1e-4)  # only 10 of 64 style tokens were used
    sae.max_style_tokens = None
    torch.testing.assert_close(sae(zc, zs), sae_ref(sae, zc, zs), rtol=1e-4, atol=1e-5)
