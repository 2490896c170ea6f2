"""The injected optimiser and scheduler (``optimizer`` / ``lr_scheduler`` of StyleTransferModule).

The defaults must be the optimiser and schedule the module built before they were injected:
Adam(trainable parameters, lr 1e-4, betas (0.9, 0.999), weight decay 0) and LambdaLR with
lr / (1 + 5e-5 * step), stepped every optimiser step. The reference values are computed here from
that formula, not from the schedule module.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
import yaml

from stylekernel.lightning_cli import run_lightning_cli
from stylekernel.module import StyleTransferModule, migrate_hparams, upgrade_legacy_flags
from stylekernel.nn.style_kernel_net import StyleKernelNet
from stylekernel.schedule import InverseDecayLR

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"
# the tiny-run overrides of the quickstart (configs/debug/tiny.yaml), 3-step epochs, one validation batch
TINY = [
    "--config", str(ROOT / "configs" / "debug" / "tiny.yaml"),
    "--data.init_args.steps_per_epoch=3",
    "--trainer.limit_val_batches=1",
]

# The hyper-parameters a checkpoint written before the injection holds (a quickstart run with
# --model.init_args.lr=3e-4 --model.init_args.lr_decay=0.25 --model.init_args.warmup_steps=1
# --model.init_args.warmup_start=0.5; the dict as that code saved it).
OLD_HPARAMS = {
    "_class_path": "stylekernel.module.StyleTransferModule",
    "content_weight": 1.0, "style_weight": 3.0, "identity1_weight": 50.0, "identity2_weight": 1.0,
    "content_layers": ["relu4_1", "relu5_1"], "style_layers": ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"],
    "lr": 3e-4, "lr_decay": 0.25, "warmup_steps": 1, "warmup_start": 0.5, "lr_milestones": [], "lr_gamma": 1.0,
    "betas": [0.9, 0.999], "weight_decay": 0.0,
    "num_logged_images": 4, "content_normalized": True, "content_target": "content", "unbiased_std": False, "std_eps": 1e-05,
    "_instantiator": "lightning.pytorch.cli.instantiate_module",
}  # fmt: skip


def small_net() -> StyleKernelNet:
    torch.manual_seed(0)
    return StyleKernelNet(encoder_weights="random", groups=16, kernel_hidden_channels=32, gate_hidden_channels=16)


def _lr_after(optimizer: torch.optim.Optimizer, scheduler, steps: int) -> float:  # type: ignore[no-untyped-def]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
    return optimizer.param_groups[0]["lr"]


def test_defaults_are_the_former_adam_and_inverse_decay() -> None:
    module = StyleTransferModule(small_net())
    config = module.configure_optimizers()
    optimizer, sched = config["optimizer"], config["lr_scheduler"]
    assert type(optimizer) is torch.optim.Adam
    (group,) = optimizer.param_groups
    assert [id(p) for p in group["params"]] == [id(p) for p in module.net.trainable_parameters()]
    assert group["lr"] == 1e-4 and group["betas"] == (0.9, 0.999) and group["weight_decay"] == 0.0
    assert group["eps"] == 1e-8 and group["amsgrad"] is False
    assert sched["interval"] == "step" and sched["frequency"] == 1
    assert isinstance(sched["scheduler"], torch.optim.lr_scheduler.LambdaLR)
    done = 0
    for k in (0, 1, 2, 7, 1000):
        lr = _lr_after(optimizer, sched["scheduler"], k - done)
        done = k
        assert lr == pytest.approx(1e-4 / (1.0 + 5e-5 * k), rel=1e-12), k


def test_inverse_decay_lr_with_warmup_and_milestones_follows_the_formula() -> None:
    p = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([p], lr=0.5)
    scheduler = InverseDecayLR(optimizer, decay=0.1, warmup_steps=4, warmup_start=0.2, milestones=[6, 9], gamma=0.5)
    for step in range(12):
        warm = 0.2 + 0.8 * step / 4 if step < 4 else 1.0 / (1.0 + 0.1 * (step - 4))
        drops = 0.5 ** sum(step >= m for m in (6, 9))
        assert optimizer.param_groups[0]["lr"] == pytest.approx(0.5 * warm * drops, rel=1e-12), step
        optimizer.step()
        scheduler.step()


def test_scheduler_state_of_the_former_lambda_lr_resumes_into_inverse_decay_lr() -> None:
    """Checkpoints before the injection hold ``LambdaLR(optimizer, InverseDecay(...))``'s state dict
    (the oldest ones only ``decay`` and ``warmup_steps`` in the multiplier's entry); InverseDecayLR
    built with its defaults resumes it: the step count and that schedule's own values."""
    from stylekernel.schedule import InverseDecay

    assert all(p.default is p.empty for p in __import__("inspect").signature(InverseDecay).parameters.values())
    old_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    old = torch.optim.lr_scheduler.LambdaLR(
        old_opt, InverseDecay(decay=0.25, warmup_steps=2, warmup_start=0.0, milestones=[], gamma=1.0)
    )
    _lr_after(old_opt, old, 5)
    state = old.state_dict()
    state["lr_lambdas"] = [{"decay": 0.25, "warmup_steps": 2}]  # what the first version's InverseDecay held
    new_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    new = InverseDecayLR(new_opt)  # decay 5e-5, no warm-up: replaced by the checkpoint's
    new_opt.load_state_dict(old_opt.state_dict())  # Lightning's order: build both, then restore both
    new.load_state_dict(state)
    for k in (5, 6, 9):
        if k > 5:
            _lr_after(new_opt, new, 1 if k == 6 else 3)
        assert new_opt.param_groups[0]["lr"] == pytest.approx(0.5 / (1.0 + 0.25 * (k - 2)), rel=1e-12), k


def test_python_callables_and_no_scheduler() -> None:
    import functools

    module = StyleTransferModule(small_net(), optimizer=functools.partial(torch.optim.SGD, lr=0.01, momentum=0.5), lr_scheduler=None)
    config = module.configure_optimizers()
    assert set(config) == {"optimizer"} and type(config["optimizer"]) is torch.optim.SGD
    assert config["optimizer"].param_groups[0]["momentum"] == 0.5
    # the hparams hold plain data (checkpoints are read weights_only)
    assert module.hparams["optimizer"] == {"class_path": "torch.optim.sgd.SGD", "init_args": {"lr": 0.01, "momentum": 0.5}}
    assert module.hparams["lr_scheduler"] is None


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"optimizer": {"class_path": "torch.optim.Adam", "init_args": {"lr": -1.0}}}, "Invalid learning rate"),
        ({"optimizer": {"class_path": "torch.optim.SGD", "init_args": {"lr": 0.0}}}, "lr must be > 0"),
        ({"optimizer": {"class_path": "torch.optim.NoSuch"}}, "cannot be imported"),
        ({"lr_scheduler": {"class_path": "stylekernel.schedule.InverseDecayLR", "init_args": {"warmup_start": 2.0}}}, "warmup_start"),
    ],
)
def test_bad_optimiser_values_fail_at_construction(kwargs: dict, words: str) -> None:
    from stylekernel.errors import ConfigError

    with pytest.raises(ConfigError, match=words) as info:
        StyleTransferModule(small_net(), **kwargs)
    assert "\n" not in str(info.value)


