"""SANet baseline: "Arbitrary Style Transfer with Style-Attentional Networks" (Park & Lee, CVPR 2019),
as released in GlebSBrykin/SANET (``Eval.py``, ``Train.ipynb``).

    content, style (B, 3, H, W), (B, 3, H', W')
      -> VGGEncoder                   relu4_1 (stride 8) and relu5_1 (stride 16) of both
      -> SANetBlock at relu4_1        (B, 512, H/8, W/8)
      -> SANetBlock at relu5_1        (B, 512, H/16, W/16) -> nearest upsampling to H/8 x W/8
      -> sum -> reflection pad + 3x3 merge conv                 (B, 512, H/8, W/8)
      -> Decoder                      (B, 3, H, W)

One style-attentional block (as in the authors' code): f = conv1x1(mvn(Fc)), g = conv1x1(mvn(Fs)),
h = conv1x1(Fs), S = softmax(f gᵀ) over style positions, out = conv1x1(S h) + Fc. The original
uses unscaled logits (no 1/sqrt(d)); ``scaled_attention=True`` divides by sqrt(512). Attention is
computed in query chunks (exact, see ``stylekernel.nn.attention``), so large images fit in
memory.

The defaults are the peer's conventions: the encoder pools with ``ceil_mode=True`` and mvn uses
the unbiased variance plus eps (``calc_mean_std``). The peer upsamples the relu5_1 branch by 2;
here it is resized to the relu4_1 size (nearest), which is the same whenever the relu4_1 map has
even sides, and also defined when it has not (the peer fails there). With the peer's
``vgg_normalised.pth``, ``decoder_iter_500000.pth`` and ``transformer_iter_500000.pth``
(``stylekernel weights import sanet``) the network computes the peer's output.
``configs/model/sanet.yaml`` has the peer's recipe.

Inference tiles the transform exactly (``stylekernel.tiling.tiled_transform``): ``style_state``
gives each block's keys and values (once per style), ``transform_global`` the content maps' mean
and std at relu4_1 and relu5_1 (mvn uses the whole map's), and ``transform_local`` runs both
blocks and the merge on a tile. The blocks are pointwise in the content given that state (each
query attends to all style positions on its own), the merge conv reads one relu4_1 cell each side;
the halo is rounded up to 2 cells so that every tile starts on a relu5_1 cell and the nearest x2
resize of the relu5_1 tile lands on the same relu4_1 cells as on the whole map.
"""

from __future__ import annotations

from typing import Any, Optional

import torch.nn.functional as F
from torch import Tensor, nn

from stylekernel.baselines.registry import register_model
from stylekernel.errors import check
from stylekernel.nn.attention import QUERY_CHUNK_SIZE, chunked_attention, flatten_positions, token_subset
from stylekernel.nn.base import StyleTransferNet
from stylekernel.nn.functional import mean_std, mvn, mvn_with_stats
from stylekernel.tiling import halo

CHANNELS = 512


def _check_attention_args(max_style_tokens: Optional[int], query_chunk_size: Optional[int]) -> None:
    check(
        max_style_tokens is None or (isinstance(max_style_tokens, int) and max_style_tokens >= 1),
        f"max_style_tokens must be a positive integer or null, got {max_style_tokens!r}",
    )
    check(
        query_chunk_size is None or (isinstance(query_chunk_size, int) and query_chunk_size >= 1),
        f"query_chunk_size must be a positive integer or null, got {query_chunk_size!r}",
    )


class SANetBlock(nn.Module):
    """One style-attentional block.

    forward(zc: (B, C, H, W), zs: (B, C, H', W')) -> (B, C, H, W).

    Args:
        channels: C, the feature width.
        scaled: divide the logits by sqrt(C) (False: SANet's unscaled dot product).
        unbiased_std: mvn with the unbiased variance (True: the peer's ``mean_variance_norm``).
        max_style_tokens: cap on style positions (random subset in training, evenly spaced in
            eval); None keeps all.
        query_chunk_size: content positions per attention chunk; None = one chunk.
    """

    def __init__(
        self,
        channels: int = CHANNELS,
        *,
        scaled: bool = False,
        unbiased_std: bool = True,
        max_style_tokens: Optional[int] = None,
        query_chunk_size: Optional[int] = QUERY_CHUNK_SIZE,
    ) -> None:
        super().__init__()
        check(channels >= 1, f"channels must be >= 1, got {channels}")
        self.unbiased_std = unbiased_std
        _check_attention_args(max_style_tokens, query_chunk_size)
        self.scaled = scaled
        self.max_style_tokens = max_style_tokens
        self.query_chunk_size = query_chunk_size
        self.f = nn.Conv2d(channels, channels, 1)
        self.g = nn.Conv2d(channels, channels, 1)
        self.h = nn.Conv2d(channels, channels, 1)
        self.out_conv = nn.Conv2d(channels, channels, 1)

    def style_state(self, zs: Tensor) -> tuple[Tensor, Tensor]:
        """zs (B, C, H', W') -> keys g(mvn(zs)) and values h(zs), (B, Ns, C) each (the style subset
        applied): all the block needs from the style."""
        k = flatten_positions(self.g(mvn(zs, unbiased=self.unbiased_std).to(zs.dtype)))  # (B, Ns, C)
        v = flatten_positions(self.h(zs))  # (B, Ns, C)
        idx = token_subset(k.shape[1], self.max_style_tokens, random=self.training, device=k.device)
        if idx is not None:
            k, v = k[:, idx], v[:, idx]
        return k, v

    def local(self, zc: Tensor, stats: tuple[Tensor, Tensor], style: tuple[Tensor, Tensor]) -> Tensor:
        """The block on a content tile: zc (B, C, h, w), the whole map's (mean, std) (B, C, 1, 1)
        from ``mean_std(zc, unbiased=self.unbiased_std)``, style = :meth:`style_state` ->
        (B, C, h, w). Pointwise in the content (every query attends on its own), so any tile
        gives the whole map's values."""
        b, c, h, w = zc.shape
        xn = mvn_with_stats(zc, stats)  # mvn with the whole map's statistics
        q = flatten_positions(self.f(xn.to(zc.dtype)))  # (B, Nc, C)
        k, v = style
        out = chunked_attention(q, k, v, chunk_size=self.query_chunk_size, scale=None if self.scaled else 1.0)
        out = out.transpose(1, 2).reshape(b, c, h, w)
        return self.out_conv(out.to(zc.dtype)) + zc

    def forward(self, zc: Tensor, zs: Tensor) -> Tensor:
        return self.local(zc, mean_std(zc, unbiased=self.unbiased_std), self.style_state(zs))


