"""Fixtures of the evaluation tests: fake weight files, small image folders, a tiny network.

Fake weights are random but shaped exactly like the real files and saved under the registry's
file names, so the real loading code (``stylekernel.weights`` -> lpips / art Inception) runs on
them. The art Inception fake is calibrated as METHOD.md's testing tip says: BatchNorm running
statistics are cumulative averages over a few random batches in train mode, so the features are
finite and spread and FID is computable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor, nn

from stylekernel import weights as weight_files
from stylekernel.nn.base import StyleTransferNet
from stylekernel.nn.decoder import Decoder
from stylekernel.nn.encoder import VGGEncoder
from stylekernel.nn.functional import adain

FAKE_NAMES = ("alexnet", "art_inception", "vgg19")


def make_fake_alexnet(path: Path, seed: int = 1) -> None:
    """A random torchvision AlexNet state dict (the LPIPS backbone file)."""
    import torchvision

    torch.manual_seed(seed)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), path)


def make_fake_vgg19(path: Path, seed: int = 4) -> None:
    """A random torchvision VGG19 state dict, ``features.*`` only (what the losses' encoder reads)."""
    import torchvision

    torch.manual_seed(seed)
    torch.save({f"features.{k}": v for k, v in torchvision.models.vgg19(weights=None).features.state_dict().items()}, path)


def make_fake_art_inception(path: Path, seed: int = 2, image_size: int = 80) -> None:
    """A random art Inception-v3 with calibrated BatchNorm statistics (see the module docstring)."""
    from stylekernel_eval.inception import ArtInception

    torch.manual_seed(seed)
    model = ArtInception()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None  # cumulative average
    nn.Module.train(model, True)  # ArtInception.train() refuses to leave eval mode
    with torch.no_grad():
        for _ in range(2):
            model(torch.rand(6, 3, image_size, image_size))
    torch.save(model.state_dict(), path)


@pytest.fixture(scope="session")
def fake_weight_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with fake ``alexnet``, ``art_inception`` and ``vgg19`` files under their registry names."""
    root = tmp_path_factory.mktemp("fake-weights")
    make_fake_alexnet(root / weight_files.spec("alexnet").filename)
    make_fake_vgg19(root / weight_files.spec("vgg19").filename)
    make_fake_art_inception(root / weight_files.spec("art_inception").filename)
    return root


@pytest.fixture
def eval_weights(weights_cache: Path, fake_weight_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The fake files in $STYLEKERNEL_CACHE and in $TORCH_HOME/hub/checkpoints (where lpips,
    torchvision and the art-fid reference look). Returns the cache folder."""
    torch_home = tmp_path / "torch-home"
    hub = torch_home / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    for name in FAKE_NAMES:
        filename = weight_files.spec(name).filename
        for folder in (weights_cache, hub):
            os.symlink(fake_weight_dir / filename, folder / filename)
    yield weights_cache


def smooth_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A (H, W, 3) uint8 image: a random low-frequency pattern plus noise (not flat, not white noise)."""
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    channels = []
    for _ in range(3):
        f = rng.uniform(1, 6, size=2)
        phase = rng.uniform(0, 2 * np.pi)
        channels.append(0.5 + 0.35 * np.sin(2 * np.pi * (f[0] * xx + f[1] * yy) + phase))
    img = np.stack(channels, -1) + rng.normal(0, 0.08, size=(height, width, 3))
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def write_images(folder: Path, names: list[str], *, seed: int, size: tuple[int, int] = (96, 112)) -> list[Path]:
    """Write PNGs named ``names`` (H x W = ``size``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for name in names:
        p = folder / name
        Image.fromarray(smooth_image(rng, *size)).save(p)
        paths.append(p)
    return paths


@pytest.fixture
def image_writer() -> Callable[..., list[Path]]:
    """:func:`write_images` (test modules cannot import conftest under --import-mode=importlib)."""
    return write_images


@pytest.fixture
def image_dirs(tmp_path: Path) -> tuple[Path, Path]:
    """content/ with 3 images and style/ with 3 images (96 x 112 PNGs): 9 pairs."""
    content, style = tmp_path / "content", tmp_path / "style"
    write_images(content, [f"c{i}.png" for i in range(3)], seed=10)
    write_images(style, [f"s{i}.png" for i in range(3)], seed=20, size=(104, 96))
    return content, style


class TinyAdaIN(StyleTransferNet):
    """AdaIN on a random VGG encoder (relu4_1) and a random decoder: a cheap StyleTransferNet."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.encoder = VGGEncoder("random", last_layer="relu4_1")
        self.decoder = Decoder(512)
        _brighten_decoder(self.decoder)

    def transform(self, content: dict[str, Tensor], style: dict[str, Tensor]) -> Tensor:
        return adain(content["relu4_1"], style["relu4_1"])


@pytest.fixture(scope="session")
def tiny_net() -> TinyAdaIN:
    return TinyAdaIN().eval()


def _brighten_decoder(decoder: Decoder) -> None:
    """Scale a random decoder's last conv so outputs sit around 0.5 with some spread (not all clamped)."""
    with torch.no_grad():
        last = decoder.body[-1]
        last.weight.mul_(0.05)
        last.bias.fill_(0.5)


@pytest.fixture(scope="session")
def checkpoint_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint in the format ``stylekernel fit`` writes, of a random-weight StyleKernelNet."""
    from stylekernel.nn.style_kernel_net import StyleKernelNet

    torch.manual_seed(3)
    net = StyleKernelNet(encoder_weights="random")
    _brighten_decoder(net.decoder)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.ckpt"
    torch.save({"state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},
                "stylekernel": {"net": net.init_config(), "encoder_source": "random"}}, path)
    return path