def _print_config(args: list[str], capsys) -> dict:  # type: ignore[no-untyped-def,type-arg]
    with pytest.raises(SystemExit) as info:
        run_lightning_cli([*args, "--print_config"])
    assert info.value.code in (0, None)
    return yaml.safe_load(capsys.readouterr().out)


def test_print_config_shows_the_injected_callables(capsys) -> None:
    printed = _print_config(["fit", "--config", str(ROOT / "configs/model/stylekernel.yaml"),
                             "--config", str(ROOT / "configs/data/demo.yaml")], capsys)  # fmt: skip
    model = printed["model"]["init_args"]
    assert model["optimizer"]["class_path"] == "torch.optim.Adam"
    assert model["optimizer"]["init_args"]["lr"] == 1e-4 and model["optimizer"]["init_args"]["betas"] == [0.9, 0.999]
    assert model["optimizer"]["init_args"]["weight_decay"] == 0.0
    assert model["lr_scheduler"] == {
        "class_path": "stylekernel.schedule.InverseDecayLR",
        "init_args": {"decay": 5e-5, "warmup_steps": 0, "warmup_start": 0.0, "milestones": [], "gamma": 1.0},
    }
    assert "optimizer" not in printed and "lr_scheduler" not in printed  # no second, top-level optimiser


