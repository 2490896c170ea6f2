"""W&B sweeps: every sweep file is well formed, and every value it can sample is accepted by the CLI.

A sweep that dies on a bad key or value after it was queued on a cluster wastes the queue: here
each sweep's parameters are sampled (every categorical value, both ends of every range, and random
draws; the full grid for grid sweeps), expanded into the exact argv a ``wandb agent`` runs (wandb's
own macro code), parsed by ``stylekernel fit ... --print_config``, and the covering points are
also instantiated on the tiny quickstart and run through the losses once.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
import torch
import yaml

from stylekernel.cli import main
from stylekernel.lightning_cli import run_lightning_cli

from ._cli import QUICKSTART, ROOT, TINY, lookup
from ._sweeps import agent_command, covering_points, distribution, grid, sample

SWEEP_DIR = ROOT / "experiments" / "sweeps"
SWEEPS = sorted(p for p in SWEEP_DIR.glob("*.yaml") if "parameters" in (yaml.safe_load(p.read_text()) or {}))
CLI_ROOTS = ("model.", "data.", "trainer.", "seed_everything")
# metrics a sweep may optimise: what StyleTransferModule logs
TERMS = ("loss", "content", "style", "identity1", "identity2")
LOGGED = {f"{stage}/{term}" for stage in ("train", "val") for term in TERMS}
RANDOM_DRAWS = 3


def _ids(path: Path) -> str:
    return path.name


def _load(path: Path) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(path.read_text())


def test_the_three_sweeps_exist() -> None:
    assert {p.stem for p in SWEEPS} >= {"lr", "loss_weights", "architecture"}


@pytest.mark.parametrize("path", SWEEPS, ids=_ids)
def test_sweep_is_well_formed(path: Path) -> None:
    sweep = _load(path)
    assert sweep["method"] in ("grid", "random", "bayes")
    assert sweep.get("program"), "wandb requires `program` (unused by the command, shown in the UI)"
    for name, spec in sweep["parameters"].items():
        assert name.startswith(CLI_ROOTS), f"{name}: sweep parameters must be LightningCLI keys"
        dist = distribution(spec)  # raises on nested parameters or unknown specs
        if sweep["method"] == "grid":
            assert dist in ("constant", "categorical"), f"{name}: grid sweeps need value/values"
    if sweep["method"] == "bayes":
        assert "metric" in sweep, "bayes needs a metric"
    if "metric" in sweep:
        assert sweep["metric"]["name"] in LOGGED and sweep["metric"]["goal"] in ("minimize", "maximize")
    command = [str(c) for c in sweep["command"]]
    assert command[:3] == ["${env}", "stylekernel", "fit"] and command[-1] == "${args}"
    assert [c for c in command if c.startswith("${")] == ["${env}", "${args}"]
    configs = [command[i + 1] for i, c in enumerate(command) if c == "--config"]
    assert configs, "the command must name its configs"
    for config in configs:
        assert (ROOT / config).is_file(), f"{config} (paths are relative to the repository root)"


def _points(sweep: dict) -> list[dict]:  # type: ignore[type-arg]
    parameters = sweep["parameters"]
    if sweep["method"] == "grid":
        return grid(parameters)
    rng = random.Random(0)
    return covering_points(parameters) + [sample(parameters, rng) for _ in range(RANDOM_DRAWS)]


def _same(printed, sampled) -> bool:  # type: ignore[no-untyped-def]
    if isinstance(sampled, float) and not isinstance(printed, bool):
        return math.isclose(float(printed), sampled, rel_tol=1e-12)
    return printed == sampled


@pytest.mark.parametrize("path", SWEEPS, ids=_ids)
def test_every_sampled_command_parses(path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)  # `wandb agent` is started from the repository root
    sweep = _load(path)
    for point in _points(sweep):
        argv = agent_command(sweep, point)
        assert argv[:3] == ["/usr/bin/env", "stylekernel", "fit"]
        with pytest.raises(SystemExit) as info:
            main([*argv[2:], "--print_config"])
        captured = capsys.readouterr()
        assert info.value.code in (0, None), f"{argv}\n{captured.err[-2000:]}"
        printed = yaml.safe_load(captured.out)
        for key, value in point.items():
            assert _same(lookup(printed, key), value), (key, lookup(printed, key), value)


@pytest.mark.parametrize("path", SWEEPS, ids=_ids)
def test_covering_points_build_and_compute_losses(path: Path, tmp_path: Path, monkeypatch) -> None:
    """Constructor checks (e.g. groups | 512, odd kernel size) run only at instantiation."""
    monkeypatch.chdir(tmp_path)
    sweep = _load(path)
    torch.manual_seed(0)
    content, style = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    for point in covering_points(sweep["parameters"]):
        args = [a for a in agent_command(sweep, point) if a.startswith(tuple(f"--{r}" for r in CLI_ROOTS))]
        cli = run_lightning_cli(
            ["--config", str(QUICKSTART), *TINY, *args, "--trainer.logger=false", "--trainer.callbacks=[]"], run=False
        )
        with torch.no_grad():
            terms, output = cli.model.compute_losses(content, style)
        assert output.shape == content.shape and torch.isfinite(terms["loss"]), point
