"""Frozen VGG19 encoder that returns features by layer name (relu1_1 .. relu5_1).

Weight sources (``weights``):

* ``"torchvision"``: torchvision's ImageNet VGG19 (``vgg19-dcbb9e9d.pth``); input in [0, 1] is
  normalised with the ImageNet mean/std; zero padding, as the weights were trained.
* ``"vgg_normalised"``: the ``vgg_normalised.pth`` of AdaIN/SANet/AdaAttN (from the cache); its
  first 1x1 conv converts [0, 1] RGB to the Caffe colour space; reflection padding.
* a path to a file in either format (detected from its keys).
* ``"random"``: random initialisation, for tests and smoke runs only; logged loudly.
* ``"auto"``: ``"torchvision"`` when its file is cached or can be downloaded, else ``"random"``
  with the same loud warning (the quickstart uses it so it runs offline). ``source`` tells
  which one was used.

Layer conventions differ between the peers, so both are options (the defaults are the
style-kernel network's):

* ``padding_mode``: ``"auto"`` pads as the weights were trained (zeros for torchvision,
  reflection for ``vgg_normalised``); ``"reflect"`` or ``"zeros"`` force one (AdaConv's
  reference code runs torchvision's VGG19 with reflection padding).
* ``ceil_mode``: max pooling rounds the output size up (``True``, as AdaIN, SANet, AdaAttN and
  StyTr-2 build ``vgg_normalised``) or down (``False``, torchvision's). The two agree whenever
  the input size is a multiple of the layer's stride.

The encoder is frozen: no parameter requires grad, and ``train()`` keeps it in eval mode, so it
stays in eval mode even when the LightningModule around it trains. Gradients still flow through
it to its input (the losses need that).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
from pathlib import Path
from typing import Iterator, Sequence

import torch
from torch import Tensor, nn

from stylekernel import weights as weight_files
from stylekernel.errors import ConfigError, WeightsNotFoundError

log = logging.getLogger(__name__)

# (name, in_channels, out_channels) of VGG19's convolutions up to conv5_1; pools between blocks.
_VGG19_CONVS: list[tuple[str, int, int]] = [
    ("conv1_1", 3, 64), ("conv1_2", 64, 64),
    ("conv2_1", 64, 128), ("conv2_2", 128, 128),
    ("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256), ("conv3_4", 256, 256),
    ("conv4_1", 256, 512), ("conv4_2", 512, 512), ("conv4_3", 512, 512), ("conv4_4", 512, 512),
    ("conv5_1", 512, 512),
]  # fmt: skip
# torchvision's ``features`` index of each conv above.
_TORCHVISION_INDEX = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28]
# ``vgg_normalised.pth`` (an nn.Sequential with the 1x1 colour conv at 0 and padding layers).
_VGG_NORMALISED_INDEX = [2, 5, 9, 12, 16, 19, 22, 25, 29, 32, 35, 38, 42]

LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CHANNELS: dict[str, int] = {"relu1_1": 64, "relu2_1": 128, "relu3_1": 256, "relu4_1": 512, "relu5_1": 512}
STRIDES: dict[str, int] = {"relu1_1": 1, "relu2_1": 2, "relu3_1": 4, "relu4_1": 8, "relu5_1": 16}

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

WEIGHT_SOURCES = ("torchvision", "vgg_normalised", "random", "auto")
PADDING_MODES = ("auto", "reflect", "zeros")

# None: outside weights_from_checkpoint(); else the layout recorded in the checkpoint ("" if unknown).
_FROM_CHECKPOINT: contextvars.ContextVar[str | None] = contextvars.ContextVar("stylekernel_encoder_from_ckpt", default=None)


@contextlib.contextmanager
def weights_from_checkpoint(source: str | None = None) -> Iterator[None]:
    """Inside this block encoders skip loading weights: a checkpoint's state dict will fill them.

    ``source`` is the layout the checkpoint's encoder was built with (``torchvision``,
    ``vgg_normalised`` or ``random``, the ``encoder_source`` of its record). An encoder whose
    ``weights`` is a file path or ``"auto"`` takes that layout without looking for the file or the
    cache: a checkpoint rebuilds on a machine that has neither.
    """
    token = _FROM_CHECKPOINT.set(source if source in ("torchvision", "vgg_normalised", "random") else "")
    try:
        yield
    finally:
        _FROM_CHECKPOINT.reset(token)


def _layer_sequence() -> list[str]:
    """Names of every layer in order: conv, relu, and pool between blocks, up to relu5_1."""
    names: list[str] = []
    for conv, _, _ in _VGG19_CONVS:
        block, idx = conv[4:].split("_")
        if idx == "1" and block != "1":
            names.append(f"pool{int(block) - 1}")
        names += [conv, f"relu{block}_{idx}"]
    return names


class VGGEncoder(nn.Module):
    """VGG19 up to ``last_layer`` with named layers.

    forward(x: (B, 3, H, W) in [0, 1], layers) -> {name: (B, C_name, H / s, W / s)} where s is
    the layer's stride (1, 2, 4, 8, 16 for relu1_1 .. relu5_1; each pool floors the size, or
    rounds it up with ``ceil_mode=True``).

    Args:
        weights: see the module docstring.
        last_layer: the deepest layer built (relu1_1 .. relu5_1).
        padding_mode: auto | reflect | zeros, padding of the 3x3 convolutions.
        ceil_mode: max pooling rounds the size up (the peers' ``vgg_normalised``) or down.
    """

    def __init__(
        self,
        weights: str = "torchvision",
        last_layer: str = "relu5_1",
        *,
        padding_mode: str = "auto",
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        if last_layer not in LAYERS:
            raise ConfigError(f"VGGEncoder: last_layer must be one of {LAYERS}, got {last_layer!r}")
        if padding_mode not in PADDING_MODES:
            raise ConfigError(f"VGGEncoder: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        recorded = _FROM_CHECKPOINT.get()
        from_checkpoint = recorded is not None
        if from_checkpoint and weights not in ("torchvision", "vgg_normalised", "random"):
            source = recorded or ("auto" if weights == "auto" else "torchvision")  # the file is not needed
        else:
            source = self._source_kind(weights)
        if source == "auto" and not from_checkpoint:
            try:
                weight_files.resolve("vgg19")
                source = "torchvision"
            except WeightsNotFoundError as exc:
                log.warning("VGGEncoder(weights='auto'): %s", exc)
                source = "random"
        self.weights = weights
        self.source = source  # what was actually loaded: torchvision | vgg_normalised | random
        if padding_mode == "auto":
            padding_mode = "reflect" if source == "vgg_normalised" else "zeros"
        self.padding_mode, self.ceil_mode = padding_mode, bool(ceil_mode)
        self.last_layer = last_layer
        self.preprocess = nn.Conv2d(3, 3, 1) if source == "vgg_normalised" else None
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.layers = nn.ModuleDict()
        channels = dict((c, (i, o)) for c, i, o in _VGG19_CONVS)
        for name in _layer_sequence():
            if name.startswith("conv"):
                i, o = channels[name]
                self.layers[name] = nn.Conv2d(i, o, 3, padding=1, padding_mode=padding_mode)
            elif name.startswith("relu"):
                self.layers[name] = nn.ReLU(inplace=False)
            else:
                self.layers[name] = nn.MaxPool2d(2, 2, ceil_mode=self.ceil_mode)
            if name == last_layer:
                break
        if not from_checkpoint:
            self._load(weights, source)
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    @staticmethod
    def _source_kind(weights: str) -> str:
        if weights in WEIGHT_SOURCES:
            return weights
        path = Path(os.path.expanduser(weights))
        if not path.is_file():
            raise ConfigError(
                f"VGGEncoder: weights must be one of {WEIGHT_SOURCES} or an existing file, got {weights!r}"
            )
        keys = set(weight_files.load_state_dict(path))
        if "0.weight" in keys and "2.weight" in keys:
            return "vgg_normalised"
        if "features.0.weight" in keys:
            return "torchvision"
        raise ConfigError(f"VGGEncoder: {path} is neither a torchvision VGG19 nor a vgg_normalised state dict")

    def _load(self, weights: str, source: str) -> None:
        if source == "random":
            log.warning(
                "\n" + "!" * 78 + "\n!! VGGEncoder uses RANDOM weights: features, losses and metrics are NOT "
                "meaningful.\n!! Use weights: torchvision or vgg_normalised for real work "
                "(`stylekernel weights download`).\n" + "!" * 78
            )
            return
        registry_name = {"torchvision": "vgg19", "vgg_normalised": "vgg_normalised"}.get(weights)
        state = weight_files.load_state_dict(registry_name or weights)
        if source == "torchvision":
            prefix, index = "features.", _TORCHVISION_INDEX
        else:
            prefix, index = "", _VGG_NORMALISED_INDEX
            self.preprocess.weight.data.copy_(state["0.weight"])  # type: ignore[union-attr]
            self.preprocess.bias.data.copy_(state["0.bias"])  # type: ignore[union-attr]
        for (conv, _, _), i in zip(_VGG19_CONVS, index):
            if conv not in self.layers:
                break
            self.layers[conv].weight.data.copy_(state[f"{prefix}{i}.weight"])
            self.layers[conv].bias.data.copy_(state[f"{prefix}{i}.bias"])

    def train(self, mode: bool = True) -> "VGGEncoder":
        """Always stays in eval mode (frozen feature network)."""
        return super().train(False)

    def normalize(self, x: Tensor) -> Tensor:
        """Map an image in [0, 1] to the weights' input space."""
        if self.preprocess is not None:
            return self.preprocess(x)
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def forward(self, x: Tensor, layers: Sequence[str] = LAYERS) -> dict[str, Tensor]:
        """x: (B, 3, H, W) in [0, 1] -> {layer: features}; stops after the deepest layer asked for."""
        unknown = [n for n in layers if n not in self.layers]
        if unknown:
            raise ValueError(f"VGGEncoder has no layer(s) {unknown}; it ends at {self.last_layer}")
        wanted = set(layers)
        out: dict[str, Tensor] = {}
        h = self.normalize(x)
        kept = False  # whether ``h`` is held in ``out`` (then the ReLU must not overwrite it)
        for name, layer in self.layers.items():
            # Each ReLU rectifies its convolution's fresh output in place (same values, one
            # feature map less to allocate and fill); autograd allows it, the convolution's
            # backward does not read its output.
            h = torch.relu_(h) if isinstance(layer, nn.ReLU) and not kept else layer(h)
            kept = name in wanted
            if kept:
                out[name] = h
                if len(out) == len(wanted):
                    break
        return out
