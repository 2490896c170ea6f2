"""Training losses of the style-kernel network (and every baseline trained by the suite).

All statistics (means, stds, normalised features) and squared errors are computed in float32
even under bf16/fp16 autocast. Per-sample values (``reduction="none"``, shape ``(B,)``) serve the
evaluation package, which reports content and style loss per pair with this same code.

* content: sum over ``layers`` of MSE(mvn(phi(out)), mvn(phi(content))) (relu4_1 + relu5_1), or
  of the raw features (``normalize=False``);
* style: sum over ``layers`` of MSE(mu(phi(out)), mu(phi(style))) + MSE(sigma(.), sigma(.))
  (relu1_1 .. relu5_1), the squared-error form the peers' code uses;
* identity 1: MSE(I_cc, I_c) + MSE(I_ss, I_s) in pixel space;
* identity 2: sum over ``layers`` of MSE(phi(I_cc), phi(I_c)) + MSE(phi(I_ss), phi(I_s)).
"""

from __future__ import annotations

from typing import Literal, Mapping, Sequence

import torch
from torch import Tensor

from stylekernel.nn.functional import EPS, mean_std, mvn

Reduction = Literal["mean", "none"]

CONTENT_LAYERS: tuple[str, ...] = ("relu4_1", "relu5_1")
STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def _mse(a: Tensor, b: Tensor, reduction: Reduction) -> Tensor:
    """Mean squared error in float32; (B, ...) -> scalar, or (B,) with reduction='none'."""
    with torch.autocast(device_type=a.device.type, enabled=False):
        per_sample = (a.float() - b.float()).pow(2).flatten(1).mean(dim=1)
    return per_sample.mean() if reduction == "mean" else per_sample


def content_loss(
    output: Mapping[str, Tensor],
    content: Mapping[str, Tensor],
    layers: Sequence[str] = CONTENT_LAYERS,
    reduction: Reduction = "mean",
    *,
    normalize: bool = True,
    unbiased: bool = False,
) -> Tensor:
    """Sum over layers of MSE between normalised features (B, C, H, W) of output and content.

    ``normalize=False``: MSE of the raw features (AdaIN against its target, AdaConv);
    ``unbiased``: mvn with the unbiased variance (SANet's ``mean_variance_norm``).
    """
    if not normalize:
        return sum(_mse(output[n], content[n], reduction) for n in layers)  # type: ignore[return-value]
    return sum(_mse(mvn(output[n], unbiased=unbiased), mvn(content[n], unbiased=unbiased), reduction) for n in layers)  # type: ignore[return-value]


def style_loss(
    output: Mapping[str, Tensor],
    style: Mapping[str, Tensor],
    layers: Sequence[str] = STYLE_LAYERS,
    reduction: Reduction = "mean",
    *,
    unbiased: bool = False,
    eps: float = EPS,
) -> Tensor:
    """Sum over layers of MSE of channel means plus MSE of channel stds (features (B, C, H, W)).

    std = sqrt(var + ``eps``), var biased or ``unbiased`` (AdaIN / SANet: unbiased, eps 1e-5;
    AdaConv's ``torch.std``: unbiased, eps 0).
    """
    return style_loss_from_statistics(
        style_statistics(output, layers, unbiased=unbiased, eps=eps),
        style_statistics(style, layers, unbiased=unbiased, eps=eps),
        layers,
        reduction,
    )


def style_statistics(
    features: Mapping[str, Tensor], layers: Sequence[str] = STYLE_LAYERS, *, unbiased: bool = False, eps: float = EPS
) -> dict[str, tuple[Tensor, Tensor]]:
    """{layer: (mean, std)}, each (B, C, 1, 1) float32: all that :func:`style_loss` reads of a feature map
    (``unbiased`` and ``eps`` as in :func:`style_loss`)."""
    return {n: mean_std(features[n], eps, unbiased) for n in layers}


def style_loss_from_statistics(
    output: Mapping[str, tuple[Tensor, Tensor]],
    style: Mapping[str, tuple[Tensor, Tensor]],
    layers: Sequence[str] = STYLE_LAYERS,
    reduction: Reduction = "mean",
) -> Tensor:
    """:func:`style_loss` from :func:`style_statistics` (lets a caller compute a style image's once)."""
    total = 0.0
    for n in layers:
        (mo, so), (ms, ss) = output[n], style[n]
        total = total + _mse(mo, ms, reduction) + _mse(so, ss, reduction)
    return total  # type: ignore[return-value]


def gram_loss(
    output: Mapping[str, Tensor],
    style: Mapping[str, Tensor],
    layers: Sequence[str] = STYLE_LAYERS,
    reduction: Reduction = "mean",
) -> Tensor:
    """Sum over layers of MSE between Gram matrices (C x C, divided by H*W), in float32."""
    return gram_loss_from_grams({n: gram(output[n]) for n in layers}, {n: gram(style[n]) for n in layers}, layers, reduction)


def gram_loss_from_grams(
    output: Mapping[str, Tensor],
    style: Mapping[str, Tensor],
    layers: Sequence[str] = STYLE_LAYERS,
    reduction: Reduction = "mean",
) -> Tensor:
    """:func:`gram_loss` from Gram matrices {layer: (B, C, C)} (see :func:`gram`)."""
    total = 0.0
    for n in layers:
        total = total + _mse(output[n], style[n], reduction)
    return total  # type: ignore[return-value]


def gram(x: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, C, C) float32 Gram matrix normalised by H*W."""
    with torch.autocast(device_type=x.device.type, enabled=False):
        f = x.float().flatten(2)
        return torch.bmm(f, f.transpose(1, 2)) / f.shape[-1]


def identity1_loss(cc: Tensor, c: Tensor, ss: Tensor, s: Tensor, reduction: Reduction = "mean") -> Tensor:
    """Pixel identity loss: MSE(I_cc, I_c) + MSE(I_ss, I_s); images (B, 3, H, W)."""
    return _mse(cc, c, reduction) + _mse(ss, s, reduction)


def identity2_loss(
    cc: Mapping[str, Tensor],
    c: Mapping[str, Tensor],
    ss: Mapping[str, Tensor],
    s: Mapping[str, Tensor],
    layers: Sequence[str] = STYLE_LAYERS,
    reduction: Reduction = "mean",
) -> Tensor:
    """Feature identity loss: sum over layers of MSE(phi(I_cc), phi(I_c)) + MSE(phi(I_ss), phi(I_s))."""
    return sum(_mse(cc[n], c[n], reduction) + _mse(ss[n], s[n], reduction) for n in layers)  # type: ignore[return-value]
