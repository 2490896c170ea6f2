"""AdaIN's release (naoto0804/pytorch-AdaIN, release v0.0.0): ``vgg_normalised.pth`` and
``decoder.pth`` -> :class:`~stylekernel.baselines.adain.AdaINNet`.

The decoder file is the peer's ``net.decoder`` ``nn.Sequential``; the suite's decoder is the
same layer list under ``body``, so each key gains the prefix ``body.``.
"""

from __future__ import annotations

from pathlib import Path

from stylekernel.baselines.adain import AdaINNet
from stylekernel.released import construct, load_mapped, read_peer_file, register_release
from stylekernel.released.vgg import FILE_NAME as VGG_FILE
from stylekernel.released.vgg import load_vgg_normalised

SOURCE = "https://github.com/naoto0804/pytorch-AdaIN/releases/tag/v0.0.0"
DECODER_FILE = "decoder.pth"


def decoder_to_peer(key: str) -> str:
    """``body.1.weight`` -> ``1.weight`` (the AdaIN/SANet decoder ``nn.Sequential``)."""
    return key.removeprefix("body.")


@register_release("adain", parts={"vgg": VGG_FILE, "decoder": DECODER_FILE}, source=SOURCE)
def build(files: dict[str, Path]) -> AdaINNet:
    """The peer's network: vgg_normalised encoder (reflection padding, ceil-mode pools), AdaIN
    with the unbiased std, the peer's decoder."""
    net = construct(AdaINNet, encoder_weights="vgg_normalised", ceil_mode=True, unbiased_std=True)
    load_vgg_normalised(net.encoder, read_peer_file(files["vgg"], "vgg"), path=files["vgg"], part="vgg")
    decoder = read_peer_file(files["decoder"], "decoder")
    load_mapped(net.decoder, decoder, path=files["decoder"], part="decoder", to_peer=decoder_to_peer, expected=DECODER_FILE)
    return net.eval()
