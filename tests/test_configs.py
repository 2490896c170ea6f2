"""Every LightningCLI YAML in configs/ and experiments/ parses, and every model config trains.

Fragments (model/, data/, trainer/, logger/, experiments/ablations/) are layered on the
quickstart config, exactly as the README combines them with several ``--config``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stylekernel.lightning_cli import run_lightning_cli

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"
LIGHTNING_KEYS = {"model", "data", "trainer", "checkpoint", "seed_everything", "optimizer", "lr_scheduler", "ckpt_path"}
TINY = ["--config", str(ROOT / "configs" / "debug" / "tiny.yaml")]
# any config on one CPU process, one batch of one pair, nothing written
FAST_DEV_RUN = ["--config", str(ROOT / "configs" / "debug" / "fast_dev_run.yaml")]


def lightning_configs() -> list[Path]:
    files = sorted([*ROOT.glob("configs/**/*.yaml"), *ROOT.glob("experiments/**/*.yaml")])
    return [f for f in files if set(yaml.safe_load(f.read_text()) or {}) <= LIGHTNING_KEYS]


def model_configs() -> list[Path]:
    return [f for f in lightning_configs() if "model" in yaml.safe_load(f.read_text()) and f != QUICKSTART
            and ("configs/model" in str(f) or "ablations" in str(f))]  # fmt: skip


def test_there_are_configs_to_check() -> None:
    names = {f.relative_to(ROOT).as_posix() for f in lightning_configs()}
    assert "configs/quickstart.yaml" in names and "configs/trainer/gpu.yaml" in names


@pytest.mark.parametrize("config", lightning_configs(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_config_parses(config: Path, capsys) -> None:
    args = ["fit", "--config", str(QUICKSTART)] + (["--config", str(config)] if config != QUICKSTART else [])
    with pytest.raises(SystemExit) as info:
        run_lightning_cli([*args, "--print_config"])
    assert info.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["class_path"] == "stylekernel.module.StyleTransferModule"


@pytest.mark.parametrize("config", model_configs(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_model_config_fast_dev_run(config: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cli = run_lightning_cli(["fit", "--config", str(QUICKSTART), "--config", str(config), *TINY, *FAST_DEV_RUN])
    assert cli.trainer.global_step == 1
    wanted = yaml.safe_load(config.read_text())["model"].get("init_args", {}).get("net", {})
    if "class_path" in wanted:
        assert type(cli.model.net).__name__ == wanted["class_path"].rsplit(".", 1)[-1]
    for key, value in wanted.get("init_args", {}).items():
        if key != "encoder_weights":
            assert cli.model.net.init_config()["init_args"][key] == value, key


@pytest.mark.parametrize("data", ["coco_wikiart_local.yaml", "coco_wikiart_hub.yaml"])
@pytest.mark.parametrize("trainer", ["gpu.yaml", "ddp8.yaml", "multinode.yaml"])
def test_paper_recipe_combinations_parse_without_the_quickstart(data: str, trainer: str, capsys) -> None:
    """The README's real-data commands: model + data + trainer + logger fragments alone."""
    args = ["fit", "--config", str(ROOT / "configs/model/stylekernel.yaml"), "--config", str(ROOT / "configs/data" / data),
            "--config", str(ROOT / "configs/trainer" / trainer), "--config", str(ROOT / "configs/logger/wandb.yaml")]  # fmt: skip
    with pytest.raises(SystemExit) as info:
        run_lightning_cli([*args, "--print_config"])
    assert info.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["init_args"]["net"]["init_args"]["encoder_weights"] == "torchvision"
    assert printed["trainer"]["accelerator"] == "gpu"
