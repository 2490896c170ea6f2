"""configs/recipes/<method>.yaml: each peer's whole training recipe as a real config.

Every recipe parses combined with a data config (data first, the recipe last, as the files
document), and its resolved values equal the peer's own, listed below with the peer file each
value was read from. One recipe trains for a step with the tiny overrides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from stylekernel.lightning_cli import run_lightning_cli

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "configs" / "recipes"
DEMO = ROOT / "configs" / "data" / "demo.yaml"
# the tiny-run overrides, then one CPU step of one pair with nothing written (configs/debug/)
TINY = ["--config", str(ROOT / "configs" / "debug" / "tiny.yaml"), "--config", str(ROOT / "configs" / "debug" / "fast_dev_run.yaml")]

M = "model.init_args."
OPT, SCHED = M + "optimizer.", M + "lr_scheduler."
ADAM, INVERSE = "torch.optim.Adam", "stylekernel.schedule.InverseDecayLR"

# method -> {resolved key: value}; each value as the peer's code has it (file in the comment).
PEER_RECIPES: dict[str, dict[str, Any]] = {
    "adain": {  # naoto0804/pytorch-AdaIN
        M + "net.class_path": "stylekernel.baselines.adain.AdaINNet",
        OPT + "class_path": ADAM,                       # train.py: torch.optim.Adam(decoder params, lr=args.lr)
        OPT + "init_args.lr": 1e-4,                     # train.py --lr 1e-4
        OPT + "init_args.betas": [0.9, 0.999],          # train.py: Adam's default betas
        SCHED + "class_path": INVERSE,                  # train.py adjust_learning_rate: lr / (1 + lr_decay * i)
        SCHED + "init_args.decay": 5e-5,                # train.py --lr_decay 5e-5
        SCHED + "init_args.warmup_steps": 0,
        "data.init_args.batch_size": 8,                 # train.py --batch_size 8
        "trainer.max_steps": 160000,                    # train.py --max_iter 160000
        M + "content_weight": 1.0,                      # train.py --content_weight 1.0
        M + "style_weight": 10.0,                       # train.py --style_weight 10.0
        M + "identity1_weight": 0.0,                    # net.py Net.forward: content and style losses only
        M + "identity2_weight": 0.0,
        M + "content_layers": ["relu4_1"],              # net.py: loss_c on relu4_1 ...
        M + "content_target": "transformed",            # ... against t = adain(...)
        M + "style_layers": ["relu1_1", "relu2_1", "relu3_1", "relu4_1"],  # net.py encode_with_intermediate
    },
    "sanet": {  # GlebSBrykin/SANET Train.ipynb
        M + "net.class_path": "stylekernel.baselines.sanet.SANet",
        OPT + "class_path": ADAM,                       # Train.ipynb: torch.optim.Adam([...], lr=args.lr)
        OPT + "init_args.lr": 1e-4,                     # Train.ipynb --lr 1e-4
        OPT + "init_args.betas": [0.9, 0.999],
        SCHED + "class_path": INVERSE,                  # Train.ipynb adjust_learning_rate
        SCHED + "init_args.decay": 5e-5,                # Train.ipynb --lr_decay 5e-5
        "data.init_args.batch_size": 5,                 # Train.ipynb --batch_size 5
        "trainer.max_steps": 160000,                    # Train.ipynb --max_iter 160000
        M + "content_weight": 1.0,                      # Train.ipynb --content_weight 1.0
        M + "style_weight": 3.0,                        # Train.ipynb --style_weight 3.0
        M + "identity1_weight": 50.0,                   # Train.ipynb: l_identity1 * 50
        M + "identity2_weight": 1.0,                    # Train.ipynb: l_identity2 * 1
    },
    "adaattn": {  # Huage001/AdaAttN
        M + "net.class_path": "stylekernel.baselines.adaattn.AdaAttN",
        OPT + "class_path": ADAM,                       # models/adaattn_model.py: torch.optim.Adam(..., lr=opt.lr)
        OPT + "init_args.lr": 2e-4,                     # options/train_options.py --lr 0.0002
        OPT + "init_args.betas": [0.9, 0.999],          # adaattn_model.py passes no betas (--beta1 unused)
        SCHED + "class_path": INVERSE,
        SCHED + "init_args.decay": 0.0,                 # models/networks.py get_scheduler: per-epoch only
        SCHED + "init_args.milestones": [20696, 31044, 41392],  # epochs 3, 4, 5 of 10,348 iterations
        SCHED + "init_args.gamma": 0.3,                 # networks.py: 0.3 ** max(0, epoch + 1 - n_epochs)
        "data.init_args.batch_size": 8,                 # train_adaattn.sh --batch_size 8
        "trainer.max_steps": 5 * 10348,                 # train_adaattn.sh --n_epochs 2 --n_epochs_decay 3
        M + "style_weight": 10.0,                       # train_adaattn.sh --lambda_global 10
        M + "identity1_weight": 0.0,                    # adaattn_model.py: no identity losses
        M + "identity2_weight": 0.0,
        M + "style_layers": ["relu2_1", "relu3_1", "relu4_1", "relu5_1"],  # adaattn_model.py compute_style_loss
    },
    "adaconv": {  # RElbers/ada-conv-pytorch
        M + "net.class_path": "stylekernel.baselines.adaconv.AdaConvNet",
        OPT + "class_path": ADAM,                       # lib/lightning/lightningmodel.py: Adam(self.parameters(), lr=self.lr)
        OPT + "init_args.lr": 1e-4,                     # lightningmodel.py --lr 0.0001
        OPT + "init_args.betas": [0.9, 0.999],
        SCHED + "class_path": INVERSE,                  # lightningmodel.py: LambdaLR, interval "step"
        SCHED + "init_args.decay": 2e-4,                # lightningmodel.py: 1 / (1 + 0.0002 * iter)
        "data.init_args.batch_size": 8,                 # lib/lightning/datamodule.py --batch-size 8
        "trainer.max_steps": 160000,                    # train.py --iterations 160_000
        M + "content_weight": 1.0,                      # lightningmodel.py --content-weight 1.0
        M + "style_weight": 10.0,                       # lightningmodel.py --style-weight 10.0
        M + "identity1_weight": 0.0,                    # lightningmodel.py loss: content and style only
        M + "identity2_weight": 0.0,
        M + "content_layers": ["relu4_1"],              # lightningmodel.py: content loss on the last embedding
        M + "content_normalized": False,                # lib/loss.py MSEContentLoss: raw features
    },
    "stytr2": {  # diyiiyiii/StyTR-2 train.py
        M + "net.class_path": "stylekernel.baselines.stytr2.StyTr2",
        OPT + "class_path": ADAM,                       # train.py: torch.optim.Adam([...], lr=args.lr)
        OPT + "init_args.lr": 2e-4,                     # train.py adjust_learning_rate: 2e-4 / (...)
        OPT + "init_args.betas": [0.9, 0.999],
        SCHED + "class_path": INVERSE,
        SCHED + "init_args.decay": 1e-5,                # train.py --lr_decay 1e-5
        SCHED + "init_args.warmup_steps": 10000,        # train.py: warmup_learning_rate while i < 1e4
        SCHED + "init_args.warmup_start": 0.25,         # train.py: 5e-4 * 0.1 = 5e-5 = 0.25 x 2e-4 at i = 0
        "data.init_args.batch_size": 8,                 # train.py --batch_size 8
        "trainer.max_steps": 160000,                    # train.py --max_iter 160000
        M + "content_weight": 7.0,                      # train.py --content_weight 7.0
        M + "style_weight": 10.0,                       # train.py --style_weight 10.0
        M + "identity1_weight": 70.0,                   # train.py: l_identity1 * 70
        M + "identity2_weight": 1.0,                    # train.py: l_identity2 * 1
    },
}  # fmt: skip


def lookup(config: dict, dotted: str) -> Any:  # type: ignore[type-arg]
    for part in dotted.split("."):
        config = config[part]
    return config


def _printed(args: list[str], capsys) -> dict:  # type: ignore[no-untyped-def,type-arg]
    with pytest.raises(SystemExit) as info:
        run_lightning_cli([*args, "--print_config"])
    assert info.value.code in (0, None)
    return yaml.safe_load(capsys.readouterr().out)


def test_every_recipe_is_in_the_table() -> None:
    assert {p.stem for p in RECIPES.glob("*.yaml")} == set(PEER_RECIPES)


@pytest.mark.parametrize("method", sorted(PEER_RECIPES))
def test_recipe_resolves_to_the_peer_values(method: str, capsys) -> None:
    printed = _printed(["fit", "--config", str(DEMO), "--config", str(RECIPES / f"{method}.yaml")], capsys)
    for key, value in PEER_RECIPES[method].items():
        got = lookup(printed, key)
        if isinstance(value, float):
            assert got == pytest.approx(value, rel=1e-12), key
        else:
            assert got == value, key


@pytest.mark.parametrize("method", ["adaattn"])
def test_recipe_after_the_gpu_trainer_keeps_its_steps_and_batch(method: str, capsys) -> None:
    """With the data and 1-GPU trainer configs first (the documented order) the recipe's values stand."""
    args = ["fit", "--config", str(ROOT / "configs/data/coco_wikiart_local.yaml"), "--config", str(ROOT / "configs/trainer/gpu.yaml"),
            "--config", str(RECIPES / f"{method}.yaml")]  # fmt: skip
    printed = _printed(args, capsys)
    assert printed["trainer"]["max_steps"] == PEER_RECIPES[method]["trainer.max_steps"] != 160000
    assert printed["data"]["init_args"]["batch_size"] == 8 and printed["trainer"]["accelerator"] == "gpu"


def test_every_recipe_value_names_its_source() -> None:
    """Each line that sets a value in a recipe carries a comment (the peer file, or the include)."""
    for path in RECIPES.glob("*.yaml"):
        for line in path.read_text().splitlines():
            body = line.split("#", 1)[0]
            if ":" in body and body.split(":", 1)[1].strip():
                assert "#" in line, f"{path.name}: {line!r}"


def test_a_recipe_trains_one_step(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cli = run_lightning_cli(["fit", "--config", str(DEMO), "--config", str(RECIPES / "adain.yaml"), *TINY])
    assert cli.trainer.global_step == 1
    assert type(cli.model.net).__name__ == "AdaINNet"
    (optimizer,) = cli.trainer.optimizers
    assert type(optimizer).__name__ == "Adam"
    # after one step of the AdaIN schedule: 1e-4 / (1 + 5e-5 * 1)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-4 / (1 + 5e-5), rel=1e-12)
