"""The art-trained Inception-v3 of ArtFID (Wright and Ommer, GCPR 2022) as a feature network.

The checkpoint ``art_inception.pth`` (registry name ``art_inception``) holds torchvision's
Inception-v3 layout with two classifier heads (``fc1``/``fc2`` and ``AuxLogits1``/``AuxLogits2``,
one per label set it was trained on). FID uses the 2048-d globally average-pooled output of
``Mixed_7c``; the heads are built only so that the state dict loads strictly (a wrong file fails
loudly instead of leaving layers random, which the reference's ``strict=False`` would allow).

Input: (B, 3, H, W) in [0, 1], no mean/std normalisation (``transform_input=False``), as the
reference feeds ``ToTensor()`` output. The network is fully convolutional up to the adaptive
average pool, so any H, W >= 75 works; the reference does not resize. Resizing, if any, is the
caller's choice (see :func:`stylekernel_eval.metrics.fid.prepare_for_inception`).
"""

from __future__ import annotations

import os

import torch
from torch import Tensor, nn
from torchvision.models.inception import (
    BasicConv2d,
    InceptionA,
    InceptionAux,
    InceptionB,
    InceptionC,
    InceptionD,
    InceptionE,
)

from stylekernel import weights as weight_files
from stylekernel.errors import CheckpointError

FEATURE_DIM = 2048
MIN_SIZE = 75  # smallest input side the stem and the stride-2 reductions accept


class ArtInception(nn.Module):
    """Inception-v3 trunk with the two heads of the art checkpoint; ``forward`` gives features.

    forward(x: (B, 3, H, W) in [0, 1]) -> (B, 2048) pooled ``Mixed_7c`` features (float32).
    """

    def __init__(self, num_classes1: int = 1000, num_classes2: int = 1000) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.AuxLogits1 = InceptionAux(768, num_classes1)
        self.AuxLogits2 = InceptionAux(768, num_classes2)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc1 = nn.Linear(FEATURE_DIM, num_classes1)
        self.fc2 = nn.Linear(FEATURE_DIM, num_classes2)

    _TRUNK = (
        "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
        "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
        "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c", "avgpool",
    )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, 2048)."""
        if min(x.shape[-2:]) < MIN_SIZE:
            raise ValueError(f"ArtInception needs images of at least {MIN_SIZE}x{MIN_SIZE}, got {tuple(x.shape[-2:])}")
        for name in self._TRUNK:
            x = getattr(self, name)(x)
        return torch.flatten(x, 1)

    def logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(B, 3, H, W) -> the two heads' logits (B, num_classes1), (B, num_classes2)."""
        f = self.forward(x)
        return self.fc1(f), self.fc2(f)

    def train(self, mode: bool = True) -> "ArtInception":
        """Frozen feature network: always stays in eval mode (BatchNorm uses running statistics)."""
        return super().train(False)


def load_art_inception(weights: str | os.PathLike[str] = "art_inception") -> ArtInception:
    """Build :class:`ArtInception` and load ``weights`` (registry name or file path) strictly."""
    state = weight_files.load_state_dict(weights)
    heads = {k: v.shape[0] for k, v in state.items() if k in ("fc1.weight", "fc2.weight")}
    model = ArtInception(num_classes1=heads.get("fc1.weight", 1000), num_classes2=heads.get("fc2.weight", 1000))
    result = model.load_state_dict(state, strict=False)
    # The trunk must be complete; the heads (unused for features) and BN step counters may be absent.
    optional = ("fc1.", "fc2.", "AuxLogits1.", "AuxLogits2.")
    missing = [k for k in result.missing_keys if not (k.endswith("num_batches_tracked") or k.startswith(optional))]
    if missing or result.unexpected_keys:
        raise CheckpointError(
            f"{os.fspath(weights)} is not the art Inception-v3 checkpoint "
            f"(missing {missing[:3]}, unexpected {list(result.unexpected_keys)[:3]})"
        )
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()
