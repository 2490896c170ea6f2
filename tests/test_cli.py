"""The ``stylekernel`` command end to end: help, errors as one line, fit/resume/validate, DDP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stylekernel.cli import LIGHTNING_COMMANDS, TOOL_COMMANDS, main

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"
# the quickstart made tiny (configs/debug/tiny.yaml), with 3-step "epochs" (a resume at step 2 is inside one) and deterministic kernels
TINY = [
    "--config", str(ROOT / "configs" / "debug" / "tiny.yaml"),
    "--data.init_args.steps_per_epoch=3",
    "--trainer.deterministic=true",
]


def run_cli(*args: str, cwd: Path, timeout: int = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "stylekernel.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env
    )


def test_help_lists_every_subcommand(capsys) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in [*LIGHTNING_COMMANDS, *TOOL_COMMANDS]:
        assert f"  {name} " in out


def test_unknown_command_is_one_clear_error(capsys) -> None:
    assert main(["fitt"]) == 2
    assert "unknown command 'fitt'" in capsys.readouterr().err


def test_weights_list_shows_every_file(capsys, weights_cache) -> None:
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("vgg19", "vgg_normalised", "alexnet", "art_inception"):
        assert name in out
    assert "missing" in out and str(weights_cache) in out


def test_bad_config_value_is_one_line_without_traceback(tmp_path: Path) -> None:
    res = run_cli("fit", "--config", str(QUICKSTART), *TINY, "--model.init_args.net.init_args.kernel_size=-3", cwd=tmp_path)
    assert res.returncode == 2, res.stderr[-3000:]
    assert "kernel_size" in res.stderr and "Traceback" not in res.stderr


def test_missing_checkpoint_is_one_line(tmp_path: Path) -> None:
    res = run_cli("fit", "--config", str(QUICKSTART), *TINY, f"--ckpt_path={tmp_path / 'nope.ckpt'}", cwd=tmp_path)
    assert res.returncode == 2
    assert "does not exist" in res.stderr and "Traceback" not in res.stderr
    junk = tmp_path / "junk.ckpt"
    junk.write_text("not a checkpoint")
    res = run_cli("validate", "--config", str(QUICKSTART), *TINY, f"--ckpt_path={junk}", cwd=tmp_path)
    assert res.returncode == 2 and "not a readable checkpoint" in res.stderr and "Traceback" not in res.stderr


def _checkpoints(root: Path) -> list[Path]:
    return sorted(root.rglob("*.ckpt"))


def test_fit_saves_config_and_checkpoint_then_resumes_and_validates(tmp_path: Path) -> None:
    res = run_cli("fit", "--config", str(QUICKSTART), *TINY, "--trainer.max_steps=2", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-4000:]
    run_dir = tmp_path / "runs" / "quickstart" / "version_0"
    saved = (run_dir / "config.yaml").read_text()
    assert "StyleKernelNet" in saved and "encoder_weights: random" in saved  # the resolved config
    last = run_dir / "checkpoints" / "last.ckpt"
    ckpt = torch.load(last, weights_only=True)
    assert ckpt["global_step"] == 2 and ckpt["stylekernel"]["encoder_source"] == "random"

    res = run_cli("fit", "--config", str(QUICKSTART), *TINY, "--trainer.max_steps=4", f"--ckpt_path={last}", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-4000:]
    resumed = torch.load(tmp_path / "runs" / "quickstart" / "version_1" / "checkpoints" / "last.ckpt", weights_only=True)
    assert resumed["global_step"] == 4

    res = run_cli("validate", "--config", str(QUICKSTART), *TINY, f"--ckpt_path={last}", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-4000:]
    assert "val/loss" in res.stdout

    # exact resume: 4 steps in one go == 2 steps, stop, resume for 2 more (mid-epoch: 3 steps/epoch)
    straight = tmp_path / "straight"
    straight.mkdir()
    res = run_cli("fit", "--config", str(QUICKSTART), *TINY, "--trainer.max_steps=4", cwd=straight)
    assert res.returncode == 0, res.stderr[-4000:]
    uninterrupted = torch.load(straight / "runs" / "quickstart" / "version_0" / "checkpoints" / "last.ckpt", weights_only=True)
    assert uninterrupted["global_step"] == 4
    for key, value in uninterrupted["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][key], value, rtol=0, atol=1e-6, msg=key)
    changed = [k for k, v in ckpt["state_dict"].items() if not torch.equal(v, uninterrupted["state_dict"][k])]
    assert changed  # steps 3-4 did change the weights, so the comparison above means something


@pytest.mark.ddp
def test_two_process_cpu_ddp_fit(tmp_path: Path) -> None:
    res = run_cli(
        "fit", "--config", str(QUICKSTART), *TINY, "--trainer.max_steps=2", "--trainer.devices=2",
        "--trainer.strategy=ddp", "--trainer.num_sanity_val_steps=0", cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-4000:]
    ckpt = torch.load(tmp_path / "runs" / "quickstart" / "version_0" / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 2
    assert "world_size=2" in res.stderr or "distributed_backend=gloo" in res.stderr


def test_predict_writes_one_image_per_test_pair(tmp_path: Path) -> None:
    res = run_cli("fit", "--config", str(QUICKSTART), *TINY, "--trainer.max_steps=1", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-4000:]
    ckpt = tmp_path / "runs" / "quickstart" / "version_0" / "checkpoints" / "last.ckpt"
    out = tmp_path / "stylized"
    res = run_cli(
        "predict", "--config", str(QUICKSTART), "--config", str(ROOT / "configs" / "predict" / "stylize_folder.yaml"), *TINY,
        "--data.init_args.num_test_content=2", "--data.init_args.num_test_style=3", "--data.init_args.test_size=32",
        f"--trainer.callbacks.init_args.output_dir={out}", f"--ckpt_path={ckpt}", cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-4000:]
    from PIL import Image

    files = sorted(out.glob("*.png"))
    names = [f.stem.split("__") for f in files]
    assert len(files) == 6 and all(len(n) == 2 for n in names)
    assert len({c for c, _ in names}) == 2 and len({s for _, s in names}) == 3  # every content x every style
    assert all(Image.open(f).size == (32, 32) for f in files)
