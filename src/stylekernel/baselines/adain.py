"""AdaIN baseline: "Arbitrary Style Transfer in Real-time with Adaptive Instance Normalization"
(Huang & Belongie, ICCV 2017), as released in naoto0804/pytorch-AdaIN.

    content, style (B, 3, H, W), (B, 3, H', W')
      -> VGGEncoder                 relu4_1: (B, 512, ceil(H/8), ceil(W/8)), same for the style
      -> adain                      mvn(Zc) * sigma(Zs) + mu(Zs): (B, 512, h, w)
      -> Decoder                    (B, 3, 8h, 8w)

The defaults are the peer's conventions (``net.py`` / ``function.py``): max pooling with
``ceil_mode=True`` and the unbiased variance plus eps under the square root
(``feat.var(dim=2) + eps``, eps = 1e-5). With the peer's ``vgg_normalised.pth`` (encoder
weights ``vgg_normalised``, reflection padding) and its ``decoder.pth`` (``stylekernel weights
import adain``) the network computes the peer's output. The feature transform has no
parameters: only the decoder trains. ``configs/model/adain.yaml`` has the peer's recipe.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from stylekernel.baselines.registry import register_model
from stylekernel.nn.base import StyleTransferNet
from stylekernel.nn.functional import mean_std


@register_model("adain")
class AdaINNet(StyleTransferNet):
    """Adaptive instance normalisation at relu4_1 followed by the shared decoder.

    Args:
        encoder_weights: VGG19 source: torchvision | vgg_normalised | random | auto | a file path.
        ceil_mode: the encoder's max pooling rounds sizes up (True: the peer's ``vgg``; our
            network uses False). Equal results when the input is a multiple of 16.
        unbiased_std: sigma from the unbiased variance (True: the peer's ``calc_mean_std``;
            our network uses the biased one).
        encoder_padding: auto | reflect | zeros (auto: as the weights were trained, i.e.
            reflection for ``vgg_normalised`` as in the peer, zeros for torchvision).
    """

    def __init__(
        self,
        encoder_weights: str = "torchvision",
        ceil_mode: bool = True,
        unbiased_std: bool = True,
        encoder_padding: str = "auto",
    ) -> None:
        super().__init__()
        self.unbiased_std = unbiased_std
        self.build_encoder_decoder(encoder_weights, padding_mode=encoder_padding, ceil_mode=ceil_mode)

    # tiled transform (stylekernel.tiling.tiled_transform): pointwise given the global statistics
    transform_halo = 0

    def style_state(self, style: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """relu4_1 of the style (B, 512, h', w') -> its mean and std (B, 512, 1, 1), fp32."""
        return mean_std(style["relu4_1"], unbiased=self.unbiased_std)

    def transform_global(self, content: dict[str, Tensor], style_state: tuple[Tensor, Tensor]) -> dict[str, Any]:
        return {"content": mean_std(content["relu4_1"], unbiased=self.unbiased_std), "style": style_state}

    def transform_local(self, content: dict[str, Tensor], state: dict[str, Any]) -> Tensor:
        """relu4_1 of a content tile (B, 512, h, w) -> (x - mu_c) / sigma_c * sigma_s + mu_s (B, 512, h, w)."""
        zc = content["relu4_1"]
        (c_mean, c_std), (s_mean, s_std) = state["content"], state["style"]
        with torch.autocast(device_type=zc.device.type, enabled=False):  # statistics' dtype: fp32, or fp64 for fp64 input
            return ((zc.to(c_mean.dtype) - c_mean) / c_std * s_std + s_mean).to(zc.dtype)
