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

from torch import Tensor

from stylekernel.nn.base import StyleTransferNet
from stylekernel.nn.functional import adain



class AdaINNet(StyleTransferNet):
    """Adaptive instance normalisation at relu4_1 followed by the shared decoder.

    Args:
        encoder_weights: VGG19 source: torchvision | vgg_normalised | random | auto | a file path.
    """

    def __init__(self, encoder_weights: str = "torchvision") -> None:
        super().__init__()
        self.build_encoder_decoder(encoder_weights)

    def transform(self, content: dict[str, Tensor], style: dict[str, Tensor]) -> Tensor:
        """relu4_1 of content (B, 512, h, w) and style (B, 512, h', w') -> (B, 512, h, w)."""
        zc = content["relu4_1"]
        return adain(zc, style["relu4_1"]).to(zc.dtype)
