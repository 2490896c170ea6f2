"""Fixtures for the inference tests: one small random-weight network and its checkpoint (built once).

A random decoder shrinks its input layer after layer (the output would be a flat colour near 0,
clamped). The fixture network's decoder is therefore calibrated once, LSUV-style: each conv is
rescaled so its output varies over space with std 1 (the last one: std 0.15 around 0.5), so
comparisons in the tests see real, spatially varying images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image

from stylekernel.inference import Stylizer
from stylekernel.module import StyleTransferModule
from stylekernel.nn.style_kernel_net import StyleKernelNet


def _make_net(**kwargs: object) -> StyleKernelNet:
    """A seeded random StyleKernelNet with visible output contrast (see the module docstring)."""
    torch.manual_seed(0)
    net = StyleKernelNet(encoder_weights="random", groups=16, kernel_hidden_channels=32, gate_hidden_channels=16, **kwargs)  # type: ignore[arg-type]
    _calibrate_decoder(net)
    return net.eval()


@torch.no_grad()
def _calibrate_decoder(net: StyleKernelNet) -> None:
    gen = torch.Generator().manual_seed(1)
    c, s = torch.rand(1, 3, 64, 64, generator=gen), torch.rand(1, 3, 64, 64, generator=gen)
    h = net.transform(net.encode(c), net.encode(s))
    convs = [m for m in net.decoder.body if isinstance(m, torch.nn.Conv2d)]
    for layer in net.decoder.body:
        if isinstance(layer, torch.nn.Conv2d):
            last = layer is convs[-1]
            gain = (0.15 if last else 1.0) / layer(h).std(dim=(2, 3)).mean()
            layer.weight.mul_(gain)
            layer.bias.mul_(gain)
            if last:
                layer.bias.add_(0.5 - layer(h).mean(dim=(0, 2, 3)))
        h = layer(h)


@pytest.fixture(scope="session")
def make_net() -> Callable[..., StyleKernelNet]:
    """``make_net(**StyleKernelNet kwargs)``: a seeded small random network."""
    return _make_net


@pytest.fixture(scope="session")
def net() -> StyleKernelNet:
    return _make_net()


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, net: StyleKernelNet) -> Path:
    """A real Lightning checkpoint of ``net`` (written by Trainer.save_checkpoint)."""
    path = tmp_path_factory.mktemp("ckpt") / "random.ckpt"
    module = StyleTransferModule(net)
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.strategy.connect(module)
    trainer.save_checkpoint(path)
    return path


@pytest.fixture(scope="session")
def stylizer(checkpoint: Path) -> Stylizer:
    """Stylizer from the checkpoint with a small style size (fast); the 1000-px panorama is tiled."""
    return Stylizer.from_checkpoint(checkpoint, style_size=32, tile_size=256)


def _rand_rgb(w: int, h: int, seed: int = 0) -> Image.Image:
    """A smooth random RGB image of PIL size (w, h): low-frequency noise upsampled bilinearly."""
    rng = np.random.default_rng(seed)
    small = (rng.random((max(2, h // 8), max(2, w // 8), 3)) * 255).astype(np.uint8)
    return Image.fromarray(small, "RGB").resize((w, h), Image.Resampling.BILINEAR)


@pytest.fixture(scope="session")
def rand_rgb() -> Callable[..., Image.Image]:
    """``rand_rgb(w, h, seed=0)``: a smooth random RGB PIL image."""
    return _rand_rgb
