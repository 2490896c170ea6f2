"""The evaluation runner: plan, stylize (or read stylized files) and score, report. Read top to bottom.

One image's path through :func:`evaluate`:

1. :func:`stylekernel_eval.plan.plan` resolves the pairs and the FID style set and runs every
   check a user can get wrong, before any network is loaded (one :class:`ConfigError` line each).
2. :func:`run_rank` runs in each process (one, or ``devices`` started by Lightning Fabric, see
   ``distributed.py``) on its round-robin shard of the pairs: it builds the stylization engine
   (checkpoint mode: :class:`stylekernel.engine.StylizationEngine`, the engine of ``stylekernel
   stylize`` and ``predict``) and the metrics, and :func:`stylekernel_eval.scoring.score_shard`
   encodes each image once, stylizes the pairs in batches and updates the metrics.
   ``compute()`` sums the metric states over processes.
3. Rank 0 writes ``per_pair.csv``, ``summary.json`` and ``summary.md`` (``report.py``; the
   summary's provenance, resizing statement included, is ``provenance.py``'s) and logs them to
   the configured logger (``tracking.py``).

Stylized images are always scored as stored (in checkpoint mode: as written), so re-scoring a
saved folder with ``--stylized-dir`` gives the same numbers. Each phase's wall time is recorded
(``cost_seconds``; the device is synchronised at phase boundaries).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stylekernel.errors import ConfigError
from stylekernel.nn.base import StyleTransferNet

from stylekernel_eval import distributed, provenance, report
from stylekernel_eval.datamodule_pairs import resolve_data
from stylekernel_eval.plan import Plan, plan
from stylekernel_eval.protocol import EvalConfig
from stylekernel_eval.scoring import PhaseTimer, Scorer, build_metrics, compute_results, score_shard, timing_fn
from stylekernel_eval.sides import ResizeLog
from stylekernel_eval.timing import benchmark

__all__ = ["evaluate", "run_rank"]


def evaluate(config: EvalConfig, net: StyleTransferNet | None = None) -> dict[str, Any]:
    """Run the whole evaluation (``config.devices`` processes) and return the summary dict.

    ``net`` replaces ``config.checkpoint`` in checkpoint mode (a :class:`StyleTransferNet`; with
    several devices it is pickled to each process, so its class must be importable).
    """
    from stylekernel.engine import resolve_device

    if net is not None and config.checkpoint is None and config.stylized_dir is None:
        config = dataclasses.replace(config, checkpoint=f"<in-memory {type(net).__name__}>")
    config.validate()
    config = resolve_data(config)  # --data: the DataModule's test pairs as folders + pairs file (datamodule_pairs.py)
    device = resolve_device(config.accelerator)
    if device.type == "cuda" and config.devices > max(1, torch.cuda.device_count()):
        raise ConfigError(f"--devices {config.devices} but only {torch.cuda.device_count()} CUDA devices are visible")
    the_plan = plan(config)
    if config.stylized_dir is None and net is None:
        from stylekernel.checkpoint import load_net

        # the whole reader (record, state dict, exported folders and Hub ids) runs here, so a bad
        # checkpoint is one line before any process starts; with several processes each loads its own copy
        checked = load_net(config.checkpoint or "")
        net = checked if config.devices == 1 else None
    summary = distributed.launch(run_rank, devices=config.devices, device=device, args=(config, the_plan, net))
    assert summary is not None
    return summary


def run_rank(proc: distributed.Proc, config: EvalConfig, the_plan: Plan, net: StyleTransferNet | None = None) -> dict[str, Any] | None:
    """Evaluate this process's shard; on rank 0 write the reports and return the summary."""
    t_start = time.perf_counter()
    rank, world, device = proc.rank, proc.world_size, proc.device
    progress = config.progress and rank == 0
    timer = PhaseTimer(device)
    with timer("setup"):
        engine = _engine(config, net, device)
        # seeded here, after the network is loaded (in this process or the caller's), so that
        # anything random the metrics build (e.g. loss_encoder: random) is the same in every run
        torch.manual_seed(config.seed)
        np.random.seed(config.seed)
        with_losses = all(p.style is not None for p in the_plan.pairs)
        metrics = build_metrics(config, engine.net if engine is not None else None, device, with_losses)
    output = Path(config.output)
    scorer = Scorer(config, metrics, engine, device, timer, output)
    style_set = list(enumerate(the_plan.style_set))
    score_shard(scorer, distributed.shard(the_plan.pairs, rank, world),
                distributed.shard(style_set, rank, world) if config.style_set == "unique" else [], progress,
                f"pairs (rank {rank}/{world})")
    results = compute_results(metrics, timer)
    gathered = proc.gather((scorer.rows, scorer.log))
    timing = _timing(config, engine, device, rank, progress)
    proc.barrier()
    if rank != 0:
        return None
    all_rows = sorted((r for rows, _ in gathered for r in rows), key=lambda r: r["index"])
    if [r["index"] for r in all_rows] != [p.index for p in the_plan.pairs]:
        raise RuntimeError("internal error: the gathered pairs are not exactly the planned pairs")
    log = ResizeLog()
    for _, part in gathered:
        log.merge(part)
    timer.seconds["total"] = time.perf_counter() - t_start
    summary = {
        "metrics": provenance.metric_entries(results, config),
        "n_pairs": len(all_rows),
        "mode": config.mode,
        "resizing": provenance.resizing_record(config, log, the_plan, fid_sqrtm=results["art_fid"]["sqrtm"]),
        "notes": the_plan.notes,
        "config": config.to_dict(),
        "world_size": world,
        "device": str(device),
        "versions": provenance.versions(),
        "git": provenance.git_state(),
        "seeds": {"torch": config.seed, "numpy": config.seed, "fid_inf_subsets": config.seed},
        "fingerprints": the_plan.fingerprints,
        "timing": timing,
        "cost_seconds": {k: round(v, 4) for k, v in timer.seconds.items()},
        "command": sys.argv,
    }
    _write_reports(config, summary, all_rows, output)
    return summary


