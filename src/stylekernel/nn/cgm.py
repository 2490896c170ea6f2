"""Content-based Gating Modulation (CGM): a learned, per-content-position attention threshold.

For content position i the head predicts t_i = sigmoid(g(mvn(Zc)))_i in (0, 1). Attention
weights a_ij that fall below t_i times the row maximum are suppressed, and the row is
renormalised:

    r_ij = a_ij / max_j a_ij                          (in [0, 1]; the row max has r = 1)
    m_ij = sigmoid((r_ij - t_i) / T)                  (gate="soft")
    m_ij = [r_ij >= t_i], straight-through gradient   (gate="hard")
    a'_ij = a_ij m_ij / sum_j a_ij m_ij

This is METHOD.md's m = sigmoid((a - t * max a) / T) with the difference divided by the row
max, so that the temperature T does not depend on the number of style positions (a_ij scales
like 1 / N_s). The row maximum always passes (m >= 1/2), so rows never vanish.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from stylekernel.errors import check
from stylekernel.nn.functional import mvn

GateMode = Literal["none", "soft", "hard"]
GATE_MODES = ("none", "soft", "hard")


class ContentGatingModulation(nn.Module):
    """threshold(zc: (B, C, H, W)) -> t (B, H*W); forward(attn (B, n, Ns), t (B, n)) -> (B, n, Ns)."""

    def __init__(
        self,
        channels: int = 512,
        hidden_channels: int = 128,
        mode: GateMode = "soft",
        temperature: float = 0.1,
    ) -> None:
        super().__init__()
        check(mode in GATE_MODES, f"gate must be one of {GATE_MODES}, got {mode!r}")
        check(temperature > 0, f"gate_temperature must be > 0, got {temperature}")
        check(hidden_channels >= 1, f"gate_hidden_channels must be >= 1, got {hidden_channels}")
        self.mode = mode
        self.temperature = float(temperature)
        self.head = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, hidden_channels, 3), nn.ReLU(), nn.Conv2d(hidden_channels, 1, 1),
        )  # fmt: skip
        with torch.no_grad():  # start with a permissive threshold (sigmoid(-2) ~ 0.12)
            self.head[-1].bias.fill_(-2.0)

    def threshold(self, zc: Tensor) -> Tensor:
        """zc: (B, C, H, W) -> t: (B, H*W) in (0, 1), float32."""
        return self.threshold_normalized(mvn(zc).to(zc.dtype))

    def threshold_normalized(self, xn: Tensor) -> Tensor:
        """The same from an already normalised xn = mvn(zc) (B, C, H, W) -> (B, H*W) float32."""
        return torch.sigmoid(self.head(xn).float()).flatten(1)

    def weights(self, ratio: Tensor, t: Tensor) -> Tensor:
        """Unnormalised gated weights r_ij m_ij from r = a / max_j a (B, n, Ns), t (B, n).

        r_ij equals exp(l_ij - max_j l_ij) for logits l, so the fused attention
        (``chunked_attention(row_weights=...)``) calls this without ever forming the softmax.
        Under ``torch.no_grad`` / inference mode ``ratio`` is overwritten (it is a temporary).
        """
        th = t.unsqueeze(-1)
        if not torch.is_grad_enabled() and self.mode != "hard":
            gate = (ratio - th).mul_(1.0 / self.temperature).sigmoid_()
            return ratio.mul_(gate)
        soft = torch.sigmoid((ratio - th) / self.temperature)
        if self.mode == "hard":
            hard = (ratio >= th).to(soft.dtype)
            gate = hard + soft - soft.detach() if torch.is_grad_enabled() else hard
        else:
            gate = soft
        return ratio * gate

    def forward(self, attn: Tensor, t: Tensor) -> Tensor:
        """attn: (B, n, Ns) rows summing to 1, t: (B, n) -> gated rows summing to 1 (float32)."""
        if self.mode == "none":
            return attn
        attn = attn.float()
        tiny = torch.finfo(attn.dtype).tiny
        gated = self.weights(attn / attn.amax(dim=-1, keepdim=True).clamp_min(tiny), t)
        return gated / gated.sum(dim=-1, keepdim=True).clamp_min(tiny)
