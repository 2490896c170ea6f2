"""Checkpoints written before the peer-convention arguments keep the architecture they were trained with.

A record whose init_args lack ``ceil_mode``, ``unbiased_std``, ... (AdaIN, SANet, AdaAttN before
5a311e6 / 034ab1c) must rebuild with the values of that time, not with today's defaults: the test
writes such a record, loads it through the one reader, and compares the output with a network
built with the legacy values (equal) and with the new defaults (different), same weights.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from stylekernel import __version__
from stylekernel.checkpoint import LEGACY_INIT_ARGS, load_net

LEGACY = {
    "adain": ("stylekernel.baselines.adain", "AdaINNet", {"ceil_mode": False, "unbiased_std": False}),
    "sanet": ("stylekernel.baselines.sanet", "SANet", {"ceil_mode": False, "unbiased_std": False}),
    "adaattn": (
        "stylekernel.baselines.adaattn",
        "AdaAttN",
        {"relu3_1_skip": False, "attention_std_eps": 1e-5, "unbiased_std": False, "ceil_mode": False, "sample_seed": None},
    ),
}


@pytest.fixture(autouse=True)
def _single_thread(single_thread: None) -> None:
    """Tiny models: one torch thread (``single_thread`` in tests/conftest.py)."""


def _write(path: Path, net: torch.nn.Module, init_args: dict) -> Path:
    record = {"version": "0.1.0", "net": {"class_path": net.init_config()["class_path"], "init_args": init_args}, "encoder_source": "random"}
    torch.save({"state_dict": {f"net.{k}": v for k, v in net.state_dict().items()}, "stylekernel": record}, path)
    return path


def _output(net: torch.nn.Module, seed: int = 0) -> torch.Tensor:
    """The stylized code and the image (flattened, concatenated): a random decoder's image is
    nearly flat, so the code is where the conventions show."""
    gen = torch.Generator().manual_seed(seed)
    content, style = torch.rand(1, 3, 48, 80, generator=gen), torch.rand(1, 3, 32, 48, generator=gen)
    with torch.no_grad():
        net = net.eval()
        z = net.transform(net.encode(content), net.encode(style))
        return torch.cat([z.flatten(), net(content, style).flatten()])


@pytest.mark.parametrize("name", list(LEGACY))
def test_old_record_rebuilds_the_legacy_network(name, tmp_path, caplog):
    import importlib

    module, cls_name, legacy = LEGACY[name]
    cls = getattr(importlib.import_module(module), cls_name)
    assert LEGACY_INIT_ARGS[f"{module}.{cls_name}"] == legacy  # the table the reader uses
    torch.manual_seed(0)
    old = cls(encoder_weights="random", **legacy)  # the network as the old code built it
    old_args = {k: v for k, v in old.init_config()["init_args"].items() if k not in legacy}  # what an old record holds
    path = _write(tmp_path / f"{name}.ckpt", old, old_args)
    with caplog.at_level(logging.WARNING, logger="stylekernel.checkpoint"):
        loaded = load_net(path)
    lines = [r.getMessage() for r in caplog.records if r.name == "stylekernel.checkpoint" and "RANDOM" not in r.getMessage()]
    assert len(lines) == 1 and "predates" in lines[0] and all(k in lines[0] for k in legacy), lines
    assert {k: loaded.init_config()["init_args"][k] for k in legacy} == legacy
    torch.testing.assert_close(_output(loaded), _output(old), rtol=0, atol=0)

    kwargs = {k: v for k, v in old_args.items() if k != "encoder_weights"}
    state = old.state_dict()
    if name == "adaattn":  # today's default adds the relu3_1 skip: the old weights would not even load ...
        assert set(cls(encoder_weights="random", **kwargs).state_dict()) != set(state)
        kwargs["relu3_1_skip"] = False  # ... so compare the other defaults
    new = cls(encoder_weights="random", **kwargs)
    new.load_state_dict(state)
    reference = _output(old)
    # today's defaults change the output (SANet least: the variance enters only its queries/keys; 3e-4 measured)
    assert (_output(new) - reference).abs().max() > 1e-4 * reference.abs().max()


def test_current_record_is_not_touched(tmp_path, caplog):
    from stylekernel.baselines.adain import AdaINNet

    net = AdaINNet(encoder_weights="random")
    path = _write(tmp_path / "adain.ckpt", net, net.init_config()["init_args"])
    with caplog.at_level(logging.WARNING, logger="stylekernel.checkpoint"):
        loaded = load_net(path)
    assert not [r for r in caplog.records if r.name == "stylekernel.checkpoint" and "predates" in r.getMessage()]
    assert loaded.init_config()["init_args"]["ceil_mode"] is True and loaded.init_config()["init_args"]["unbiased_std"] is True
    assert __version__  # records written now carry the suite version
