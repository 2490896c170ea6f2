"""Style Alignment Encoding (SAE): attention from content queries to style keys/values.

Q = Wq mvn(Zc), K = Wk mvn(Zs), V = Wv Zs (1x1 convs), A = softmax(Q Kᵀ / sqrt(d)) over style
positions, optionally gated row by row by the CGM, and Zcs = A V: a style feature aligned to
every content position. ``normalize=False`` is the "plain attention" ablation (raw features
for Q and K). Attention is computed in query chunks (exact; see ``attention.py``).
"""

from __future__ import annotations

from typing import Optional

from torch import Tensor, nn

from stylekernel.errors import check
from stylekernel.nn.attention import chunked_attention, flatten_positions, token_subset
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
        query_chunk_size: Optional[int] = 4096,
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

    def forward(self, zc: Tensor, zs: Tensor, gate: Optional[ContentGatingModulation] = None) -> Tensor:
        b, c, h, w = zc.shape
        qc = mvn(zc).to(zc.dtype) if self.normalize else zc
        ks = mvn(zs).to(zs.dtype) if self.normalize else zs
        q = flatten_positions(self.to_q(qc))  # (B, Nc, D)
        k = flatten_positions(self.to_k(ks))  # (B, Ns, D)
        v = flatten_positions(self.to_v(zs))  # (B, Ns, C)
        idx = token_subset(k.shape[1], self.max_style_tokens, random=self.training, device=k.device)
        if idx is not None:
            k, v = k[:, idx], v[:, idx]
        row_transform = None
        if gate is not None and gate.mode != "none":
            t = gate.threshold(zc)  # (B, Nc)
            row_transform = lambda attn, start, end: gate(attn, t[:, start:end])  # noqa: E731
        out = chunked_attention(q, k, v, chunk_size=self.query_chunk_size, row_transform=row_transform)
        return out.transpose(1, 2).reshape(b, c, h, w)
