"""Style Alignment Encoding (SAE): attention from content queries to style keys/values.

Q = Wq mvn(Zc), K = Wk mvn(Zs), V = Wv Zs (1x1 convs), A = softmax(Q Kᵀ / sqrt(d)) over style
positions, optionally gated row by row by the CGM, and Zcs = A V: a style feature aligned to
every content position. ``normalize=False`` is the "plain attention" ablation (raw features
for Q and K). Attention is computed in query chunks (exact; see ``attention.py``).
"""

from __future__ import annotations

import math
from typing import Optional

from torch import Tensor, nn

from stylekernel.errors import check
from stylekernel.nn.attention import QUERY_CHUNK_SIZE, chunked_attention, flatten_positions, token_subset
from stylekernel.nn.cgm import ContentGatingModulation
from stylekernel.nn.functional import mvn


class StyleAlignmentEncoding(nn.Module):
    """forward(zc: (B, C, Hc, Wc), zs: (B, C, Hs, Ws), gate) -> Zcs: (B, C, Hc, Wc)."""

    def __init__(
        self,
        channels: int = 512,
        key_channels: Optional[int] = None,
        normalize: bool = True,
        max_style_tokens: Optional[int] = None,
        query_chunk_size: Optional[int] = QUERY_CHUNK_SIZE,
    ) -> None:
        super().__init__()
        key_channels = channels if key_channels is None else key_channels
        check(key_channels >= 1, f"key_channels must be >= 1, got {key_channels}")
        check(max_style_tokens is None or max_style_tokens >= 1, f"max_style_tokens must be >= 1 or null, got {max_style_tokens}")
        check(query_chunk_size is None or query_chunk_size >= 1, f"query_chunk_size must be >= 1 or null, got {query_chunk_size}")
        self.normalize = normalize
        self.max_style_tokens = max_style_tokens
        self.query_chunk_size = query_chunk_size
        self.to_q = nn.Conv2d(channels, key_channels, 1)
        self.to_k = nn.Conv2d(channels, key_channels, 1)
        self.to_v = nn.Conv2d(channels, channels, 1)

    def style_state(self, zs: Tensor) -> tuple[Tensor, Tensor]:
        """What the attention needs from the style alone: zs (B, C, Hs, Ws) -> K (B, Ns, D), V (B, Ns, C).

        K is pre-multiplied by 1/sqrt(D), so that the logits are Q Kᵀ. Computed once per style
        (the inference engine caches it for a folder of contents).
        """
        ks = mvn(zs).to(zs.dtype) if self.normalize else zs
        k = flatten_positions(self.to_k(ks))  # (B, Ns, D)
        v = flatten_positions(self.to_v(zs))  # (B, Ns, C)
        idx = token_subset(k.shape[1], self.max_style_tokens, random=self.training, device=k.device)
        if idx is not None:
            k, v = k[:, idx], v[:, idx]
        return k * (1.0 / math.sqrt(k.shape[-1])), v

    def attend(
        self,
        xq: Tensor,
        style: tuple[Tensor, Tensor],
        gate: Optional[ContentGatingModulation] = None,
        t: Optional[Tensor] = None,
    ) -> Tensor:
        """Zcs of some content positions: xq (B, C, h, w) = mvn(Zc) there (Zc with
        ``normalize=False``), style = :meth:`style_state`, t (B, h*w) the gate's thresholds
        -> (B, C, h, w). Every position is independent, so tiles give the whole-map result."""
        b, _, h, w = xq.shape
        k, v = style
        q = flatten_positions(self.to_q(xq))  # (B, n, D)
        row_weights = None
        if gate is not None and gate.mode != "none":
            assert t is not None
            row_weights = lambda e, start, end: gate.weights(e, t[:, start:end])  # noqa: E731
        out = chunked_attention(q, k, v, chunk_size=self.query_chunk_size, row_weights=row_weights, scale=1.0)
        return out.transpose(1, 2).reshape(b, v.shape[-1], h, w)

    def forward(self, zc: Tensor, zs: Tensor, gate: Optional[ContentGatingModulation] = None) -> Tensor:
        """zc (B, C, Hc, Wc), zs (B, C, Hs, Ws) -> Zcs (B, C, Hc, Wc)."""
        xn = mvn(zc).to(zc.dtype)
        t = gate.threshold_normalized(xn) if gate is not None and gate.mode != "none" else None
        return self.attend(xn if self.normalize else zc, self.style_state(zs), gate, t)
