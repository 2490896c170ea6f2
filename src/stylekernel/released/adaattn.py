"""AdaAttN's release (Huage001/AdaAttN, ``AdaAttN_model.zip`` from the README, trained with
``--skip_connection_3 --shallow_layer``) -> :class:`~stylekernel.baselines.adaattn.AdaAttN`.

The authors' ``BaseModel.save_networks`` writes one state dict per network,
``<epoch>_net_<name>.pth``; the release holds the ``latest`` ones under ``checkpoints/AdaAttN/``
and ``test_adaattn.sh`` reads the encoder from ``checkpoints/vgg_normalised.pth``, so
``--folder`` is that ``checkpoints`` directory. Key mapping (the suite's -> the file's):

* ``latest_net_transformer.pth``: ``adaattn4_1.*`` / ``adaattn5_1.*`` <- ``attn_adain_4_1.*`` /
  ``attn_adain_5_1.*``; ``merge.1.*`` <- ``merge_conv.*`` (index 0 is the reflection pad);
* ``latest_net_adaattn_3.pth``: ``adaattn3_1.{f,g,h}.*`` <- ``{f,g,h}.*``;
* ``latest_net_decoder.pth``: ``up1.*`` <- ``decoder_layer_1.*``, ``body.*`` <- ``decoder_layer_2.*``.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from stylekernel.baselines.adaattn import AdaAttN
from stylekernel.released import construct, load_mapped, read_peer_file, register_release
from stylekernel.released.vgg import FILE_NAME as VGG_FILE
from stylekernel.released.vgg import load_vgg_normalised

SOURCE = "https://github.com/Huage001/AdaAttN (README: AdaAttN_model.zip on Google Drive)"
DECODER_FILE = "latest_net_decoder.pth"
TRANSFORMER_FILE = "latest_net_transformer.pth"
ADAATTN3_FILE = "latest_net_adaattn_3.pth"
FOLDER = "AdaAttN"  # the experiment name (--name) under the checkpoints directory


def transformer_to_peer(key: str) -> str:
    """``adaattn4_1.f.weight`` -> ``attn_adain_4_1.f.weight``; ``merge.1.bias`` -> ``merge_conv.bias``."""
    if key.startswith("merge.1."):
        return "merge_conv." + key.removeprefix("merge.1.")
    level, rest = key.split(".", 1)
    return f"attn_adain_{level.removeprefix('adaattn')}.{rest}"


def decoder_to_peer(key: str) -> str:
    """``up1.1.weight`` -> ``decoder_layer_1.1.weight``; ``body.4.bias`` -> ``decoder_layer_2.4.bias``."""
    part, rest = key.split(".", 1)
    return {"up1": "decoder_layer_1", "body": "decoder_layer_2"}[part] + "." + rest


@register_release(
    "adaattn",
    parts={"vgg": VGG_FILE, "decoder": DECODER_FILE, "transformer": TRANSFORMER_FILE, "adaattn_3": ADAATTN3_FILE},
    source=SOURCE,
    folder_layout={
        "vgg": VGG_FILE,
        "decoder": f"{FOLDER}/{DECODER_FILE}",
        "transformer": f"{FOLDER}/{TRANSFORMER_FILE}",
        "adaattn_3": f"{FOLDER}/{ADAATTN3_FILE}",
    },
)
def build(files: dict[str, Path]) -> AdaAttN:
    """The peer's released network: vgg_normalised encoder (reflection padding, ceil-mode pools),
    AdaAttN blocks at relu3_1 / relu4_1 / relu5_1 with shallow keys, the skip decoder (the
    constructor's defaults are this configuration)."""
    net = construct(AdaAttN, encoder_weights="vgg_normalised")
    load_vgg_normalised(net.encoder, read_peer_file(files["vgg"], "vgg"), path=files["vgg"], part="vgg")
    parts = [
        ("decoder", net.decoder, decoder_to_peer, DECODER_FILE),
        ("transformer", nn.ModuleDict({"adaattn4_1": net.adaattn4_1, "adaattn5_1": net.adaattn5_1, "merge": net.merge}), transformer_to_peer, TRANSFORMER_FILE),
        ("adaattn_3", net.adaattn3_1, lambda key: key, ADAATTN3_FILE),
    ]
    for part, module, to_peer, expected in parts:
        state = read_peer_file(files[part], part)
        load_mapped(module, state, path=files[part], part=part, to_peer=to_peer, expected=expected)
    return net.eval()
