"""StyTr-2 baseline: "StyTr^2: Image Style Transfer with Transformers" (Deng et al., CVPR 2022),
the network of the authors' code (diyiiyiii/StyTR-2, ``models/StyTR.py``, ``models/transformer.py``).

    content, style (B, 3, H, W), (B, 3, H', W') in [0, 1]
      -> PatchEmbed            8x8 conv, stride 8: (B, 512, H/8, W/8) and (B, 512, H'/8, W'/8)
      -> CAPE                  content-aware positional encoding of the content tokens:
                               pos = bilinear_resize(conv1x1(adaptive_avg_pool_18(content)), H/8 x W/8)
      -> encoder_c (3 layers)  self-attention over content tokens, q = k = x + pos, v = x
      -> encoder_s (3 layers)  self-attention over style tokens, no positional encoding
      -> decoder (3 layers)    content as query (+ pos), encoded style as key and value, final LayerNorm
      -> (B, 512, H/8, W/8) -> Decoder (the VGG-mirror CNN decoder)      (B, 3, H, W)

Every transformer layer is post-norm (``normalize_before=False`` in the authors' code): x =
norm(x + dropout(sublayer(x))); feed-forward linear(512, 2048) -> ReLU -> linear(2048, 512).
Each decoder layer has two attention blocks and, as in the authors' code, *both* attend to the
style memory (the first, named ``self_attn`` there, takes q = tgt + pos and k = v = memory).
Attention is the standard multi-head scaled dot product (8 heads) with the packed ``in_proj``
weights of ``torch.nn.MultiheadAttention``, so the authors' files load key for key (see
:mod:`stylekernel.released.stytr2`).

The VGG encoder is not part of the stylization: it serves the losses (and the content code that
``alpha`` blends with). :meth:`StyTr2.encode` therefore adds the input image itself as the
``"image"`` entry of the feature dict; ``transform`` embeds it.

Where this file deliberately differs from the authors' code (identical results wherever theirs
runs: square content and style of the same size, as in their training and test scripts):

* The CAPE map is resized to the *content* token grid; their code resizes it to the style grid
  (``size=style.shape[-2:]``), which only works when both grids are equal.
* The output tokens are reshaped to the content grid (h, w); their code reshapes to
  (N / int(sqrt(N)), int(sqrt(N))), which is the content grid only for square images.

**Not tileable.** The encoder and the decoder run in tiles, the transform on the whole map (no
``transform_halo``): the content encoder's self-attention lets every content token attend to
every other content token (and CAPE pools the whole content to 18 x 18), so one output token
depends on the whole image and no halo bounds it.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stylekernel.baselines.registry import register_model
from stylekernel.errors import check
from stylekernel.nn.base import StyleTransferNet

D_MODEL = 512
PATCH = 8
IMAGE_KEY = "image"


class PatchEmbed(nn.Module):
    """Image (B, 3, H, W) -> patch tokens (B, dim, H/p, W/p) by a p x p conv of stride p."""

    def __init__(self, patch_size: int = PATCH, dim: int = D_MODEL) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x)


class TokenAttention(nn.Module):
    """Multi-head attention with ``torch.nn.MultiheadAttention``'s parameters (``in_proj_weight``
    (3d, d), ``in_proj_bias`` (3d), ``out_proj``) on batch-first tokens.

    forward(q: (B, Nq, d), k: (B, Nk, d), v: (B, Nk, d)) -> (B, Nq, d);
    softmax(Q Kᵀ / sqrt(d / heads)) V per head, dropout on the attention weights in training.
    Runs through ``F.scaled_dot_product_attention`` (memory-efficient kernels where available).
    """

    def __init__(self, dim: int = D_MODEL, heads: int = 8, dropout: float = 0.1) -> None:
        super().__init__()
        check(dim % heads == 0, f"dim {dim} must be divisible by heads {heads}")
        self.heads, self.dropout = heads, dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        b, nq, d = q.shape
        wq, wk, wv = self.in_proj_weight.chunk(3)
        bq, bk, bv = self.in_proj_bias.chunk(3)

        def heads(x: Tensor, w: Tensor, bias: Tensor) -> Tensor:  # (B, N, d) -> (B, heads, N, d/heads)
            return F.linear(x, w, bias).view(b, x.shape[1], self.heads, d // self.heads).transpose(1, 2)

        out = F.scaled_dot_product_attention(
            heads(q, wq, bq), heads(k, wk, bk), heads(v, wv, bv), dropout_p=self.dropout if self.training else 0.0
        )
        return self.out_proj(out.transpose(1, 2).reshape(b, nq, d))


class _FeedForward(nn.Module):
    """Shared parts of both layer kinds: linear1 -> ReLU -> dropout -> linear2."""

    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.linear1 = nn.Linear(dim, hidden)
        self.linear2 = nn.Linear(hidden, dim)
        self.dropout = nn.Dropout(dropout)

    def ffn(self, x: Tensor) -> Tensor:
        return self.linear2(self.dropout(F.relu(self.linear1(x))))


class EncoderLayer(_FeedForward):
    """Post-norm self-attention layer: x (B, N, d), pos (B, N, d) or None -> (B, N, d)."""

    def __init__(self, dim: int = D_MODEL, heads: int = 8, hidden: int = 2048, dropout: float = 0.1) -> None:
        super().__init__(dim, hidden, dropout)
        self.self_attn = TokenAttention(dim, heads, dropout)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, x: Tensor, pos: Optional[Tensor] = None) -> Tensor:
        qk = x if pos is None else x + pos
        x = self.norm1(x + self.dropout1(self.self_attn(qk, qk, x)))
        return self.norm2(x + self.dropout2(self.ffn(x)))


class DecoderLayer(_FeedForward):
    """Post-norm layer with two attention blocks on the memory (both as in the authors' code):
    tgt (B, N, d), memory (B, M, d), query_pos (B, N, d) or None -> (B, N, d)."""

    def __init__(self, dim: int = D_MODEL, heads: int = 8, hidden: int = 2048, dropout: float = 0.1) -> None:
        super().__init__(dim, hidden, dropout)
        self.self_attn = TokenAttention(dim, heads, dropout)
        self.multihead_attn = TokenAttention(dim, heads, dropout)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.dropout1, self.dropout2, self.dropout3 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, tgt: Tensor, memory: Tensor, query_pos: Optional[Tensor] = None) -> Tensor:
        def query(t: Tensor) -> Tensor:
            return t if query_pos is None else t + query_pos

        tgt = self.norm1(tgt + self.dropout1(self.self_attn(query(tgt), memory, memory)))
        tgt = self.norm2(tgt + self.dropout2(self.multihead_attn(query(tgt), memory, memory)))
        return self.norm3(tgt + self.dropout3(self.ffn(tgt)))


class _Stack(nn.Module):
    """``layers`` applied in order (the authors' TransformerEncoder / TransformerDecoder)."""

    def __init__(self, layers: Sequence[nn.Module], norm: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        if norm is not None:
            self.norm = norm


class TokenEncoder(_Stack):
    def forward(self, x: Tensor, pos: Optional[Tensor] = None) -> Tensor:
        for layer in self.layers:
            x = layer(x, pos)
        return x


class TokenDecoder(_Stack):
    def forward(self, tgt: Tensor, memory: Tensor, query_pos: Optional[Tensor] = None) -> Tensor:
        for layer in self.layers:
            tgt = layer(tgt, memory, query_pos)
        return self.norm(tgt)


class StyTr2Transformer(nn.Module):
    """Content tokens (B, d, h, w) and style tokens (B, d, h', w') -> stylized (B, d, h, w).

    No defaults here: :class:`StyTr2` holds them (the authors' values) and passes every argument.

    Args:
        dim: token width d (D_MODEL = 512 in StyTr2: the CNN decoder's input).
        heads: attention heads.
        encoder_layers: layers of each of the content and style encoders.
        decoder_layers: layers of the decoder.
        hidden: feed-forward width.
        dropout: dropout in attention and feed-forward blocks (training only).
        cape_grid: side of the average-pooled content map CAPE starts from.
    """

    def __init__(
        self,
        *,
        dim: int,
        heads: int,
        encoder_layers: int,
        decoder_layers: int,
        hidden: int,
        dropout: float,
        cape_grid: int,
    ) -> None:
        super().__init__()
        self.encoder_c = TokenEncoder([EncoderLayer(dim, heads, hidden, dropout) for _ in range(encoder_layers)])
        self.encoder_s = TokenEncoder([EncoderLayer(dim, heads, hidden, dropout) for _ in range(encoder_layers)])
        self.decoder = TokenDecoder([DecoderLayer(dim, heads, hidden, dropout) for _ in range(decoder_layers)], nn.LayerNorm(dim))
        for p in self.parameters():  # the authors' _reset_parameters, before new_ps exists
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        self.new_ps = nn.Conv2d(dim, dim, 1)
        self.cape_grid = cape_grid

    def positional_encoding(self, content: Tensor) -> Tensor:
        """CAPE: content tokens (B, d, h, w) -> (B, d, h, w)."""
        pooled = F.adaptive_avg_pool2d(content, self.cape_grid)
        return F.interpolate(self.new_ps(pooled), size=content.shape[-2:], mode="bilinear", align_corners=False)

    def forward(self, content: Tensor, style: Tensor) -> Tensor:
        b, d, h, w = content.shape
        pos = self.positional_encoding(content).flatten(2).transpose(1, 2)  # (B, hw, d)
        c = self.encoder_c(content.flatten(2).transpose(1, 2), pos)
        s = self.encoder_s(style.flatten(2).transpose(1, 2))
        out = self.decoder(c, s, pos)  # (B, hw, d)
        return out.transpose(1, 2).reshape(b, d, h, w)


@register_model("stytr2")
class StyTr2(StyleTransferNet):
    """StyTr-2: patch embedding + CAPE + transformer, then the VGG-mirror CNN decoder.

    The input size must be a multiple of 8 (the patch size). ``encode`` returns the VGG features
    (for the losses and ``alpha``) plus the image itself under ``"image"``.

    Args:
        encoder_weights: VGG19 source of the losses' encoder: torchvision | vgg_normalised |
            random | auto | a file path (the authors use vgg_normalised).
        heads, encoder_layers, decoder_layers, hidden, dropout, cape_grid: the transformer's
            (defaults: the authors' 8, 3, 3, 2048, 0.1, 18).
        ceil_mode: the VGG's max pooling rounds sizes up, as the authors' ``vgg`` (it only
            matters for the losses, at sizes that are not multiples of 16).
    """

    feature_layers = ("relu4_1",)
    stride = PATCH

    def __init__(
        self,
        encoder_weights: str = "torchvision",
        heads: int = 8,
        encoder_layers: int = 3,
        decoder_layers: int = 3,
        hidden: int = 2048,
        dropout: float = 0.1,
        cape_grid: int = 18,
        ceil_mode: bool = True,
    ) -> None:
        super().__init__()
        for name, value in [("heads", heads), ("decoder_layers", decoder_layers), ("hidden", hidden), ("cape_grid", cape_grid)]:
            check(isinstance(value, int) and value >= 1, f"{name} must be a positive integer, got {value!r}")
        check(isinstance(encoder_layers, int) and encoder_layers >= 0, f"encoder_layers must be >= 0, got {encoder_layers!r}")
        check(0.0 <= dropout < 1.0, f"dropout must be in [0, 1), got {dropout}")
        self.embedding = PatchEmbed(PATCH, D_MODEL)
        self.transformer = StyTr2Transformer(
            dim=D_MODEL, heads=heads, encoder_layers=encoder_layers, decoder_layers=decoder_layers, hidden=hidden,
            dropout=dropout, cape_grid=cape_grid,
        )  # fmt: skip
        self.build_encoder_decoder(encoder_weights, ceil_mode=ceil_mode)

    def encode(self, image: Tensor, layers: Sequence[str] | None = None) -> dict[str, Tensor]:
        """image (B, 3, H, W) in [0, 1] -> VGG features (``feature_layers`` by default) and
        ``"image"``: the image itself, which ``transform`` embeds."""
        wanted = [n for n in (self.feature_layers if layers is None else layers) if n != IMAGE_KEY]
        feats = self.encoder(image, wanted) if wanted else {}
        feats[IMAGE_KEY] = image
        return feats

    def transform(self, content: dict[str, Tensor], style: dict[str, Tensor]) -> Tensor:
        """``encode`` dicts of content (B, 3, H, W) and style (B, 3, H', W') -> (B, 512, H/8, W/8)."""
        return self.transformer(self.embedding(content[IMAGE_KEY]), self.embedding(style[IMAGE_KEY]))


__all__ = ["StyTr2", "StyTr2Transformer", "PatchEmbed", "TokenAttention", "EncoderLayer", "DecoderLayer"]
