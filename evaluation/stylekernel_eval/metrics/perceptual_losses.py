"""Content loss, style loss and (optionally) a Gram-matrix style distance, as in training.

The values come from :mod:`stylekernel.losses` itself (``reduction="none"``, one value per pair),
so the evaluation reports exactly what the training objective measures: content = MSE of
mean-variance-normalised VGG features at relu4_1 + relu5_1 (stylized vs content); style = MSE of
channel means plus MSE of channel stds at relu1_1 .. relu5_1 (stylized vs style); gram = MSE of
Gram matrices at the same layers. One encoder pass per image serves all three.
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import torch
from torch import Tensor

from stylekernel import losses
from stylekernel.nn.encoder import VGGEncoder

from stylekernel_eval.metrics._base import PerPairMetric
from stylekernel_eval.protocol import DEFAULT_LOSS_ENCODER


def perceptual_scores(
    encoder: VGGEncoder,
    stylized: Tensor,
    content: Tensor,
    style: Tensor,
    *,
    content_layers: Sequence[str] = losses.CONTENT_LAYERS,
    style_layers: Sequence[str] = losses.STYLE_LAYERS,
    gram: bool = False,
) -> dict[str, Tensor]:
    """Per-pair losses: stylized, content (B, 3, H, W), style (B, 3, H', W') in [0, 1] -> {name: (B,)}."""
    layers = tuple(dict.fromkeys((*content_layers, *style_layers)))
    f_out = encoder(stylized, layers)
    f_c = encoder(content, content_layers)
    f_s = encoder(style, style_layers)
    out = {
        "content_loss": losses.content_loss(f_out, f_c, content_layers, reduction="none"),
        "style_loss": losses.style_loss(f_out, f_s, style_layers, reduction="none"),
    }
    if gram:
        out["gram_loss"] = losses.gram_loss(f_out, f_s, style_layers, reduction="none")
    return out


def content_side(encoder: VGGEncoder, content: Tensor, layers: Sequence[str] = losses.CONTENT_LAYERS) -> dict[str, Tensor]:
    """What the losses read of a content image (B, 3, H, W): its features at the content layers."""
    with torch.no_grad():
        return encoder(content, layers)


def style_side(encoder: VGGEncoder, style: Tensor, *, layers: Sequence[str] = losses.STYLE_LAYERS,
               gram: bool = False) -> dict[str, Any]:
    """What the losses read of a style image (B, 3, H, W): channel mean/std per layer (and Gram matrices)."""
    with torch.no_grad():
        f_s = encoder(style, layers)
        out: dict[str, Any] = {"stats": losses.style_statistics(f_s, layers)}
        if gram:
            out["grams"] = {n: losses.gram(f_s[n]) for n in layers}
        return out


def scores_from_sides(
    encoder: VGGEncoder,
    stylized: Tensor,
    content: dict[str, Tensor],
    style: dict[str, Any],
    *,
    content_layers: Sequence[str] = losses.CONTENT_LAYERS,
    style_layers: Sequence[str] = losses.STYLE_LAYERS,
    gram: bool = False,
) -> dict[str, Tensor]:
    """:func:`perceptual_scores` with the content and style sides precomputed (:func:`content_side`, :func:`style_side`)."""
    layers = tuple(dict.fromkeys((*content_layers, *style_layers)))
    with torch.no_grad():
        f_out = encoder(stylized, layers)
        out = {
            "content_loss": losses.content_loss(f_out, content, content_layers, reduction="none"),
            "style_loss": losses.style_loss_from_statistics(losses.style_statistics(f_out, style_layers), style["stats"],
                                                            style_layers, reduction="none"),
        }
        if gram:
            out["gram_loss"] = losses.gram_loss_from_grams({n: losses.gram(f_out[n]) for n in style_layers},
                                                           style["grams"], style_layers, reduction="none")
        return out


class PerceptualLosses(PerPairMetric):
    """Mean content loss, style loss (and Gram distance) over pairs.

    ``update(stylized, content, style)``; the encoder is a frozen
    :class:`~stylekernel.nn.encoder.VGGEncoder` (``encoder_weights`` as in training, or pass
    ``encoder`` to reuse one, e.g. the network's own).
    """

    score_names: ClassVar[tuple[str, ...]] = ("content_loss", "style_loss", "gram_loss")
    higher_is_better: ClassVar[bool | None] = False

    def __init__(
        self,
        encoder_weights: str = DEFAULT_LOSS_ENCODER,
        gram: bool = False,
        encoder: VGGEncoder | None = None,
        **kwargs: Any,
    ) -> None:
        self.gram = gram
        super().__init__(**kwargs)
        self.encoder = encoder if encoder is not None else VGGEncoder(encoder_weights, last_layer="relu5_1")

    def active_score_names(self) -> tuple[str, ...]:
        return self.score_names if self.gram else self.score_names[:2]

    def scores(self, stylized: Tensor, content: Tensor | None = None, style: Tensor | None = None, *,
               content_side: dict[str, Tensor] | None = None, style_side: dict[str, Any] | None = None) -> dict[str, Tensor]:
        """Pairs (B, 3, H, W) and their style images (B, 3, H', W') -> {name: (B,)}; either image may be
        replaced by its precomputed side (:meth:`content_side`, :meth:`style_side`, batch B), same values."""
        with torch.no_grad():
            if content_side is None and style_side is None:
                assert content is not None and style is not None
                return perceptual_scores(self.encoder, stylized, content, style, gram=self.gram)
            c = content_side if content_side is not None else self.content_side(content)  # type: ignore[arg-type]
            s = style_side if style_side is not None else self.style_side(style)  # type: ignore[arg-type]
            return scores_from_sides(self.encoder, stylized, c, s, gram=self.gram)

    def content_side(self, content: Tensor) -> dict[str, Tensor]:
        """Content (B, 3, H, W) -> its features at the content layers (see :func:`content_side`)."""
        return content_side(self.encoder, content)

    def style_side(self, style: Tensor) -> dict[str, Any]:
        """Style (B, 3, H, W) -> its statistics (see :func:`style_side`)."""
        return style_side(self.encoder, style, gram=self.gram)
