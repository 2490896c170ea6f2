"""The model configs (configs/model/*.yaml) and the ablation fragments (experiments/ablations/)
parse as LightningCLI's ``model`` argument and build the intended networks."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonargparse import ActionConfigFile, ArgumentParser

from stylekernel.baselines.registry import MODELS
from stylekernel.module import StyleTransferModule
from stylekernel.nn.style_kernel_net import StyleKernelNet

ROOT = Path(__file__).resolve().parents[2]
MODEL_CONFIGS = ROOT / "configs" / "model"
ABLATIONS = ROOT / "experiments" / "ablations"
RANDOM_ENCODER = "--model.init_args.net.init_args.encoder_weights=random"


def _build(*configs: Path) -> StyleTransferModule:
    """Parse ``--config`` files like LightningCLI's subclass-mode ``model`` and instantiate."""
    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument("--config", action=ActionConfigFile)
    parser.add_argument("--model", type=StyleTransferModule)
    args = [a for c in configs for a in ("--config", str(c))] + [RANDOM_ENCODER]
    cfg = parser.parse_args(args)
    instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes  # renamed in 4.49
    module = instantiate(cfg).model
    assert isinstance(module, StyleTransferModule)
    return module


def _net_overrides(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())["model"]["init_args"]["net"]["init_args"]


def test_there_is_one_model_config_per_registered_model() -> None:
    assert {p.stem for p in MODEL_CONFIGS.glob("*.yaml")} >= set(MODELS)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_config_builds_the_registered_network(name: str) -> None:
    path = MODEL_CONFIGS / f"{name}.yaml"
    raw = yaml.safe_load(path.read_text())
    assert raw["model"]["class_path"] == "stylekernel.module.StyleTransferModule"
    module = _build(path)
    assert type(module.net) is MODELS[name]
    # no duplicated defaults: every value the file sets differs from the code default
    module_args = dict(raw["model"]["init_args"])
    net_args = module_args.pop("net").get("init_args", {})
    for cls, values in [(StyleTransferModule, module_args), (MODELS[name], net_args)]:
        defaults = {k: p.default for k, p in inspect.signature(cls).parameters.items()}
        for key, value in values.items():
            default = defaults[key]
            same = tuple(value) == tuple(default) if isinstance(value, list) else value == default
            assert not same, f"{path.name}: {key} repeats the code default of {cls.__name__}"


ABLATION_FILES = sorted(ABLATIONS.glob("*.yaml"))


def test_every_listed_ablation_exists() -> None:
    stems = {p.stem for p in ABLATION_FILES}
    assert {
        "no_sae", "no_cgm", "hard_gate", "no_group_shuffle", "kernel_size_1", "kernel_size_3",
        "kernel_size_5", "groups_16", "groups_64", "groups_128", "with_relu5_1",
    } <= stems  # fmt: skip
    readme = (ABLATIONS / "README.md").read_text()
    for stem in stems:
        assert f"{stem}.yaml" in readme, f"{stem}.yaml is not listed in the README"


@pytest.mark.parametrize("path", ABLATION_FILES, ids=lambda p: p.stem)
def test_ablation_fragment_overrides_only_net_arguments(path: Path) -> None:
    raw = yaml.safe_load(path.read_text())
    assert set(raw) == {"model"} and set(raw["model"]) == {"init_args"}
    assert set(raw["model"]["init_args"]) == {"net"} and set(raw["model"]["init_args"]["net"]) == {"init_args"}
    overrides = _net_overrides(path)
    assert overrides
    module = _build(MODEL_CONFIGS / "stylekernel.yaml", path)
    assert type(module.net) is StyleKernelNet
    init_args = module.net.init_config()["init_args"]
    for key, value in overrides.items():
        assert init_args[key] == value, f"{path.name}: {key} did not reach the network"
