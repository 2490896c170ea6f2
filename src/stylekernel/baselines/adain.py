"""AdaIN baseline: "Arbitrary Style Transfer in Real-time with Adaptive Instance Normalization"
(Huang & Belongie, ICCV 2017).

    content, style (B, 3, H, W), (B, 3, H', W')
      -> VGGEncoder                 relu4_1: (B, 512, H/8, W/8), (B, 512, H'/8, W'/8)
      -> adain                      mvn(Zc) * sigma(Zs) + mu(Zs): (B, 512, H/8, W/8)
      -> Decoder                    (B, 3, H, W)

The feature transform has no parameters: only the decoder trains. The original trains with
content weight 1 (against the AdaIN target, at relu4_1) and style weight 10 and no identity
losses; here the shared losses of the suite are used (``configs/model/adain.yaml`` sets the
weights 1 / 10 / 0 / 0), so the content term is the suite's normalised-feature loss at relu4_1
and relu5_1 rather than AdaIN's target loss.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from stylekernel.nn.base import StyleTransferNet
from stylekernel.nn.functional import mean_std


class AdaINNet(StyleTransferNet):
    """Adaptive instance normalisation at relu4_1 followed by the shared decoder.

    Args:
        encoder_weights: VGG19 source: torchvision | vgg_normalised | random | auto | a file path.
    """

    def __init__(self, encoder_weights: str = "torchvision") -> None:
        super().__init__()
        self.build_encoder_decoder(encoder_weights)

    # tiled transform (stylekernel.tiling.tiled_transform): pointwise given the global statistics
    transform_halo = 0

    def style_state(self, style: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """relu4_1 of the style (B, 512, h', w') -> its mean and std (B, 512, 1, 1), fp32."""
        return mean_std(style["relu4_1"])

    def transform_global(self, content: dict[str, Tensor], style_state: tuple[Tensor, Tensor]) -> dict[str, Any]:
        return {"content": mean_std(content["relu4_1"]), "style": style_state}

    def transform_local(self, content: dict[str, Tensor], state: dict[str, Any]) -> Tensor:
        """relu4_1 of a content tile (B, 512, h, w) -> (x - mu_c) / sigma_c * sigma_s + mu_s (B, 512, h, w)."""
        zc = content["relu4_1"]
        (c_mean, c_std), (s_mean, s_std) = state["content"], state["style"]
        with torch.autocast(device_type=zc.device.type, enabled=False):
            return ((zc.float() - c_mean) / c_std * s_std + s_mean).to(zc.dtype)
