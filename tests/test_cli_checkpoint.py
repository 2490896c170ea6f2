"""The ``checkpoint:`` group of ``stylekernel fit``: one ModelCheckpoint, only where it applies.

Each config that used to list a ModelCheckpoint under ``trainer.callbacks`` must resolve to the
same callback as before (the values below are literals from those files before the change,
commit 88b5b23), with the same ``state_key``, so that its old checkpoints resume with their
callback state; one old checkpoint is written and resumed to show it.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from lightning.pytorch.callbacks import ModelCheckpoint

from stylekernel.lightning_cli import StyleKernelCLI, run_lightning_cli

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"
GPU = ROOT / "configs" / "trainer" / "gpu.yaml"
TINY = ["--config", str(ROOT / "configs" / "debug" / "tiny.yaml")]
CPU_STEP = ["--config", str(ROOT / "configs" / "debug" / "fast_dev_run.yaml")]

# config -> (configs before it, its former trainer.callbacks ModelCheckpoint init_args)
FORMER: dict[str, tuple[list[Path], dict[str, Any]]] = {
    "configs/trainer/cpu.yaml": ([], {"every_n_train_steps": 200, "save_last": True, "save_top_k": -1}),
    "configs/trainer/gpu.yaml": ([], {"every_n_train_steps": 5000, "save_last": True, "save_top_k": -1}),
    "configs/trainer/ddp8.yaml": ([], {"every_n_train_steps": 625, "save_last": True, "save_top_k": -1}),
    "configs/trainer/multinode.yaml": ([], {"every_n_train_steps": 312, "save_last": True, "save_top_k": -1}),
    "configs/quickstart.yaml": ([], {"every_n_train_steps": 40, "save_last": True, "save_top_k": -1}),
}
# experiments/sweeps/base/proxy.yaml listed {monitor: val/loss, mode: min, save_top_k: 1, save_last: true}
# and, after gpu.yaml (as every sweep runs it), inherited every_n_train_steps 5000 from it by the
# list merge: a bug (see the file), now every_n_train_steps null = a save after every validation.
PROXY_FORMER = {"monitor": "val/loss", "mode": "min", "save_top_k": 1, "save_last": True}


def _cli(args: list[str], monkeypatch: pytest.MonkeyPatch) -> StyleKernelCLI:
    """The CLI with its trainer built but the subcommand not run."""
    monkeypatch.setattr(StyleKernelCLI, "_run_subcommand", lambda self, subcommand: None)
    return run_lightning_cli(args)


def _checkpoints(cli: StyleKernelCLI) -> list[ModelCheckpoint]:
    return [cb for cb in cli.trainer.callbacks if isinstance(cb, ModelCheckpoint)]


def _fit_args(name: str, before: list[Path]) -> list[str]:
    configs = [QUICKSTART, *before] + ([ROOT / name] if ROOT / name != QUICKSTART else [])
    return ["fit", *[a for c in configs for a in ("--config", str(c))], *TINY, *CPU_STEP]


@pytest.mark.parametrize("name", sorted(FORMER))
def test_each_former_copy_resolves_to_the_same_one_callback(name: str, monkeypatch) -> None:
    before, former = FORMER[name]
    assert "callbacks" not in (yaml.safe_load((ROOT / name).read_text())["trainer"] or {})
    (callback,) = _checkpoints(_cli(_fit_args(name, before), monkeypatch))
    assert callback._every_n_train_steps == former["every_n_train_steps"]
    assert callback.save_last is True and callback.save_top_k == -1
    assert callback.filename is None and callback.dirpath is None and callback.monitor is None
    # the key its state is saved under: a checkpoint of the former config resumes with this one
    assert callback.state_key == ModelCheckpoint(**former).state_key


def test_the_sweep_proxy_keeps_the_best_by_val_loss_of_every_validation(monkeypatch) -> None:
    (callback,) = _checkpoints(_cli(_fit_args("experiments/sweeps/base/proxy.yaml", [GPU]), monkeypatch))
    assert callback.monitor == PROXY_FORMER["monitor"] and callback.mode == PROXY_FORMER["mode"]
    assert callback.save_top_k == PROXY_FORMER["save_top_k"] and callback.save_last is PROXY_FORMER["save_last"]
    assert callback.filename is None
    assert callback._every_n_train_steps == 0 and callback.every_n_epochs == 1  # not 5000 (inherited from gpu.yaml)


def test_print_config_shows_the_group_and_round_trips(tmp_path: Path, capsys) -> None:
    args = ["fit", "--config", str(QUICKSTART), *TINY]
    with pytest.raises(SystemExit) as info:
        run_lightning_cli([*args, "--print_config"])
    assert info.value.code in (0, None)
    text = capsys.readouterr().out
    printed = yaml.safe_load(text)
    assert printed["checkpoint"]["every_n_train_steps"] == 40  # configs/quickstart.yaml
    assert printed["checkpoint"]["save_last"] is True and printed["checkpoint"]["save_top_k"] == -1  # the group's defaults
    assert printed["checkpoint"]["filename"] is None and printed["checkpoint"]["monitor"] is None
    saved = tmp_path / "printed.yaml"
    saved.write_text(text)
    with pytest.raises(SystemExit):
        run_lightning_cli(["fit", "--config", str(saved), "--print_config"])
    assert yaml.safe_load(capsys.readouterr().out) == printed


@pytest.mark.parametrize("subcommand", ["validate", "test"])
def test_only_fit_gets_the_group_callback(subcommand: str, monkeypatch) -> None:
    cli = _cli([subcommand, "--config", str(QUICKSTART), *TINY, *CPU_STEP], monkeypatch)
    group = cli.config_init[subcommand]["checkpoint"]
    assert isinstance(group, ModelCheckpoint) and group._every_n_train_steps == 40
    assert all(cb is not group for cb in cli.trainer.callbacks)


def test_fit_with_checkpointing_disabled_has_no_checkpoint_callback(monkeypatch) -> None:
    cli = _cli(["fit", "--config", str(QUICKSTART), *TINY, *CPU_STEP, "--trainer.enable_checkpointing=false"], monkeypatch)
    assert _checkpoints(cli) == []


def test_predict_with_the_stylize_folder_config_writes_images(tmp_path: Path, monkeypatch) -> None:
    """stylize_folder.yaml sets enable_checkpointing: false; Lightning refuses any ModelCheckpoint then."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "stylized"
    cli = run_lightning_cli([
        "predict", "--config", str(QUICKSTART), "--config", str(ROOT / "configs" / "predict" / "stylize_folder.yaml"), *TINY,
        "--data.init_args.num_test_content=1", "--data.init_args.num_test_style=2", "--data.init_args.test_size=32",
        f"--trainer.callbacks.init_args.output_dir={out}",
    ])  # fmt: skip
    assert _checkpoints(cli) == []
    assert len(list(out.glob("*__*.png"))) == 2


