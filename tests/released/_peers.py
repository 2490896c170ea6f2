"""Pieces the AdaAttN and StyTr-2 release tests share with the AdaIN / SANet ones: the
``vgg_normalised`` layer list, the AdaIN-style CNN decoder (StyTr-2's too) and
``calc_mean_std`` live in :mod:`._adain_family` (one reference); here, the VGG slices the
AdaAttN / StyTr-2 code encodes with, random weights of healthy scale, and small helpers."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor, nn

from ._adain_family import _conv as conv_block
from ._adain_family import calc_mean_std, peer_decoder, peer_vgg
from ._adain_family import mean_variance_norm as mvn

__all__ = ["calc_mean_std", "conv_block", "mvn", "peer_decoder", "peer_features", "peer_vgg", "randomise", "rel", "save"]


def randomise(module: nn.Module, seed: int) -> nn.Module:
    """Weights with healthy activations: He-normal convs, small biases, 1x1 attention convs
    scaled so that logits are O(1)."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
            std = math.sqrt(2.0 / fan_in) if m.kernel_size != (1, 1) or m.in_channels == 3 else fan_in**-0.75
            m.weight.data = torch.randn(m.weight.shape, generator=g) * std
            m.bias.data = torch.randn(m.bias.shape, generator=g) * 0.05
    return module


def peer_features(vgg: nn.Sequential, x: Tensor) -> list[Tensor]:
    """relu1_1 .. relu5_1 through the slices [:4], [4:11], [11:18], [18:31], [31:44]."""
    layers = list(vgg.children())
    out = []
    for a, b in [(0, 4), (4, 11), (11, 18), (18, 31), (31, 44)]:
        x = nn.Sequential(*layers[a:b])(x)
        out.append(x)
    return out


def rel(a: Tensor, b: Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def save(state: dict, path: Path) -> Path:
    torch.save(state, path)
    return path


def assert_part_refused(method: str, files: dict[str, Path], part: str, bad: Path, out: Path, message: str) -> None:
    """Importing ``method`` with ``bad`` as ``part`` is one line naming the file, the part and
    ``message``, and writes nothing at ``out``."""
    import pytest

    from stylekernel.released import ReleaseImportError, import_release

    with pytest.raises(ReleaseImportError) as info:
        import_release(method, {**files, part: bad}, out)
    text = str(info.value)
    assert "\n" not in text and message in text and str(bad) in text and f"({part})" in text
    assert not out.exists()
