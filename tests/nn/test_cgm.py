"""The content-based gate against its formula, written out in the test."""

from __future__ import annotations

import pytest
import torch

from stylekernel.errors import ConfigError
from stylekernel.nn.cgm import ContentGatingModulation


def test_soft_gate_matches_formula() -> None:
    torch.manual_seed(0)
    attn = torch.softmax(torch.randn(2, 5, 9, dtype=torch.float64), dim=-1)
    t = torch.rand(2, 5, dtype=torch.float64)
    T = 0.07
    gate = ContentGatingModulation(channels=4, hidden_channels=2, mode="soft", temperature=T)
    expected = torch.empty_like(attn)
    for b in range(2):
        for i in range(5):
            row = attn[b, i]
            m = 1 / (1 + torch.exp(-((row / row.max()) - t[b, i]) / T))
            expected[b, i] = row * m / (row * m).sum()
    out = gate(attn.float(), t.float())
    torch.testing.assert_close(out, expected.float(), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(out.sum(-1), torch.ones(2, 5))


def test_hard_gate_zeroes_below_threshold_and_passes_gradient_to_threshold() -> None:
    attn = torch.tensor([[[0.5, 0.3, 0.15, 0.05]]])
    t = torch.tensor([[0.5]], requires_grad=True)
    gate = ContentGatingModulation(channels=4, hidden_channels=2, mode="hard", temperature=0.1)
    out = gate(attn, t)
    # ratios 1, 0.6, 0.3, 0.1: the last two fall below 0.5
    torch.testing.assert_close(out, torch.tensor([[[0.625, 0.375, 0.0, 0.0]]]))
    (out[..., 0]).sum().backward()
    assert t.grad is not None and t.grad.abs().sum() > 0  # straight-through estimator


def test_none_gate_is_identity_and_threshold_shape() -> None:
    gate = ContentGatingModulation(channels=8, hidden_channels=4, mode="none")
    attn = torch.softmax(torch.randn(1, 3, 4), -1)
    assert torch.equal(gate(attn, torch.rand(1, 3)), attn)
    t = gate.threshold(torch.randn(2, 8, 5, 6))
    assert t.shape == (2, 30) and bool(((t > 0) & (t < 1)).all())


@pytest.mark.parametrize("kwargs, word", [({"mode": "sometimes"}, "gate"), ({"temperature": 0.0}, "gate_temperature")])
def test_bad_arguments_name_the_argument(kwargs: dict, word: str) -> None:
    with pytest.raises(ConfigError, match=word):
        ContentGatingModulation(channels=4, hidden_channels=2, **kwargs)