def test_a_yaml_selecting_sgd_builds_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    sgd = tmp_path / "sgd.yaml"
    sgd.write_text(
        "model:\n  init_args:\n    optimizer:\n      class_path: torch.optim.SGD\n"
        "      init_args: {lr: 0.01, momentum: 0.5}\n    lr_scheduler: null\n"
    )
    cli = run_lightning_cli(["fit", "--config", str(QUICKSTART), "--config", str(sgd), *TINY,
                             "--trainer.fast_dev_run=1", "--trainer.logger=false", "--trainer.callbacks=[]"])  # fmt: skip
    assert cli.trainer.global_step == 1
    (optimizer,) = cli.trainer.optimizers
    assert type(optimizer) is torch.optim.SGD and not cli.trainer.lr_scheduler_configs
    assert optimizer.param_groups[0]["lr"] == 0.01 and optimizer.param_groups[0]["momentum"] == 0.5


def test_legacy_flags_are_rewritten_with_a_warning() -> None:
    with pytest.warns(FutureWarning, match="--model.init_args.lr is deprecated"):
        got = upgrade_legacy_flags(["--model.init_args.lr=3e-4", "--model.lr_decay", "0.1", "--trainer.max_steps=2"])
    assert got == ["--model.init_args.optimizer.init_args.lr=3e-4", "--model.init_args.lr_scheduler.init_args.decay", "0.1",
                   "--trainer.max_steps=2"]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert upgrade_legacy_flags(["--model.init_args.lr_scheduler.init_args.decay=1"]) == ["--model.init_args.lr_scheduler.init_args.decay=1"]


def test_old_hparams_migrate_to_the_specs() -> None:
    new = migrate_hparams(OLD_HPARAMS)
    assert not set(new) & {"lr", "lr_decay", "warmup_steps", "warmup_start", "lr_milestones", "lr_gamma", "betas", "weight_decay"}
    assert new["optimizer"] == {"class_path": "torch.optim.Adam", "init_args": {"lr": 3e-4, "betas": [0.9, 0.999], "weight_decay": 0.0}}
    assert new["lr_scheduler"] == {
        "class_path": "stylekernel.schedule.InverseDecayLR",
        "init_args": {"decay": 0.25, "warmup_steps": 1, "warmup_start": 0.5, "milestones": [], "gamma": 1.0},
    }
    assert new["style_weight"] == 3.0 and new["_class_path"] == OLD_HPARAMS["_class_path"]
    assert migrate_hparams(new) == new


def test_fit_resumes_a_checkpoint_with_the_old_hyperparameters(tmp_path: Path, monkeypatch) -> None:
    """A checkpoint whose hparams have the former names (lr, lr_decay, ...) resumes with them."""
    monkeypatch.chdir(tmp_path)
    flags = ["--model.init_args.optimizer.init_args.lr=3e-4", "--model.init_args.lr_scheduler.init_args.decay=0.25",
             "--model.init_args.lr_scheduler.init_args.warmup_steps=1", "--model.init_args.lr_scheduler.init_args.warmup_start=0.5"]  # fmt: skip
    run_lightning_cli(["fit", "--config", str(QUICKSTART), *TINY, *flags, "--trainer.max_steps=2"])
    (last,) = tmp_path.rglob("last.ckpt")
    ckpt = torch.load(last, weights_only=True)
    assert ckpt["global_step"] == 2 and "optimizer" in ckpt["hyper_parameters"]
    ckpt["hyper_parameters"] = dict(OLD_HPARAMS)  # as the code before the injection saved them
    old = tmp_path / "old.ckpt"
    torch.save(ckpt, old)

    # the quickstart says lr 5e-4 and the default schedule: the checkpoint's old hparams must win
    cli = run_lightning_cli(["fit", "--config", str(QUICKSTART), *TINY, "--trainer.max_steps=4", f"--ckpt_path={old}",
                             "--trainer.default_root_dir=resumed", "--trainer.logger=false", "--trainer.callbacks=[]"])  # fmt: skip
    assert cli.trainer.global_step == 4
    assert cli.model.hparams["optimizer"]["init_args"]["lr"] == 3e-4
    assert cli.model.hparams["lr_scheduler"]["init_args"]["decay"] == 0.25
    (optimizer,) = cli.trainer.optimizers
    # today's formula: lr * 1 / (1 + decay * (step - warmup_steps)) after the warm-up
    assert optimizer.param_groups[0]["lr"] == pytest.approx(3e-4 / (1.0 + 0.25 * (4 - 1)), rel=1e-9)
