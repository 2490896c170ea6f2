"""The AdaIN / SANet peers' networks, written here from their code's layer lists and equations
(naoto0804/pytorch-AdaIN ``net.py`` + ``function.py``; GlebSBrykin/SANET ``Eval.py``), used to
write random weights in the peers' exact file layouts and to compute the peers' output.

Nothing here imports the suite: this is the independent reference the released-weight tests
compare with.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

VGG_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512]


def peer_vgg() -> nn.Sequential:
    """``net.vgg``: 1x1 colour conv, then [ReflectionPad2d(1), 3x3 conv, ReLU] per conv, 2x2 max
    pools with ceil_mode=True, to relu5_4 (keys ``0.weight`` ... ``51.bias``)."""
    layers: list[nn.Module] = [nn.Conv2d(3, 3, (1, 1))]
    cin = 3
    for v in VGG_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d((2, 2), (2, 2), (0, 0), ceil_mode=True))
        else:
            layers += [nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(cin, int(v), (3, 3)), nn.ReLU()]
            cin = int(v)
    return nn.Sequential(*layers)


def _conv(cin: int, cout: int, relu: bool = True) -> list[nn.Module]:
    return [nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(cin, cout, (3, 3))] + ([nn.ReLU()] if relu else [])


def peer_decoder() -> nn.Sequential:
    """``net.decoder`` (AdaIN; SANet's is the same list)."""
    up = lambda: nn.Upsample(scale_factor=2, mode="nearest")  # noqa: E731
    return nn.Sequential(
        *_conv(512, 256), up(),
        *_conv(256, 256), *_conv(256, 256), *_conv(256, 256), *_conv(256, 128), up(),
        *_conv(128, 128), *_conv(128, 64), up(),
        *_conv(64, 64), *_conv(64, 3, relu=False),
    )  # fmt: skip


class PeerSANetBlock(nn.Module):
    """``SANet(in_planes)``: f, g, h, out_conv 1x1 convs."""

    def __init__(self, c: int = 512) -> None:
        super().__init__()
        self.f, self.g, self.h, self.out_conv = (nn.Conv2d(c, c, (1, 1)) for _ in range(4))


class PeerTransform(nn.Module):
    """``Transform(512)``: sanet4_1, sanet5_1, merge_conv (3x3 after a reflection pad)."""

    def __init__(self, c: int = 512) -> None:
        super().__init__()
        self.sanet4_1, self.sanet5_1 = PeerSANetBlock(c), PeerSANetBlock(c)
        self.merge_conv = nn.Conv2d(c, c, (3, 3))


# --- the peers' equations ----------------------------------------------------------------------
def calc_mean_std(feat: Tensor, eps: float = 1e-5) -> tuple[Tensor, Tensor]:
    """``function.calc_mean_std``: mean and sqrt(unbiased var + eps) over space, (N, C, 1, 1)."""
    n, c = feat.shape[:2]
    flat = feat.reshape(n, c, -1)
    m = flat.shape[-1]
    mean = flat.sum(dim=2) / m
    var = ((flat - mean[..., None]) ** 2).sum(dim=2) / (m - 1) + eps
    return mean.view(n, c, 1, 1), var.sqrt().view(n, c, 1, 1)


def adaptive_instance_normalization(content: Tensor, style: Tensor) -> Tensor:
    s_mean, s_std = calc_mean_std(style)
    c_mean, c_std = calc_mean_std(content)
    return (content - c_mean) / c_std * s_std + s_mean


def mean_variance_norm(feat: Tensor) -> Tensor:
    mean, std = calc_mean_std(feat)
    return (feat - mean) / std


def run(layers: nn.Sequential, x: Tensor, start: int, stop: int) -> Tensor:
    """``nn.Sequential(*list(vgg.children())[start:stop])(x)``."""
    for layer in list(layers.children())[start:stop]:
        x = layer(x)
    return x


def adain_forward(vgg: nn.Sequential, decoder: nn.Sequential, content: Tensor, style: Tensor) -> Tensor:
    """``test.style_transfer`` with alpha = 1: vgg[:31] is input -> relu4_1."""
    return decoder(adaptive_instance_normalization(run(vgg, content, 0, 31), run(vgg, style, 0, 31)))


def sanet_block(b: PeerSANetBlock, content: Tensor, style: Tensor) -> Tensor:
    """``SANet.forward``: S = softmax(F^T G) over style positions, O = out_conv(H S^T) + content."""
    f = b.f(mean_variance_norm(content)).flatten(2)  # (B, C, Nc)
    g = b.g(mean_variance_norm(style)).flatten(2)  # (B, C, Ns)
    h = b.h(style).flatten(2)  # (B, C, Ns)
    s = torch.softmax(torch.einsum("bci,bcj->bij", f, g), dim=-1)  # (B, Nc, Ns)
    o = torch.einsum("bcj,bij->bci", h, s).reshape(content.shape)
    return b.out_conv(o) + content


def sanet_forward(vgg: nn.Sequential, decoder: nn.Sequential, t: PeerTransform, content: Tensor, style: Tensor) -> Tensor:
    """``Eval.py``: enc_1..enc_4 = vgg[:31] (relu4_1), enc_5 = vgg[31:44] (relu5_1); merge_conv
    of reflection-padded sanet4_1 + nearest-x2-upsampled sanet5_1; then the decoder."""
    c4, s4 = run(vgg, content, 0, 31), run(vgg, style, 0, 31)
    c5, s5 = run(vgg, c4, 31, 44), run(vgg, s4, 31, 44)
    up = nn.functional.interpolate(sanet_block(t.sanet5_1, c5, s5), scale_factor=2, mode="nearest")
    merged = t.merge_conv(nn.functional.pad(sanet_block(t.sanet4_1, c4, s4) + up, (1, 1, 1, 1), mode="reflect"))
    return decoder(merged)


# --- files -----------------------------------------------------------------------------------
def save_state(module: nn.Module, path: Path, *, legacy: bool = False) -> Path:
    """``torch.save(module.state_dict(), path)`` as the peers do (legacy: the pre-1.6 format)."""
    torch.save(module.state_dict(), path, _use_new_zipfile_serialization=not legacy)
    return path
