"""Reading checkpoints written by ``stylekernel fit``: one clear error for anything else.

Checkpoints are read with ``torch.load(weights_only=True)`` (no arbitrary code runs): the
network is rebuilt from the ``stylekernel`` record that :class:`StyleTransferModule` stores
(class path + constructor arguments) and filled from the state dict, encoder included, so
inference needs no pretrained-weight download.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from stylekernel.errors import CheckpointError
from stylekernel.nn.base import StyleTransferNet
from stylekernel.nn.encoder import weights_from_checkpoint

log = logging.getLogger(__name__)


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint file safely (``weights_only=True``) or raise :class:`CheckpointError`."""
    p = Path(path).expanduser()
    if not p.exists():
        raise CheckpointError(f"checkpoint {p} does not exist")
    if p.is_dir():
        raise CheckpointError(f"checkpoint {p} is a directory, not a file")
    if p.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {p} is empty (0 bytes)")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip, truncation and weights_only errors all mean "not a checkpoint"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{p} is not a readable checkpoint ({type(exc).__name__}: {first[:200]})") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise CheckpointError(f"{p} is not a Lightning checkpoint (no 'state_dict')")
    return ckpt


def load_net(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> StyleTransferNet:
    """Rebuild the network stored in a ``stylekernel fit`` checkpoint, in eval mode."""
    from stylekernel import export  # an exported folder or a Hub id (stylekernel export): no pickle

    ckpt = export.read_pretrained(path) if export.is_pretrained_ref(path) else read_checkpoint(path)
    record = ckpt.get("stylekernel")
    if not isinstance(record, dict) or "net" not in record:
        raise CheckpointError(f"{path} was not written by `stylekernel fit` (no 'stylekernel' record)")
    try:
        with weights_from_checkpoint():
            net = StyleTransferNet.from_config(record["net"])
    except (ImportError, AttributeError, TypeError) as exc:
        raise CheckpointError(f"{path}: cannot rebuild network {record['net'].get('class_path')}: {exc}") from None
    prefix = "net."
    state = {k[len(prefix) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}
    missing, unexpected = net.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{path}: state dict does not match the network (missing {missing[:3]}, unexpected {unexpected[:3]})")
    net.encoder.source = record.get("encoder_source", "unknown")
    if net.encoder.source == "random":
        log.warning("!" * 78 + f"\n!! {path} was trained with a RANDOM VGG encoder: outputs are a smoke test.\n" + "!" * 78)
    return net.to(map_location).eval()
