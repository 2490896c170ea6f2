"""StyTr-2's release (diyiiyiii/StyTR-2, README "Pretrained models", files of iteration 160000)
-> :class:`~stylekernel.baselines.stytr2.StyTr2`.

``train.py`` saves three state dicts next to the shared ``vgg_normalised.pth``:
``decoder_iter_160000.pth`` (the CNN decoder ``nn.Sequential``, AdaIN's layout: the suite's
keys gain ``body.``), ``transformer_iter_160000.pth`` (``encoder_c.*``, ``encoder_s.*``,
``decoder.*``, ``new_ps.*``: the suite's transformer uses the same names) and
``embedding_iter_160000.pth`` (``proj.*``).
"""

from __future__ import annotations

from pathlib import Path

from stylekernel.baselines.stytr2 import StyTr2
from stylekernel.released import construct, load_exact, load_mapped, read_peer_file, register_release
from stylekernel.released.adain import decoder_to_peer
from stylekernel.released.vgg import FILE_NAME as VGG_FILE
from stylekernel.released.vgg import load_vgg_normalised

SOURCE = "https://github.com/diyiiyiii/StyTR-2 (README: Pretrained models on Google Drive)"
DECODER_FILE = "decoder_iter_160000.pth"
TRANSFORMER_FILE = "transformer_iter_160000.pth"
EMBEDDING_FILE = "embedding_iter_160000.pth"


@register_release(
    "stytr2",
    parts={"vgg": VGG_FILE, "decoder": DECODER_FILE, "transformer": TRANSFORMER_FILE, "embedding": EMBEDDING_FILE},
    source=SOURCE,
)
def build(files: dict[str, Path]) -> StyTr2:
    """The peer's network: vgg_normalised encoder (ceil-mode pools; it serves the losses), the
    8x8 patch embedding, the CAPE transformer (8 heads, 3 + 3 encoder and 3 decoder layers) and
    the CNN decoder."""
    net = construct(StyTr2, encoder_weights="vgg_normalised")
    load_vgg_normalised(net.encoder, read_peer_file(files["vgg"], "vgg"), path=files["vgg"], part="vgg")
    decoder = read_peer_file(files["decoder"], "decoder")
    load_mapped(net.decoder, decoder, path=files["decoder"], part="decoder", to_peer=decoder_to_peer, expected=DECODER_FILE)
    for part, module, expected in [("transformer", net.transformer, TRANSFORMER_FILE), ("embedding", net.embedding, EMBEDDING_FILE)]:
        load_exact(module, read_peer_file(files[part], part), path=files[part], part=part, expected=expected)
    return net.eval()