def _legacy_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, FutureWarning) and "`checkpoint:`" in str(w.message)]


def test_a_modelcheckpoint_under_trainer_callbacks_is_used_with_one_warning(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    legacy = tmp_path / "legacy.yaml"
    legacy.write_text(
        "trainer:\n  callbacks:\n    - class_path: lightning.pytorch.callbacks.ModelCheckpoint\n"
        "      init_args: {every_n_train_steps: 7}\n"
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cli = run_lightning_cli(["fit", "--config", str(QUICKSTART), *TINY, *CPU_STEP, "--config", str(legacy)])
    (message,) = _legacy_warnings(caught)
    assert "\n" not in message and "trainer.callbacks" in message
    (callback,) = _checkpoints(cli)
    # the listed callback as it is (Lightning's save_top_k 1), not the group's (every 40, save_top_k -1)
    assert callback._every_n_train_steps == 7 and callback.save_top_k == 1 and callback.save_last is None
    assert cli.trainer.global_step == 1


# a callback written the former way (as configs/quickstart.yaml had it at commit 88b5b23, there every
# 40 steps; 2 here to keep the run short: the six configs' own intervals are checked by state_key above)
FORMER_CALLBACK = """\
trainer:
  callbacks:
    - class_path: lightning.pytorch.callbacks.ModelCheckpoint
      init_args:
        every_n_train_steps: 2
        save_last: true
        save_top_k: -1
"""


def test_a_checkpoint_of_the_former_config_resumes_with_its_callback_state(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    former = tmp_path / "former.yaml"
    former.write_text(FORMER_CALLBACK)
    run = tmp_path / "run"
    common = ["--config", str(QUICKSTART), *TINY, "--data.init_args.steps_per_epoch=10", "--trainer.limit_val_batches=0",
              "--trainer.logger=false", f"--trainer.default_root_dir={run}"]  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_lightning_cli(["fit", *common, "--config", str(former), "--trainer.max_steps=2"])
    assert len(_legacy_warnings(caught)) == 1  # written the former way
    ckpts = run / "checkpoints"
    step2, last = ckpts / "epoch=0-step=2.ckpt", ckpts / "last.ckpt"
    assert sorted(p.name for p in ckpts.iterdir()) == sorted([step2.name, last.name])
    key = "ModelCheckpoint{'monitor': None, 'mode': 'min', 'every_n_train_steps': 2, 'every_n_epochs': 0, 'train_time_interval': None}"
    written = torch.load(last, weights_only=True)
    assert written["global_step"] == 2
    assert written["callbacks"][key]["best_model_path"] == str(step2) and written["callbacks"][key]["last_model_path"] == str(last)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cli = run_lightning_cli(["fit", *common, "--checkpoint.every_n_train_steps=2", "--trainer.max_steps=3",
                                 f"--ckpt_path={last}"])  # fmt: skip
    assert _legacy_warnings(caught) == []
    assert cli.trainer.global_step == 3
    callback = cli.trainer.checkpoint_callback
    assert callback.state_key == key
    # restored: step 3 saves no top-k file, so the best is still step 2's, and last.ckpt is rewritten in
    # place (a fresh callback would have no best and would write last-v1.ckpt next to the existing file)
    assert callback.best_model_path == str(step2) and callback.last_model_path == str(last)
    assert sorted(p.name for p in ckpts.iterdir()) == sorted([step2.name, last.name])
    resumed = torch.load(last, weights_only=True)
    assert resumed["global_step"] == 3 and resumed["callbacks"][key]["best_model_path"] == str(step2)
