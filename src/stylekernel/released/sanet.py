"""SANet's release (GlebSBrykin/SANET, weights from 500k iterations): ``vgg_normalised.pth``,
``decoder_iter_500000.pth`` and ``transformer_iter_500000.pth`` -> :class:`~stylekernel.baselines.sanet.SANet`.

The decoder is AdaIN's (prefix ``body.``); the transformer's ``sanet4_1.*`` and ``sanet5_1.*``
keep their names and ``merge_conv.*`` becomes ``merge.1.*`` (index 0 is the reflection pad).
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from stylekernel.baselines.sanet import SANet
from stylekernel.released import construct, load_mapped, read_peer_file, register_release
from stylekernel.released.adain import decoder_to_peer
from stylekernel.released.vgg import FILE_NAME as VGG_FILE
from stylekernel.released.vgg import load_vgg_normalised

SOURCE = "https://github.com/GlebSBrykin/SANET/releases (also Yandex.Disk links in its README)"
DECODER_FILE = "decoder_iter_500000.pth"
TRANSFORMER_FILE = "transformer_iter_500000.pth"


def transformer_to_peer(key: str) -> str:
    """``merge.1.weight`` -> ``merge_conv.weight``; ``sanet4_1.f.bias`` unchanged."""
    return "merge_conv." + key.removeprefix("merge.1.") if key.startswith("merge.1.") else key


@register_release("sanet", parts={"vgg": VGG_FILE, "decoder": DECODER_FILE, "transformer": TRANSFORMER_FILE}, source=SOURCE)
def build(files: dict[str, Path]) -> SANet:
    """The peer's network: vgg_normalised encoder (reflection padding, ceil-mode pools), two
    style-attentional blocks with unscaled logits and unbiased mvn, merge conv, decoder."""
    net = construct(SANet, encoder_weights="vgg_normalised", ceil_mode=True, unbiased_std=True, scaled_attention=False)
    load_vgg_normalised(net.encoder, read_peer_file(files["vgg"], "vgg"), path=files["vgg"], part="vgg")
    decoder = read_peer_file(files["decoder"], "decoder")
    load_mapped(net.decoder, decoder, path=files["decoder"], part="decoder", to_peer=decoder_to_peer, expected=DECODER_FILE)
    transformer = nn.ModuleDict({"sanet4_1": net.sanet4_1, "sanet5_1": net.sanet5_1, "merge": net.merge})
    state = read_peer_file(files["transformer"], "transformer")
    load_mapped(transformer, state, path=files["transformer"], part="transformer", to_peer=transformer_to_peer, expected=TRANSFORMER_FILE)
    return net.eval()
