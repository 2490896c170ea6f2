"""LPIPS between each stylized image and its content image (the content term of ArtFID).

The ``lpips`` package is used as is (v0.1 linear layers, which it ships), with ``net="alex"`` by
default as in the ArtFID reference; ``"vgg"`` and ``"squeeze"`` are options. Images in [0, 1] are
mapped to [-1, 1] (``2x - 1``) before the call, exactly as the reference's
``image_metrics.LPIPS`` does.

The backbone's ImageNet weights come from :mod:`stylekernel.weights` (registry names
``alexnet``, ``vgg16``, ``squeezenet1_1``), never from an implicit torchvision download: the
``lpips.LPIPS`` module is built with ``pnet_rand=True`` and the torchvision state dict is copied
into its slices (lpips keeps torchvision's layer indices inside ``net.slice*``).
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from stylekernel import weights as weight_files
from stylekernel.errors import CheckpointError, ConfigError

from stylekernel_eval.metrics._base import PerPairMetric
from stylekernel_eval.protocol import DEFAULT_LPIPS_NET, DEFAULT_LPIPS_VERSION, LPIPSNet

BACKBONE_WEIGHTS: dict[str, str] = {"alex": "alexnet", "vgg": "vgg16", "squeeze": "squeezenet1_1"}


def build_lpips(net: LPIPSNet = DEFAULT_LPIPS_NET, version: str = DEFAULT_LPIPS_VERSION, backbone: str | os.PathLike[str] | None = None) -> nn.Module:
    """An ``lpips.LPIPS`` in eval mode with its backbone loaded through :mod:`stylekernel.weights`.

    Args:
        net: backbone: ``alex`` (the ArtFID reference), ``vgg`` or ``squeeze``.
        version: LPIPS linear-layer version shipped by the ``lpips`` package (``0.1``).
        backbone: a torchvision state-dict file for the backbone; default: the registry file.
    """
    if net not in BACKBONE_WEIGHTS:
        raise ConfigError(f"lpips net must be one of {sorted(BACKBONE_WEIGHTS)}, got {net!r}")
    import lpips

    state = weight_files.load_state_dict(backbone if backbone is not None else BACKBONE_WEIGHTS[net])
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # torchvision's deprecated `pretrained=` inside lpips
        model = lpips.LPIPS(net=net, version=version, pnet_rand=True, pretrained=True, verbose=False)
    load_backbone(model, state)
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


def load_backbone(model: nn.Module, state: dict[str, Tensor]) -> None:
    """Copy a torchvision classifier state dict (``features.<i>.*``) into ``model.net.slice*.<i>.*``.

    Every backbone parameter of ``model`` must be filled (a clear error otherwise).
    """
    target = {k: v for k, v in model.state_dict().items() if k.startswith("net.slice")}
    by_index: dict[str, str] = {}
    for key in target:  # net.slice2.3.weight -> features.3.weight
        _, _, idx, kind = key.split(".")
        by_index[f"features.{idx}.{kind}"] = key
    missing = [src for src in by_index if src not in state]
    if missing:
        raise CheckpointError(f"LPIPS backbone state dict lacks {missing[:3]} (is it a torchvision "
                              f"{getattr(model, 'pnet_type', '?')} file?)")
    new = {dst: state[src] for src, dst in by_index.items()}
    bad = [k for k, v in new.items() if v.shape != target[k].shape]
    if bad:
        raise CheckpointError(f"LPIPS backbone: wrong shapes for {bad[:3]}")
    model.load_state_dict(new, strict=False)


def lpips_scores(model: nn.Module, stylized: Tensor, content: Tensor) -> Tensor:
    """LPIPS per pair: stylized, content (B, 3, H, W) in [0, 1] -> (B,) float32."""
    if stylized.shape != content.shape:
        raise ValueError(f"LPIPS needs equal shapes, got {tuple(stylized.shape)} and {tuple(content.shape)}")
    with torch.no_grad():
        d = model(2 * stylized.float() - 1, 2 * content.float() - 1)
    return d.reshape(d.shape[0])


def lpips_features(model: nn.Module, images: Tensor) -> list[Tensor]:
    """One side of LPIPS: images (B, 3, H, W) in [0, 1] -> the unit-normalised backbone features per layer.

    The first half of ``lpips.LPIPS.forward`` (v0.1: scaling layer, backbone, ``normalize_tensor``),
    so a content image's features can be computed once and compared with many stylizations.
    """
    import lpips

    with torch.no_grad():
        x = 2 * images.float() - 1
        outs = model.net.forward(model.scaling_layer(x) if model.version == "0.1" else x)
        return [lpips.normalize_tensor(outs[k]) for k in range(model.L)]


def lpips_from_features(model: nn.Module, stylized: list[Tensor], content: list[Tensor]) -> Tensor:
    """The second half of ``lpips.LPIPS.forward``: per-layer features of both sides -> (B,) float32."""
    from lpips.lpips import spatial_average

    with torch.no_grad():
        val: Tensor | int = 0
        for k in range(model.L):
            val = val + spatial_average(model.lins[k]((stylized[k] - content[k]) ** 2), keepdim=True)
    assert isinstance(val, Tensor)
    return val.reshape(val.shape[0])


class LPIPS(PerPairMetric):
    """Mean LPIPS between stylized images and their content images.

    ``update(stylized, content)`` with (B, 3, H, W) tensors in [0, 1]; ``compute()`` returns
    ``{"lpips": mean, "count": n}``.
    """

    score_names: ClassVar[tuple[str, ...]] = ("lpips",)
    higher_is_better: ClassVar[bool | None] = False

    def __init__(
        self,
        net: LPIPSNet = DEFAULT_LPIPS_NET,
        version: str = DEFAULT_LPIPS_VERSION,
        backbone: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.net_name = net
        self.model = build_lpips(net, version, backbone)

    def train(self, mode: bool = True) -> "LPIPS":
        """The LPIPS network stays in eval mode (dropout off)."""
        super().train(mode)
        self.model.eval()
        return self

    def scores(self, stylized: Tensor, content: Tensor | None = None, *,
               content_features: list[Tensor] | None = None) -> dict[str, Tensor]:
        """(B, 3, H, W) pairs in [0, 1] -> {"lpips": (B,)}; or the content side precomputed
        (``content_features`` from :meth:`content_features`, batch B), same values."""
        if content_features is None:
            assert content is not None
            return {"lpips": lpips_scores(self.model, stylized, content)}
        return {"lpips": lpips_from_features(self.model, lpips_features(self.model, stylized), content_features)}

    def content_features(self, content: Tensor) -> list[Tensor]:
        """The content side (B, 3, H, W) -> per-layer features, for ``update(stylized, content_features=...)``."""
        return lpips_features(self.model, content)
