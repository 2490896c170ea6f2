"""Logging: W&B mode without network, the resolved config and every metric in a W&B run, summaries.

The W&B checks read the offline run's transaction log (``run-<id>.wandb``) with wandb's own
protobuf records (``_wandb_records``): offline, wandb writes no ``wandb-summary.json`` or
``config.yaml`` under ``files/``.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import Iterator

import pytest
import torch
import yaml
from lightning.pytorch.loggers import CSVLogger

from stylekernel.loggers import SafeWandbLogger, log_summary, resolve_mode

from ._cli import QUICKSTART, ROOT, TINY, stylekernel
from ._wandb_records import read_offline_run

WANDB_CONFIG = ROOT / "configs" / "logger" / "wandb.yaml"
LOSSES = ("loss", "content", "style", "identity1", "identity2")


@pytest.fixture
def no_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No W&B key anywhere and no WANDB_MODE: HOME (and ~/.netrc) point to an empty folder."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("NETRC", str(home / ".netrc"))
    for name in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def wandb_in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Shut down the wandb-core service an in-process run starts, and forget its address."""
    monkeypatch.setenv("WANDB_MODE", "offline")  # WandbLogger rewrites it; monkeypatch restores it
    had_service = "WANDB_SERVICE" in os.environ
    try:
        yield
    finally:
        import wandb

        wandb.teardown()
        if not had_service:
            os.environ.pop("WANDB_SERVICE", None)


def test_mode_without_a_key_is_offline_and_respects_the_environment(no_credentials: Path, monkeypatch) -> None:
    assert resolve_mode() == "offline"
    assert resolve_mode(offline=False) == "online" and resolve_mode(offline=True) == "offline"
    (no_credentials / ".netrc").write_text("machine api.wandb.ai\n  login user\n  password 0123456789\n")
    no_credentials.joinpath(".netrc").chmod(0o600)
    assert resolve_mode() == "online"
    for value, mode in [("offline", "offline"), ("dryrun", "offline"), ("disabled", "disabled"), ("online", "online")]:
        monkeypatch.setenv("WANDB_MODE", value)
        assert resolve_mode() == mode, value
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.setenv("WANDB_DISABLED", "true")
    assert resolve_mode() == "disabled"
    assert resolve_mode(offline=True) == "offline"  # the argument wins


def test_logger_settings_are_decided_without_network(no_credentials: Path, monkeypatch) -> None:
    logger = SafeWandbLogger(project="p", save_dir=str(no_credentials), log_model=True)  # offline: not an error
    assert logger.mode == "offline" and logger._offline and logger._log_model is False
    assert logger._wandb_init["settings"] == {"init_timeout": 60.0}
    monkeypatch.setenv("WANDB_MODE", "disabled")
    disabled = SafeWandbLogger(project="p", init_timeout=5, settings={"silent": True})
    assert disabled._wandb_init["mode"] == "disabled" and not disabled._offline
    assert disabled._wandb_init["settings"] == {"init_timeout": 5.0, "silent": True}
    assert disabled._experiment is None  # nothing started at construction


def test_log_summary_to_csv(tmp_path: Path) -> None:
    logger = CSVLogger(save_dir=str(tmp_path), name="eval")
    sent = log_summary(
        [logger, None],
        {"lpips": {"mean": torch.tensor(0.25)}, "artfid": 31.5, "preset": "paper", "count": 800},
        prefix="eval/",
    )
    assert sent == {"eval/lpips/mean": 0.25, "eval/artfid": 31.5, "eval/preset": "paper", "eval/count": 800}
    rows = list(csv.DictReader(open(Path(logger.log_dir) / "metrics.csv")))
    assert float(rows[-1]["eval/lpips/mean"]) == 0.25 and float(rows[-1]["eval/artfid"]) == 31.5
    assert "eval/preset" not in rows[-1]  # strings only go to loggers that keep them (W&B summary)
    assert log_summary(None, {"x": 1.0}) == {"x": 1.0}


def test_log_summary_to_an_offline_wandb_run(no_credentials: Path, tmp_path: Path, wandb_in_process) -> None:
    logger = SafeWandbLogger(project="stylekernel-test", save_dir=str(tmp_path))
    try:
        log_summary(logger, {"artfid": 31.5, "lpips": {"mean": torch.tensor(0.25)}, "preset": "paper"}, prefix="eval/")
        run_dir = Path(logger.experiment.dir).parent
    finally:
        logger.experiment.finish()
    summary = read_offline_run(run_dir).summary
    assert summary["eval/artfid"] == 31.5 and summary["eval/lpips/mean"] == 0.25 and summary["eval/preset"] == "paper"


def test_wandb_fit_logs_config_losses_lr_and_images(no_credentials: Path, tmp_path: Path) -> None:
    """A CLI fit with configs/logger/wandb.yaml, no key and no WANDB_MODE: offline, never a hang."""
    res = stylekernel(
        "fit", "--config", str(QUICKSTART), "--config", str(WANDB_CONFIG), *TINY,
        "--trainer.max_steps=2", "--trainer.limit_val_batches=1",
        cwd=tmp_path, env={"HOME": str(no_credentials), "NETRC": str(no_credentials / ".netrc")},
        drop_env=("WANDB_MODE", "WANDB_API_KEY"), timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-4000:]
    (offline_run,) = sorted((tmp_path / "runs" / "wandb").glob("offline-run-*"))
    run = read_offline_run(offline_run)

    keys = run.history_keys()
    for term in LOSSES:
        assert f"train/{term}" in keys and f"val/{term}" in keys, term
    assert "train/lr" in keys
    image_keys = {k for k in keys if k.startswith("val/content_style_output")}
    assert image_keys, sorted(keys)
    assert list((offline_run / "files" / "media" / "images").rglob("content_style_output*.png"))
    assert run.summary["train/lr"] == pytest.approx(5e-4, rel=1e-3)

    # the resolved LightningCLI config, as nested run config
    model = run.config["model"]
    assert model["init_args"]["net"]["class_path"] == "stylekernel.nn.style_kernel_net.StyleKernelNet"
    assert model["init_args"]["net"]["init_args"]["encoder_weights"] == "random"
    assert model["init_args"]["optimizer"]["init_args"]["lr"] == 5e-4 and run.config["data"]["init_args"]["crop_size"] == 32
    assert run.config["trainer"]["max_steps"] == 2

    # config.yaml next to the checkpoints of this run (runs/<project>/<run id>/), and as a run file
    run_id = offline_run.name.rsplit("-", 1)[-1]
    run_dir = tmp_path / "runs" / "stylekernel" / run_id
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["model"] == model
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert (offline_run / "files" / "lightning_config.yaml").is_file()
    assert not (tmp_path / "runs" / "config.yaml").exists()
    assert "Traceback" not in res.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX networking")
def test_online_start_failure_falls_back_to_offline(
    no_credentials: Path, tmp_path: Path, wandb_in_process, monkeypatch
) -> None:
    """Online with a key but an unreachable server: warn and log offline, within init_timeout."""
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # discard port: connection refused
    logger = SafeWandbLogger(project="stylekernel-test", save_dir=str(tmp_path), init_timeout=5)
    with pytest.warns(UserWarning, match="logging OFFLINE"):
        run = logger.experiment
    try:
        assert logger.mode == "offline" and run.settings.mode in ("offline", "dryrun")
    finally:
        run.finish()
