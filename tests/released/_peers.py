"""The authors' shared pieces, re-implemented for the release tests from their code: the
``vgg_normalised`` layer list (AdaIN, SANet, AdaAttN and StyTr-2 all use it), their
``calc_mean_std`` (unbiased variance + eps), and helpers that write random weights."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor, nn

VGG_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512]


def conv_block(cin: int, cout: int, relu: bool = True) -> list[nn.Module]:
    return [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3)] + ([nn.ReLU()] if relu else [])


def peer_vgg() -> nn.Sequential:
    """``vgg_normalised``: 1x1 colour conv, then [reflection pad, 3x3 conv, ReLU] per conv and
    ceil-mode 2x2 max pools, to relu5_4."""
    layers: list[nn.Module] = [nn.Conv2d(3, 3, 1)]
    cin = 3
    for v in VGG_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2, 0, ceil_mode=True))
        else:
            layers += conv_block(cin, int(v))
            cin = int(v)
    return nn.Sequential(*layers)


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


def calc_mean_std(x: Tensor, eps: float = 1e-5) -> tuple[Tensor, Tensor]:
    n, c = x.shape[:2]
    var = x.reshape(n, c, -1).var(dim=2) + eps  # unbiased
    return x.reshape(n, c, -1).mean(dim=2).view(n, c, 1, 1), var.sqrt().view(n, c, 1, 1)


def mvn(x: Tensor) -> Tensor:
    mean, std = calc_mean_std(x)
    return (x - mean) / std


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
