"""experiments/slurm/train.sbatch, run with a fake ``srun`` that records its arguments.

Checks the SLURM directives, the per-node-count scaling, the run directory tied to the job id
(so a requeued job finds its checkpoints), resuming from the newest checkpoint, and that the
recorded ``stylekernel fit`` command parses.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
import yaml

from stylekernel.cli import main

from ._cli import ROOT, lookup, run

SBATCH = ROOT / "experiments" / "slurm" / "train.sbatch"


def _sbatch(tmp_path: Path, *args: str, nnodes: int = 2, job_id: int = 4242) -> list[str]:
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    srun = fake / "srun"
    srun.write_text('#!/bin/bash\nprintf "%s\\n" "$@" > "$SRUN_ARGS"\n')
    srun.chmod(0o755)
    env = {
        "PATH": os.pathsep.join([str(fake), str(Path(sys.executable).parent), os.environ["PATH"]]),
        "PYTHON": sys.executable,
        "SLURM_SUBMIT_DIR": str(ROOT),
        "SLURM_JOB_ID": str(job_id),
        "SLURM_JOB_NAME": "stylekernel",
        "SLURM_NNODES": str(nnodes),
        "RUN_ROOT": str(tmp_path / "runs"),
        "SRUN_ARGS": str(tmp_path / "srun_args.txt"),
    }
    res = run(["bash", str(SBATCH), *args], cwd=tmp_path, env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    return (tmp_path / "srun_args.txt").read_text().splitlines()


def _printed(argv: list[str], capsys, monkeypatch) -> dict:  # type: ignore[no-untyped-def,type-arg]
    assert argv[:3] == ["--kill-on-bad-exit=1", "stylekernel", "fit"]
    monkeypatch.chdir(ROOT)  # sbatch is submitted from the repository root
    with pytest.raises(SystemExit) as info:
        main([*argv[2:], "--print_config"])
    captured = capsys.readouterr()
    assert info.value.code in (0, None), captured.err[-2000:]
    return yaml.safe_load(captured.out)


def test_directives_and_syntax() -> None:
    text = SBATCH.read_text()
    for directive in ("--ntasks-per-node=8", "--gpus-per-node=8", "--signal=USR1@", "--requeue", "--open-mode=append"):
        assert f"#SBATCH {directive}" in text, directive
    assert "srun --kill-on-bad-exit=1 stylekernel fit" in text
    assert run(["bash", "-n", str(SBATCH)], cwd=ROOT).returncode == 0


@pytest.mark.parametrize("nnodes", [2, 4])
def test_command_scales_with_the_node_count_and_parses(nnodes: int, tmp_path: Path, capsys, monkeypatch) -> None:
    printed = _printed(_sbatch(tmp_path, nnodes=nnodes), capsys, monkeypatch)
    world = 8 * nnodes
    assert lookup(printed, "trainer.num_nodes") == nnodes and str(lookup(printed, "trainer.devices")) == "8"
    assert lookup(printed, "model.init_args.optimizer.init_args.lr") == pytest.approx(1e-4 * world)
    assert lookup(printed, "model.init_args.lr_scheduler.init_args.decay") == pytest.approx(5e-5 * world)
    assert lookup(printed, "trainer.max_steps") == round(160000 / world)
    assert lookup(printed, "trainer.val_check_interval") == round(5000 / world)
    assert lookup(printed, "checkpoint.every_n_train_steps") == round(5000 / world)  # not multinode.yaml's 312 at 4 nodes
    assert lookup(printed, "trainer.strategy") == "ddp"
    logger = lookup(printed, "trainer.logger.init_args")
    assert logger["name"] == "stylekernel" and logger["version"] == "slurm-4242"
    assert logger["save_dir"] == str(tmp_path / "runs")
    assert lookup(printed, "trainer.default_root_dir") == str(tmp_path / "runs" / "stylekernel" / "slurm-4242")
    assert printed["ckpt_path"] is None


def test_script_arguments_come_last(tmp_path: Path, capsys, monkeypatch) -> None:
    argv = _sbatch(tmp_path, "--trainer.max_steps=7", "--model.init_args.optimizer.init_args.lr=0.01")
    printed = _printed(argv, capsys, monkeypatch)
    assert printed["trainer"]["max_steps"] == 7 and lookup(printed, "model.init_args.optimizer.init_args.lr") == 0.01


def test_requeued_job_resumes_from_the_newest_checkpoint(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "stylekernel" / "slurm-4242"
    last = run_dir / "checkpoints" / "last.ckpt"
    hpc = run_dir / "hpc_ckpt_1.ckpt"  # Lightning's SIGUSR1 checkpoint (in default_root_dir)
    last.parent.mkdir(parents=True)
    last.write_bytes(b"")
    hpc.write_bytes(b"")
    now = time.time()
    os.utime(last, (now - 100, now - 100))
    assert f"--ckpt_path={hpc}" in _sbatch(tmp_path)
    os.utime(last, (now + 100, now + 100))
    assert f"--ckpt_path={last}" in _sbatch(tmp_path)
    assert not any(a.startswith("--ckpt_path") for a in _sbatch(tmp_path, job_id=7))  # another job: fresh