def _engine(config: EvalConfig, net: StyleTransferNet | None, device: torch.device) -> Any:
    """The stylization engine of checkpoint mode (None with ``--stylized-dir``: no network runs)."""
    if config.stylized_dir is not None:
        return None
    from stylekernel.engine import StylizationEngine

    if net is None:
        from stylekernel.checkpoint import load_net

        net = load_net(config.checkpoint or "")
    return StylizationEngine(net, device=device, precision=str(config.precision), feature_cache_bytes=0)


def _timing(config: EvalConfig, engine: Any, device: torch.device, rank: int, progress: bool) -> dict[str, Any] | None:
    """The timing record (rank 0, checkpoint mode, when asked); a note that it does not apply without a network."""
    if engine is None:
        return {"applies": False, "note": "timing does not apply in --stylized-dir mode: no network runs"}
    if not (config.timing and rank == 0):
        return None
    return benchmark(timing_fn(engine, config.alpha), sizes=config.timing_sizes, batch_size=config.timing_batch_size,
                     warmup=config.timing_warmup, runs=config.timing_runs, device=device,
                     precision=str(config.precision), progress=progress).to_dict()


def _write_reports(config: EvalConfig, summary: dict[str, Any], rows: list[dict[str, Any]], output: Path) -> None:
    """per_pair.csv, summary.json and summary.md under ``output``; then the configured logger."""
    from stylekernel_eval.tracking import build_logger, log_evaluation

    output.mkdir(parents=True, exist_ok=True)
    report.write_csv(rows, output / report.PER_PAIR_CSV)
    report.write_json(summary, output / report.SUMMARY_JSON)
    report.write_markdown(summary, output / report.SUMMARY_MD)
    log_evaluation(build_logger(config), summary, rows)