@register_model("sanet")
class SANet(StyleTransferNet):
    """Style-attentional networks at relu4_1 and relu5_1, merged, then the shared decoder.

    The input size must be a multiple of 16 (``stride``); inference pads for you.

    Args:
        encoder_weights: VGG19 source: torchvision | vgg_normalised | random | auto | a file path.
        scaled_attention: divide attention logits by sqrt(512) (the original does not).
        max_style_tokens: cap on style positions per attention (random subset in training,
            evenly spaced in eval); null keeps all, as the original does.
        query_chunk_size: content positions per attention chunk (memory bound); null = one chunk.
        ceil_mode: the encoder's max pooling rounds sizes up (True: the peer's ``vgg``; our
            network uses False). Equal results when the input is a multiple of 16.
        unbiased_std: mvn with the unbiased variance (True: the peer's; ours is biased).
        encoder_padding: auto | reflect | zeros (auto: reflection for ``vgg_normalised`` as in
            the peer, zeros for torchvision).
    """

    def __init__(
        self,
        encoder_weights: str = "torchvision",
        scaled_attention: bool = False,
        max_style_tokens: Optional[int] = None,
        query_chunk_size: Optional[int] = QUERY_CHUNK_SIZE,
        ceil_mode: bool = True,
        unbiased_std: bool = True,
        encoder_padding: str = "auto",
    ) -> None:
        super().__init__()
        _check_attention_args(max_style_tokens, query_chunk_size)
        block_args = dict(
            scaled=scaled_attention, unbiased_std=unbiased_std, max_style_tokens=max_style_tokens, query_chunk_size=query_chunk_size
        )
        self.sanet4_1 = SANetBlock(CHANNELS, **block_args)  # type: ignore[arg-type]
        self.sanet5_1 = SANetBlock(CHANNELS, **block_args)  # type: ignore[arg-type]
        self.merge = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(CHANNELS, CHANNELS, 3))
        self.feature_layers = ("relu4_1", "relu5_1")
        self.stride = 16
        self.build_encoder_decoder(encoder_weights, padding_mode=encoder_padding, ceil_mode=ceil_mode)

        # tiled transform: the blocks are pointwise given the global state; the merge conv reads 1
        # relu4_1 cell each side, rounded up to 2 so that relu5_1 tiles start on whole cells
        h = halo(list(self.merge))
        self.transform_halo = h + h % 2

    def _blocks(self) -> dict[str, SANetBlock]:
        return {"relu4_1": self.sanet4_1, "relu5_1": self.sanet5_1}

    # ``transform`` (the base class's) = transform_local(content, transform_global(content, style_state(style)))
    def style_state(self, style: dict[str, Tensor]) -> dict[str, tuple[Tensor, Tensor]]:
        """{relu4_1, relu5_1} of the style -> each block's keys and values (B, Ns, 512)."""
        return {name: block.style_state(style[name]) for name, block in self._blocks().items()}

    def transform_global(self, content: dict[str, Tensor], style_state: dict[str, tuple[Tensor, Tensor]]) -> dict[str, Any]:
        """The whole content map's mean/std per level (B, 512, 1, 1), for mvn, + the style state."""
        stats = {name: mean_std(content[name], unbiased=block.unbiased_std) for name, block in self._blocks().items()}
        return {"stats": stats, "style": style_state}

    def transform_local(self, content: dict[str, Tensor], state: dict[str, Any]) -> Tensor:
        """{relu4_1 (B, 512, h, w), relu5_1 (B, 512, h/2, w/2)} of a content tile -> (B, 512, h, w)."""
        z4 = self.sanet4_1.local(content["relu4_1"], state["stats"]["relu4_1"], state["style"]["relu4_1"])
        z5 = self.sanet5_1.local(content["relu5_1"], state["stats"]["relu5_1"], state["style"]["relu5_1"])
        return self.merge(z4 + F.interpolate(z5, size=z4.shape[-2:], mode="nearest"))
