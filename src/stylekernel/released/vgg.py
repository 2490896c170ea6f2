"""The peers' ``vgg_normalised.pth`` (AdaIN, SANet, AdaAttN, StyTr-2) -> the suite's encoder.

The file is the state dict of an ``nn.Sequential``: a 1x1 colour conv at index 0, then VGG19's
sixteen 3x3 convolutions to relu5_4, each after a reflection-padding layer, with ReLUs and
pools between (keys ``0.weight`` ... ``51.bias``). The suite's encoder stops at relu5_1, so
the convolutions after it must be in the file (they are checked) but are not loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from stylekernel.nn.encoder import VGGEncoder
from stylekernel.released import Shape, load_mapped
from stylekernel.weights import REGISTRY

FILE_NAME = REGISTRY["vgg_normalised"].filename

# (index in the nn.Sequential, in, out, kernel) of every conv of the peer's ``vgg``.
_CONVS: list[tuple[int, int, int, int]] = [
    (0, 3, 3, 1),
    (2, 3, 64, 3), (5, 64, 64, 3),
    (9, 64, 128, 3), (12, 128, 128, 3),
    (16, 128, 256, 3), (19, 256, 256, 3), (22, 256, 256, 3), (25, 256, 256, 3),
    (29, 256, 512, 3), (32, 512, 512, 3), (35, 512, 512, 3), (38, 512, 512, 3),
    (42, 512, 512, 3), (45, 512, 512, 3), (48, 512, 512, 3), (51, 512, 512, 3),
]  # fmt: skip
_NAMES = ["preprocess"] + [
    "conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3", "conv3_4",
    "conv4_1", "conv4_2", "conv4_3", "conv4_4", "conv5_1", "conv5_2", "conv5_3", "conv5_4",
]  # fmt: skip

LAYOUT: dict[str, Shape] = {}
for _i, _cin, _cout, _k in _CONVS:
    LAYOUT[f"{_i}.weight"] = (_cout, _cin, _k, _k)
    LAYOUT[f"{_i}.bias"] = (_cout,)

_PEER_INDEX = {name: i for name, (i, *_) in zip(_NAMES, _CONVS)}


def to_peer(key: str) -> str:
    """Suite encoder key (``preprocess.weight``, ``layers.conv1_1.bias``) -> the file's key."""
    module, param = key.rsplit(".", 1)
    name = module.split(".")[-1]
    return f"{_PEER_INDEX[name]}.{param}"


def load_vgg_normalised(encoder: VGGEncoder, state: Mapping[str, Any], *, path: Path, part: str) -> None:
    """Check ``state`` is a complete ``vgg_normalised.pth`` and load it into ``encoder``
    (built with weights ``vgg_normalised``: it has the colour conv)."""
    load_mapped(encoder, state, path=path, part=part, to_peer=to_peer, layout=LAYOUT, expected=FILE_NAME)
