"""Checkpoint files: the one reader every command uses, and the atomic writer of training runs.

Reading (:func:`read_checkpoint`, used by ``fit|validate|test|predict --ckpt_path`` including
``last``/``best``/``hpc``, ``stylize``, ``evaluate``, :class:`~stylekernel.inference.Stylizer` and
the paper table):

* ``torch.load(weights_only=True)`` always, whatever a caller or ``--weights_only`` asks for: no
  code stored in a file ever runs;
* the structure is checked (a mapping with a ``state_dict`` of named tensors);
* the network record that :class:`~stylekernel.module.StyleTransferModule` stores
  (``ckpt["stylekernel"] = {"version", "net": {"class_path", "init_args"}, "encoder_source"}``)
  is resolved against the registry of suite networks, never imported
  (:meth:`StyleTransferNet.from_config`), and the encoder is rebuilt in the layout it was trained
  with, without the weight file or path named at training time (its weights are in the file);
* the state dict is checked key by key and shape by shape against the network
  (:func:`check_against_module`) before Lightning sees it.

Every failure is one :class:`~stylekernel.errors.CheckpointError` line.

Writing, and the Lightning plugin that routes every Lightning read through this reader, live in
:mod:`stylekernel.checkpoint_io`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from stylekernel.errors import CheckpointError, ConfigError, exception_summary
from stylekernel.nn.base import StyleTransferNet
from stylekernel.nn.encoder import weights_from_checkpoint

log = logging.getLogger(__name__)

NET_PREFIX = "net."
_ENCODER_SOURCES = ("torchvision", "vgg_normalised", "random")

#: Constructor arguments added after checkpoints of these networks were first written, each with
#: the value that reproduces the code before it existed. A record written before (its init_args
#: lack the key) is rebuilt with that value, not with today's default (the peers' conventions),
#: which would silently change its output. From ``git log -p``: 5a311e6 gave AdaIN and SANet
#: ``ceil_mode`` (before: floor pooling) and ``unbiased_std`` (before: the biased variance);
#: 034ab1c gave AdaAttN the relu3_1 skip (before: none), ``attention_std_eps`` (before:
#: sqrt(max(var, 0) + 1e-5)), ``unbiased_std`` (before: biased), ``ceil_mode`` (before: floor) and
#: ``sample_seed`` (before: an evenly spaced evaluation subset). Arguments whose default kept the
#: old behaviour (``encoder_padding="auto"``) are not listed.
LEGACY_INIT_ARGS: dict[str, dict[str, Any]] = {
    "stylekernel.baselines.adain.AdaINNet": {"ceil_mode": False, "unbiased_std": False},
    "stylekernel.baselines.sanet.SANet": {"ceil_mode": False, "unbiased_std": False},
    "stylekernel.baselines.adaattn.AdaAttN": {
        "relu3_1_skip": False, "attention_std_eps": 1e-5, "unbiased_std": False, "ceil_mode": False, "sample_seed": None,
    },
}  # fmt: skip


def with_legacy_init_args(net_record: Mapping[str, Any], path: str | os.PathLike[str]) -> dict[str, Any]:
    """The network record with the arguments it predates filled in (:data:`LEGACY_INIT_ARGS`),
    logged in one line; records that have them all come back unchanged."""
    class_path = net_record.get("class_path")
    init_args = dict(net_record.get("init_args", {}))
    missing = {k: v for k, v in LEGACY_INIT_ARGS.get(str(class_path), {}).items() if k not in init_args}
    if not missing:
        return dict(net_record)
    log.warning(
        "%s: the %s record predates %s; rebuilt as it was trained (%s), not with today's defaults",
        path, str(class_path).rpartition(".")[2], ", ".join(missing), ", ".join(f"{k}={v!r}" for k, v in missing.items()),
    )
    return {**net_record, "init_args": {**init_args, **missing}}


# --- reading ----------------------------------------------------------------------------------
def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint file safely (``weights_only=True``) and check its structure.

    Returns the checkpoint mapping (tensors on the CPU). Raises :class:`CheckpointError` for a
    missing, empty, unreadable or hostile file, and for one without a ``state_dict`` of tensors.
    """
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
        raise CheckpointError(f"{p} is not a readable checkpoint ({type(exc).__name__}: {exception_summary(exc)})") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise CheckpointError(f"{p} is not a Lightning checkpoint (no 'state_dict')")
    state = ckpt["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise CheckpointError(f"{p}: 'state_dict' is not a mapping of parameter names to tensors")
    if "stylekernel" in ckpt:
        network_record(ckpt, p)  # a record, when present, must be well-formed
    return ckpt


def read_checkpoint_or_pretrained(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A checkpoint file (:func:`read_checkpoint`), or an exported folder / Hub id (``stylekernel
    export``: safetensors + JSON, no pickle) as a checkpoint-shaped dict holding weights only."""
    from stylekernel import export

    return export.read_pretrained(path) if export.is_pretrained_ref(path) else read_checkpoint(path)


def network_record(ckpt: Mapping[str, Any], path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checked ``stylekernel`` record of a checkpoint (CheckpointError if absent or malformed)."""
    record = ckpt.get("stylekernel")
    if not isinstance(record, dict) or "net" not in record:
        raise CheckpointError(f"{path} was not written by `stylekernel fit` (no 'stylekernel' record)")
    net = record["net"]
    if not isinstance(net, dict) or not isinstance(net.get("class_path"), str) or not isinstance(net.get("init_args", {}), dict):
        raise CheckpointError(f"{path}: malformed network record (needs a class_path string and an init_args mapping)")
    return record


def has_training_state(ckpt: Mapping[str, Any]) -> bool:
    """Whether a checkpoint can resume a run (optimiser state), or holds only weights."""
    return "optimizer_states" in ckpt


def _encoder_source(record: Mapping[str, Any], state: Mapping[str, torch.Tensor]) -> str:
    """The encoder layout of a checkpoint: its record, else told by the state dict's keys."""
    source = record.get("encoder_source")
    if source in _ENCODER_SOURCES:
        return str(source)
    return "vgg_normalised" if "encoder.preprocess.weight" in state else "torchvision"


def net_state(ckpt: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The network's part of a checkpoint's state dict, ``net.`` prefix removed."""
    return {k[len(NET_PREFIX) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(NET_PREFIX)}


def build_net(ckpt: Mapping[str, Any], path: str | os.PathLike[str]) -> StyleTransferNet:
    """The network of a checkpoint rebuilt from its record (weights not loaded; no file needed)."""
    record = network_record(ckpt, path)
    class_path = record["net"]["class_path"]
    try:
        with weights_from_checkpoint(_encoder_source(record, net_state(ckpt))):
            return StyleTransferNet.from_config(with_legacy_init_args(record["net"], path))
    except (ConfigError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot rebuild network {class_path}: {exception_summary(exc)}") from None


def check_state_dict(expected: Mapping[str, torch.Tensor], got: Mapping[str, torch.Tensor], *, where: str) -> None:
    """CheckpointError naming the first missing, unexpected or mis-shaped key of ``got``."""
    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]
    if missing or unexpected:
        raise CheckpointError(
            f"{where}: state dict does not match the network ({len(missing)} missing, e.g. {missing[:2]}; "
            f"{len(unexpected)} unexpected, e.g. {unexpected[:2]})"
        )
    for k, v in expected.items():
        if tuple(got[k].shape) != tuple(v.shape):
            raise CheckpointError(f"{where}: {k} has shape {tuple(got[k].shape)} in the checkpoint, {tuple(v.shape)} in the network")


def load_net(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> StyleTransferNet:
    """Rebuild the network stored in a ``stylekernel fit`` checkpoint, in eval mode."""
    ckpt = read_checkpoint_or_pretrained(path)
    net = build_net(ckpt, path)
    state = net_state(ckpt)
    check_state_dict(net.state_dict(), state, where=str(path))
    net.load_state_dict(state)
    net.encoder.source = network_record(ckpt, path).get("encoder_source", "unknown")
    if net.encoder.source == "random":
        log.warning("!" * 78 + f"\n!! {path} was trained with a RANDOM VGG encoder: outputs are a smoke test.\n" + "!" * 78)
    return net.to(map_location).eval()


def class_path_of(net: nn.Module) -> str:
    cls = type(net)
    return f"{cls.__module__}.{cls.__qualname__}"


def check_against_module(ckpt: Mapping[str, Any], module: nn.Module, path: str | os.PathLike[str]) -> None:
    """Check a checkpoint fits ``module`` (a StyleTransferModule): same network class, same keys and shapes."""
    record = ckpt.get("stylekernel")
    net = getattr(module, "net", None)
    if isinstance(record, dict) and net is not None:
        stored, configured = record["net"]["class_path"], class_path_of(net)
        if stored != configured:
            raise CheckpointError(
                f"{path} holds a {stored.rpartition('.')[2]} network but the configured model.net is "
                f"{configured.rpartition('.')[2]} (pass the model config the checkpoint was trained with)"
            )
    check_state_dict(module.state_dict(), ckpt["state_dict"], where=str(path))
