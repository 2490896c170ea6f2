"""Content loss, style loss and (optionally) a Gram-matrix style distance, as in training.

The values come from :mod:`stylekernel.losses` itself (``reduction="none"``, one value per pair),
so the evaluation reports exactly what the training objective measures: content = MSE of
mean-variance-normalised VGG features at relu4_1 + relu5_1 (stylised vs content); style = MSE of
channel means plus MSE of channel stds at relu1_1 .. relu5_1 (stylised vs style); gram = MSE of
Gram matrices at the same layers. One encoder pass per image serves all three.
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

from torch import Tensor

from stylekernel import losses
from stylekernel.nn.encoder import VGGEncoder

from stylekernel_eval.metrics._base import PerPairMetric


def perceptual_scores(
    encoder: VGGEncoder,
    stylised: Tensor,
    content: Tensor,
    style: Tensor,
    *,
    content_layers: Sequence[str] = losses.CONTENT_LAYERS,
    style_layers: Sequence[str] = losses.STYLE_LAYERS,
    gram: bool = False,
) -> dict[str, Tensor]:
    """Per-pair losses: stylised, content (B, 3, H, W), style (B, 3, H', W') in [0, 1] -> {name: (B,)}."""
    layers = tuple(dict.fromkeys((*content_layers, *style_layers)))
    f_out = encoder(stylised, layers)
    f_c = encoder(content, content_layers)
    f_s = encoder(style, style_layers)
    out = {
        "content_loss": losses.content_loss(f_out, f_c, content_layers, reduction="none"),
        "style_loss": losses.style_loss(f_out, f_s, style_layers, reduction="none"),
    }
    if gram:
        out["gram_loss"] = losses.gram_loss(f_out, f_s, style_layers, reduction="none")
    return out


class PerceptualLosses(PerPairMetric):
    """Mean content loss, style loss (and Gram distance) over pairs.

    ``update(stylised, content, style)``; the encoder is a frozen
    :class:`~stylekernel.nn.encoder.VGGEncoder` (``encoder_weights`` as in training, or pass
    ``encoder`` to reuse one, e.g. the network's own).
    """

    score_names: ClassVar[tuple[str, ...]] = ("content_loss", "style_loss", "gram_loss")
    higher_is_better: ClassVar[bool | None] = False

    def __init__(
        self,
        encoder_weights: str = "torchvision",
        gram: bool = False,
        encoder: VGGEncoder | None = None,
        **kwargs: Any,
    ) -> None:
        self.gram = gram
        super().__init__(**kwargs)
        self.encoder = encoder if encoder is not None else VGGEncoder(encoder_weights, last_layer="relu5_1")

    def active_score_names(self) -> tuple[str, ...]:
        return self.score_names if self.gram else self.score_names[:2]

    def scores(self, stylised: Tensor, content: Tensor, style: Tensor) -> dict[str, Tensor]:
        """Pairs (B, 3, H, W) and their style images (B, 3, H', W') -> {name: (B,)}."""
        import torch

        with torch.no_grad():
            return perceptual_scores(self.encoder, stylised, content, style, gram=self.gram)
