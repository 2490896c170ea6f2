"""AdaConv's release (RElbers/ada-conv-pytorch, ``model.ckpt`` on Google Drive, 160k iterations)
-> :class:`~stylekernel.baselines.adaconv.AdaConvNet`.

The file is a Lightning checkpoint of the peer's ``LightningModel``; its ``state_dict`` holds
the ``AdaConvModel`` under the prefix ``model.``:

* ``model.encoder.blocks.{b}.{j}``: torchvision's VGG19 ``features`` cut after relu1_1, relu2_1,
  relu3_1 and relu4_1 (so conv1_2 is ``blocks.1.0``, conv4_1 is ``blocks.3.7``), run with
  reflection padding; the encoder ends at relu4_1, so the suite's encoder does too;
* ``model.style_encoder.downscale.{0,3,6}`` (3x3 convs) and ``model.style_encoder.fc``;
* ``model.decoder.layers.{i}``: the decoder's flat layer list, which the suite's
  :class:`~stylekernel.baselines.adaconv.AdaConvDecoder` keeps index for index; a kernel
  predictor's ``pointwise.1`` / ``bias.1`` (after an adaptive pool) are ``pointwise`` / ``bias``.

The style descriptor's size (``--style-size``, ``--style-channels``, ``--kernel-size`` of the
peer's training) is read from the shapes in the file. Old Lightning versions store callback
classes in the checkpoint, so the file is read with inert placeholders for foreign classes
(:func:`~stylekernel.released.read_peer_file`), never by running its code.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from stylekernel.baselines.adaconv import AdaConvNet
from stylekernel.released import ReleaseImportError, construct, load_mapped, read_peer_file, register_release

SOURCE = "https://github.com/RElbers/ada-conv-pytorch (README: model.ckpt on Google Drive)"
CHECKPOINT_FILE = "model.ckpt"
PREFIX = "model."

# suite encoder conv -> the peer's ``encoder.blocks`` index
_ENCODER = {
    "conv1_1": "0.0", "conv1_2": "1.0", "conv2_1": "1.3", "conv2_2": "2.0", "conv3_1": "2.3",
    "conv3_2": "3.0", "conv3_3": "3.2", "conv3_4": "3.4", "conv4_1": "3.7",
}  # fmt: skip


def to_peer(key: str) -> str:
    """Suite key of :class:`AdaConvNet` -> the peer's key inside ``state_dict`` (without ``model.``)."""
    if key.startswith("encoder.layers."):
        conv, param = key.removeprefix("encoder.layers.").split(".")
        return f"encoder.blocks.{_ENCODER[conv]}.{param}"
    if key.startswith("style_encoder.convs."):
        i, param = key.removeprefix("style_encoder.convs.").split(".")
        return f"style_encoder.downscale.{3 * int(i)}.{param}"
    for name in ("pointwise", "bias"):
        head, sep, param = key.rpartition(f".{name}.")
        if sep and key.startswith("decoder.layers."):
            return f"{head}.{name}.1.{param}"
    return key


def _shape(state: dict[str, Any], key: str, path: Path) -> tuple[int, ...]:
    value = state.get(key)
    if value is None or not hasattr(value, "shape"):
        raise ReleaseImportError(f"{path} (checkpoint): missing key {PREFIX + key!r} (expected the peer's {CHECKPOINT_FILE})")
    return tuple(value.shape)


@register_release("adaconv", parts={"checkpoint": CHECKPOINT_FILE}, source=SOURCE)
def build(files: dict[str, Path]) -> AdaConvNet:
    """The peer's network: torchvision VGG19 to relu4_1 with reflection padding, the global
    style encoder and the four-stage kernel-predicted decoder (groups 512, 128, 32, 8)."""
    path = files["checkpoint"]
    ckpt = read_peer_file(path, "checkpoint", foreign_objects=True)
    raw = ckpt.get("state_dict")
    if not isinstance(raw, dict):
        raise ReleaseImportError(f"{path} (checkpoint): no 'state_dict': not a Lightning checkpoint (expected the peer's {CHECKPOINT_FILE})")
    state = {k.removeprefix(PREFIX): v for k, v in raw.items()}
    foreign = next((k for k in raw if not k.startswith(PREFIX)), None)
    if foreign is not None:
        raise ReleaseImportError(f"{path} (checkpoint): unexpected key {foreign!r} (expected the peer's {CHECKPOINT_FILE}, keys under 'model.')")
    spatial = _shape(state, "decoder.layers.0.spatial.weight", path)  # (512 * 512 / G, S_d, k, k)
    fc = _shape(state, "style_encoder.fc.weight", path)  # (S_d k k, 512 g g)
    style_channels, kernel_size = spatial[1], spatial[-1]
    grid = math.isqrt(fc[1] // 512) if fc[1] % 512 == 0 else 0
    if grid < 1 or grid * grid * 512 != fc[1]:
        raise ReleaseImportError(f"{path} (checkpoint): key 'model.style_encoder.fc.weight' has shape {fc}, expected (S_d*k*k, 512*g*g)")
    net = construct(
        AdaConvNet, encoder_weights="torchvision", kernel_size=kernel_size, style_channels=style_channels,
        style_grid=grid, encoder_padding="reflect", ceil_mode=False, encoder_last_layer="relu4_1",
    )  # fmt: skip
    load_mapped(net, state, path=path, part="checkpoint", to_peer=to_peer, expected=CHECKPOINT_FILE)
    return net.eval()
