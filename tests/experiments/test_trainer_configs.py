"""Trainer configs: the linear scaling rule is applied, and validation intervals count steps.

Rule (configs/trainer/gpu.yaml): the per-GPU batch is fixed, so with W ranks the global batch is
W x larger: lr x W, lr_decay x W (inverse decay per step: the schedule per image is unchanged),
max_steps / W, validation and checkpoint intervals / W.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import yaml

from stylekernel.lightning_cli import run_lightning_cli
from stylekernel.module import StyleTransferModule
from stylekernel.schedule import InverseDecayLR

from ._cli import QUICKSTART, ROOT, TINY

TRAINER = ROOT / "configs" / "trainer"
DEFAULTS = {k: p.default for k, p in inspect.signature(StyleTransferModule.__init__).parameters.items()}
SCHEDULE_DECAY = inspect.signature(InverseDecayLR.__init__).parameters["decay"].default


def _load(name: str) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((TRAINER / name).read_text())


def _checkpoint_every(config: dict) -> int:  # type: ignore[type-arg]
    return int(config["checkpoint"]["every_n_train_steps"])


@pytest.mark.parametrize("name", ["ddp8.yaml", "multinode.yaml"])
def test_linear_scaling_rule(name: str) -> None:
    base, config = _load("gpu.yaml"), _load(name)
    trainer = config["trainer"]
    world = int(trainer["devices"]) * int(trainer.get("num_nodes", 1))
    assert world in (8, 16)
    assert "data" not in config, "the per-GPU batch (data.init_args.batch_size) must stay the 1-GPU one"
    model = config["model"]["init_args"]
    assert model["optimizer"]["init_args"]["lr"] == pytest.approx(DEFAULTS["optimizer"]["init_args"]["lr"] * world)
    assert model["lr_scheduler"]["init_args"]["decay"] == pytest.approx(SCHEDULE_DECAY * world)
    assert trainer["max_steps"] == base["trainer"]["max_steps"] // world
    for value, reference in [
        (trainer["val_check_interval"], base["trainer"]["val_check_interval"]),
        (_checkpoint_every(config), _checkpoint_every(base)),
    ]:
        assert abs(value - reference / world) <= 1
    assert trainer["strategy"] == "ddp" and trainer["precision"] == base["trainer"]["precision"]


# ids are file names: a bare "gpu" id would be read as the `gpu` marker and skipped without CUDA
@pytest.mark.parametrize("name", ["cpu.yaml", "gpu.yaml", "ddp8.yaml", "multinode.yaml"])
def test_validation_interval_counts_global_steps(name: str) -> None:
    """The training stream's "epochs" (data.steps_per_epoch) are shorter than the intervals."""
    assert _load(name)["trainer"]["check_val_every_n_epoch"] is None


def test_validation_interval_longer_than_an_epoch_trains(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cli = run_lightning_cli([
        "fit", "--config", str(QUICKSTART), "--config", str(TRAINER / "cpu.yaml"), *TINY,
        "--trainer.max_steps=3", "--trainer.val_check_interval=3", "--trainer.limit_val_batches=1",
        "--trainer.logger=false", "--trainer.callbacks=[]", "--trainer.enable_checkpointing=false",
    ])  # fmt: skip
    assert cli.trainer.global_step == 3 and "val/loss" in cli.trainer.callback_metrics
