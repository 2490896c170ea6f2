"""AdaAttN baseline: "AdaAttN: Revisit Attention Mechanism in Arbitrary Neural Style Transfer"
(Liu et al., ICCV 2021).

    content, style (B, 3, H, W), (B, 3, H', W')
      -> VGGEncoder                  relu1_1 .. relu5_1 of both
      -> keys: for level L in (relu4_1, relu5_1), the features of every layer from relu1_1 to L,
         each resized (nearest) to L's size and mean-variance normalised, concatenated:
         960 channels at relu4_1, 1472 at relu5_1 ("shallow_layer" in the authors' code)
      -> AdaAttNBlock at relu4_1     (B, 512, H/8, W/8)
      -> AdaAttNBlock at relu5_1     (B, 512, H/16, W/16) -> nearest upsampling to H/8 x W/8
      -> sum -> reflection pad + 3x3 merge conv                  (B, 512, H/8, W/8)
      -> Decoder                     (B, 3, H, W)

One AdaAttN block: Q = f(key_c), K = g(key_s), V = h(Fs) (1x1 convs), A = softmax(Q Kᵀ) over
style positions (unscaled, as in the original), then an attention-weighted mean and standard
deviation per content position, M = A V and S = sqrt(A V² - M²), and out = S * mvn(Fc) + M.

Simplifications relative to the paper, so that every method shares one encoder, one decoder and
one set of losses in this suite (all of them documented choices, not claims about the paper):

* The relu3_1-level AdaAttN module, whose output the authors feed into a decoder skip connection
  (``--skip_connection_3``), is omitted: the shared decoder has no skip input.
* The training losses are the suite's (content on normalised relu4_1/relu5_1 features, mean/std
  style loss on relu1_1..relu5_1), not AdaAttN's local feature loss (an MSE against a
  parameter-free AdaAttN of the encoder features) and global style loss; see
  ``configs/model/adaattn.yaml`` for the weights.
* The standard deviation is ``sqrt(max(var, 0) + eps)`` (the suite's convention, finite gradients
  where the variance is 0) instead of ``sqrt(relu(var))``; the statistics are computed in float32.
* Style positions are capped at ``max_style_tokens`` (the original's ``max_sample`` = 256*256,
  random in training, evenly spaced, hence deterministic, in evaluation).
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stylekernel.baselines.sanet import _check_attention_args
from stylekernel.errors import check
from stylekernel.nn.attention import chunked_attention, flatten_positions, token_subset
from stylekernel.nn.base import StyleTransferNet
from stylekernel.nn.encoder import CHANNELS as LAYER_CHANNELS
from stylekernel.nn.encoder import LAYERS
from stylekernel.nn.functional import EPS, mvn

CHANNELS = 512


def key_channels(layer: str, shallow: bool) -> int:
    """Width of the attention key at ``layer`` (with ``shallow``: every layer up to it)."""
    if not shallow:
        return LAYER_CHANNELS[layer]
    return sum(LAYER_CHANNELS[n] for n in LAYERS[: LAYERS.index(layer) + 1])


def attention_key(features: dict[str, Tensor], layer: str, shallow: bool) -> Tensor:
    """AdaAttN's key at ``layer``: (B, key_channels(layer, shallow), h, w) float32.

    ``shallow=False``: mvn(features[layer]). ``shallow=True``: the features of every layer from
    relu1_1 to ``layer``, each resized (nearest) to ``layer``'s size (h, w) and then
    mean-variance normalised, concatenated along channels (shallow first).
    """
    target = features[layer]
    if not shallow:
        return mvn(target)
    size = target.shape[-2:]
    parts = [mvn(F.interpolate(features[n], size=size, mode="nearest")) for n in LAYERS[: LAYERS.index(layer)]]
    return torch.cat(parts + [mvn(target)], dim=1)


class AdaAttNBlock(nn.Module):
    """Attention-weighted mean and std applied to the normalised content feature.

    forward(zc: (B, C, H, W), zs: (B, C, H', W'), key_c: (B, D, H, W), key_s: (B, D, H', W'))
    -> (B, C, H, W).

    Args:
        channels: C, the width of the content/style features.
        key_channels: D, the width of the keys.
        scaled: divide the logits by sqrt(D) (False: the original's unscaled dot product).
        max_style_tokens: cap on style positions (random subset in training, evenly spaced in
            eval); None keeps all.
        query_chunk_size: content positions per attention chunk; None = one chunk.
    """

    def __init__(
        self,
        channels: int = CHANNELS,
        key_channels: int = CHANNELS,
        *,
        scaled: bool = False,
        max_style_tokens: Optional[int] = 256 * 256,
        query_chunk_size: Optional[int] = 4096,
    ) -> None:
        super().__init__()
        check(channels >= 1, f"channels must be >= 1, got {channels}")
        check(key_channels >= 1, f"key_channels must be >= 1, got {key_channels}")
        _check_attention_args(max_style_tokens, query_chunk_size)
        self.channels = channels
        self.scaled = scaled
        self.max_style_tokens = max_style_tokens
        self.query_chunk_size = query_chunk_size
        self.f = nn.Conv2d(key_channels, key_channels, 1)
        self.g = nn.Conv2d(key_channels, key_channels, 1)
        self.h = nn.Conv2d(channels, channels, 1)

    def forward(self, zc: Tensor, zs: Tensor, key_c: Tensor, key_s: Tensor) -> Tensor:
        b, c, h, w = zc.shape
        q = flatten_positions(self.f(key_c.to(zc.dtype)))  # (B, Nc, D)
        k = flatten_positions(self.g(key_s.to(zs.dtype)))  # (B, Ns, D)
        v = flatten_positions(self.h(zs))  # (B, Ns, C)
        idx = token_subset(k.shape[1], self.max_style_tokens, random=self.training, device=k.device)
        if idx is not None:
            k, v = k[:, idx], v[:, idx]
        with torch.autocast(device_type=zc.device.type, enabled=False):
            v = v.float()
            # one attention pass gives E[v] and E[v²] per content position
            stats = chunked_attention(
                q.float(),
                k.float(),
                torch.cat([v, v * v], dim=-1),
                chunk_size=self.query_chunk_size,
                scale=None if self.scaled else 1.0,
            )
            mean, sq_mean = stats.split(c, dim=-1)  # (B, Nc, C) each
            std = ((sq_mean - mean * mean).clamp_min(0.0) + EPS).sqrt()
            mean = mean.transpose(1, 2).reshape(b, c, h, w)
            std = std.transpose(1, 2).reshape(b, c, h, w)
            out = std * mvn(zc) + mean
        return out.to(zc.dtype)


class AdaAttN(StyleTransferNet):
    """AdaAttN at relu4_1 (and relu5_1), merged, then the shared decoder.

    With ``use_relu5_1`` (default, as the paper) the input size must be a multiple of 16.

    Args:
        encoder_weights: VGG19 source: torchvision | vgg_normalised | random | auto | a file path.
        use_relu5_1: add the relu5_1 block and the merge conv (the paper's layout); False keeps
            only relu4_1 (stride 8).
        shallow_keys: build keys from all layers relu1_1..L (the paper's "shallow_layer");
            False uses mvn(relu_L) alone.
        scaled_attention: divide attention logits by sqrt(key width) (the original does not).
        max_style_tokens: cap on style positions per attention (the original's 256*256); null
            keeps all.
        query_chunk_size: content positions per attention chunk (memory bound); null = one chunk.
    """

    def __init__(
        self,
        encoder_weights: str = "torchvision",
        use_relu5_1: bool = True,
        shallow_keys: bool = True,
        scaled_attention: bool = False,
        max_style_tokens: Optional[int] = 256 * 256,
        query_chunk_size: Optional[int] = 4096,
    ) -> None:
        super().__init__()
        _check_attention_args(max_style_tokens, query_chunk_size)
        self.use_relu5_1 = use_relu5_1
        self.shallow_keys = shallow_keys
        self.levels: tuple[str, ...] = ("relu4_1", "relu5_1") if use_relu5_1 else ("relu4_1",)
        block_args = dict(scaled=scaled_attention, max_style_tokens=max_style_tokens, query_chunk_size=query_chunk_size)
        self.adaattn4_1 = AdaAttNBlock(CHANNELS, key_channels("relu4_1", shallow_keys), **block_args)  # type: ignore[arg-type]
        if use_relu5_1:
            self.adaattn5_1 = AdaAttNBlock(CHANNELS, key_channels("relu5_1", shallow_keys), **block_args)  # type: ignore[arg-type]
            self.merge = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(CHANNELS, CHANNELS, 3))
        deepest = self.levels[-1]
        self.feature_layers = LAYERS[: LAYERS.index(deepest) + 1] if shallow_keys else self.levels
        self.stride = 16 if use_relu5_1 else 8
        self.build_encoder_decoder(encoder_weights)

    def transform(self, content: dict[str, Tensor], style: dict[str, Tensor]) -> Tensor:
        """Encoder features of content and style (``feature_layers``) -> (B, 512, H/8, W/8)."""
        keys = {
            n: (attention_key(content, n, self.shallow_keys), attention_key(style, n, self.shallow_keys))
            for n in self.levels
        }
        z = self.adaattn4_1(content["relu4_1"], style["relu4_1"], *keys["relu4_1"])
        if self.use_relu5_1:
            z5 = self.adaattn5_1(content["relu5_1"], style["relu5_1"], *keys["relu5_1"])
            z = self.merge(z + F.interpolate(z5, size=z.shape[-2:], mode="nearest"))
        return z
