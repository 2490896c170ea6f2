"""The evaluation runner: stylise every pair (or read stylised files), score, and write the reports.

One image's path through :func:`evaluate`:

1. :func:`plan` resolves the pairs (``pairing.py``), the FID style set and the fingerprints, and
   checks that every weight file is present, in the calling process (so errors are one line).
2. :func:`run_rank` runs in each process (one, or ``devices`` spawned ones): it takes its
   round-robin shard of the pairs, loads content and style images, stylises them with the
   network (or decodes the stylised file), clamps and rounds to 8 bits, and updates the metrics:
   LPIPS and the FID's stylised set (:class:`ArtFID`), content/style loss, SSIM. Then it adds
   its shard of the style set to the FID. ``compute()`` sums the metric states over processes;
   the per-pair rows are gathered to rank 0, which writes ``per_pair.csv``, ``summary.json`` and
   ``summary.md`` (and the timing benchmark, if asked).

Each phase's wall time is recorded (``cost_seconds``: load, stylize, lpips, inception, losses,
ssim, save, compute; the device is synchronised at phase boundaries).
"""

from __future__ import annotations

import dataclasses
import hashlib
import platform
import subprocess
import sys
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from stylekernel import weights as weight_files
from stylekernel.errors import ConfigError
from stylekernel.nn.base import StyleTransferNet

from stylekernel_eval import distributed, images, report
from stylekernel_eval.metrics.artfid import ArtFID, combine
from stylekernel_eval.metrics.lpips import BACKBONE_WEIGHTS
from stylekernel_eval.metrics.perceptual_losses import PerceptualLosses
from stylekernel_eval.metrics.ssim import SSIM
from stylekernel_eval.pairing import Pair, all_pairs, fingerprint, list_images, pair_stylised_dir, read_pairs_file
from stylekernel_eval.protocol import EvalConfig
from stylekernel_eval.timing import benchmark, synchronize

AUTOCAST = {"32": None, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}
PACKAGES = ("stylekernel", "torch", "torchvision", "lightning", "torchmetrics", "lpips", "piq", "numpy", "scipy", "pillow")


@dataclass
class Plan:
    """What one evaluation covers: the pairs, the FID style set, and their fingerprints."""

    pairs: list[Pair]
    style_set: list[Path]
    fingerprints: dict[str, str]
    notes: list[str] = field(default_factory=list)


class PhaseTimer:
    """Wall seconds per named phase; the device is synchronised at both ends of each phase."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        synchronize(self.device)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            synchronize(self.device)
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0


def _pairs_fingerprint(pairs: list[Pair]) -> str:
    text = "\n".join(f"{p.index},{p.content.name},{p.style.name if p.style else ''},{p.name}" for p in pairs)
    return hashlib.sha256(text.encode()).hexdigest()


def plan(config: EvalConfig) -> Plan:
    """Resolve pairs and the FID style set from ``config`` (validated); check weight files exist."""
    content_dir, style_dir = Path(config.content_dir or ""), Path(config.style_dir or "")
    notes: list[str] = []
    if config.stylized_dir is not None:
        pairs = pair_stylised_dir(config.stylized_dir, content_dir, style_dir, config.pairing)
    elif config.pairs_file is not None:
        pairs = read_pairs_file(config.pairs_file, content_dir, style_dir)
    else:
        pairs = all_pairs(list_images(content_dir, "content"), list_images(style_dir, "style"))
    paired_styles = [p.style for p in pairs if p.style is not None]
    if len(paired_styles) < len(pairs):
        notes.append("pairs have no style image (pairing 'sorted' with unequal counts): no style loss; FID style set = "
                     "the whole style folder")
        if config.style_set == "per_pair":
            raise ConfigError("style_set per_pair needs a style image for every stylised image")
        style_set = list_images(style_dir, "style")
    else:
        style_set = list(dict.fromkeys(paired_styles)) if config.style_set == "unique" else paired_styles
    fingerprints = {
        "content": fingerprint([p.content for p in pairs]),
        "style": fingerprint(style_set),
        "pairs": _pairs_fingerprint(pairs),
    }
    if config.stylized_dir is not None:
        fingerprints["stylised"] = fingerprint([p.stylised for p in pairs if p.stylised is not None])
    for name in (BACKBONE_WEIGHTS[config.lpips_net], config.inception_weights):
        if name in weight_files.REGISTRY:
            weight_files.resolve(name)
        elif not Path(name).expanduser().is_file():
            raise ConfigError(f"weight file {name} does not exist")
    return Plan(pairs=pairs, style_set=style_set, fingerprints=fingerprints, notes=notes)


def _device(config: EvalConfig, rank: int) -> torch.device:
    use_cuda = config.accelerator == "cuda" or (config.accelerator == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        raise ConfigError("accelerator cuda was asked for but CUDA is not available")
    return torch.device("cuda", rank % max(1, torch.cuda.device_count())) if use_cuda else torch.device("cpu")


def _load_net(config: EvalConfig, net: StyleTransferNet | None) -> StyleTransferNet | None:
    if config.stylized_dir is not None:
        return None
    if net is not None:
        return net
    from stylekernel.checkpoint import load_net

    return load_net(config.checkpoint or "")


def _build_metrics(config: EvalConfig, net: StyleTransferNet | None, device: torch.device, with_losses: bool) -> dict[str, Any]:
    metrics: dict[str, Any] = {
        "art_fid": ArtFID(
            lpips_net=config.lpips_net,
            inception_weights=config.inception_weights,
            fid_resize=config.fid_resize,
            variant=config.fid_variant,
            fid_inf_points=config.fid_inf_points,
            fid_inf_min_size=config.fid_inf_min_size,
            seed=config.seed,
        )
    }
    if with_losses:
        if config.loss_encoder == "net":
            if net is None:
                raise ConfigError("loss_encoder 'net' needs a network (--checkpoint mode)")
            metrics["losses"] = PerceptualLosses(encoder=net.encoder, gram=config.gram)
        else:
            metrics["losses"] = PerceptualLosses(encoder_weights=config.loss_encoder, gram=config.gram)
    if config.ssim:
        metrics["ssim"] = SSIM()
    return {k: m.to(device) for k, m in metrics.items()}


@dataclass
class _Batch:
    pairs: list[Pair]
    stylised: Tensor
    content: Tensor
    style: Tensor | None


def _stack(xs: list[Tensor], device: torch.device) -> Tensor:
    return torch.stack(xs).to(device)


def _produce(
    config: EvalConfig,
    net: StyleTransferNet | None,
    pairs: list[Pair],
    device: torch.device,
    timer: PhaseTimer,
) -> Iterator[_Batch]:
    """Batches of (stylised, content, style) for ``pairs``: stylised by ``net`` or read from files."""
    stride = net.stride if net is not None else 1
    contents = images.TensorCache(size=config.size, crop=config.crop, multiple_of=stride)
    native = images.TensorCache(maxsize=1, size=None)
    styles = images.TensorCache(size=config.size, crop=config.crop)
    autocast_dtype = AUTOCAST[str(config.precision)]

    def load(p: Pair) -> tuple[Tensor | None, Tensor, Tensor | None]:
        """(stored stylised image or None, content, style or None), each (3, H, W)."""
        s = styles(p.style) if p.style is not None else None
        if p.stylised is None:
            return None, contents(p.content), s
        x = native(p.stylised)  # scored as stored
        return x, images.resize_to(contents(p.content), tuple(x.shape[-2:])), s  # type: ignore[arg-type]

    def stream() -> Iterator[tuple[Pair, tuple[Tensor | None, Tensor, Tensor | None]]]:
        for p in pairs:  # lazily: only one batch of decoded stylised images is held at a time
            with timer("load"):
                item = (p, load(p))
            yield item

    key = lambda item: tuple(None if t is None else tuple(t.shape) for t in item[1])  # noqa: E731
    for group in images.batches(stream(), config.batch_size, key):
        with timer("load"):
            batch_pairs = [p for p, _ in group]
            content = _stack([t[1] for _, t in group], device)
            style = _stack([t[2] for _, t in group], device) if group[0][1][2] is not None else None  # type: ignore[misc]
            stored = _stack([t[0] for _, t in group], device) if net is None else None  # type: ignore[misc]
        if net is not None:
            assert style is not None
            with timer("stylize"), torch.inference_mode():
                ctx = torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype else nullcontext()
                with ctx:
                    out = net(content, style, alpha=config.alpha)
                stylised = out.float().clamp(0, 1)
                stylised = images.quantize(stylised) if config.quantize else stylised
        else:
            assert stored is not None
            stylised = stored
        yield _Batch(batch_pairs, stylised.clone(), content, style)


def _score_batch(batch: _Batch, metrics: dict[str, Any], config: EvalConfig, timer: PhaseTimer) -> list[dict[str, Any]]:
    """Update every metric with one batch; return its per-pair rows."""
    index = torch.tensor([p.index for p in batch.pairs], device=batch.stylised.device)
    art: ArtFID = metrics["art_fid"]
    with timer("lpips"):
        art.lpips.update(batch.stylised, batch.content)
    with timer("inception"):
        art.fid.update(batch.stylised, real=False, index=index)
        if config.style_set == "per_pair" and batch.style is not None:
            art.fid.update(batch.style, real=True, index=index)
    values: dict[str, Tensor] = dict(art.lpips.last_scores)
    if "losses" in metrics and batch.style is not None:
        with timer("losses"):
            metrics["losses"].update(batch.stylised, batch.content, batch.style)
        values.update(metrics["losses"].last_scores)
    if "ssim" in metrics:
        with timer("ssim"):
            metrics["ssim"].update(batch.stylised, batch.content)
        values.update(metrics["ssim"].last_scores)
    rows = []
    for k, p in enumerate(batch.pairs):
        row: dict[str, Any] = {"index": p.index, "stylised": p.name, "content": p.content.name,
                               "style": p.style.name if p.style else ""}
        row.update({name: float(v[k]) for name, v in values.items()})
        rows.append(row)
    return rows


def _add_style_set(style_files: list[Path], offset_indices: list[int], metrics: dict[str, Any], config: EvalConfig,
                   device: torch.device, timer: PhaseTimer, progress: bool) -> None:
    """Add this process's shard of the (unique) FID style set."""
    cache = images.TensorCache(maxsize=1, size=config.size, crop=config.crop)
    items = list(zip(offset_indices, style_files))
    with timer("load"):
        loaded = [(i, cache(f)) for i, f in items]
    for group in tqdm(list(images.batches(loaded, config.batch_size, key=lambda it: tuple(it[1].shape))),
                      desc="style set", disable=not progress):
        x = _stack([t for _, t in group], device)
        with timer("inception"):
            metrics["art_fid"].fid.update(x, real=True, index=torch.tensor([i for i, _ in group], device=device))


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _git() -> dict[str, Any]:
    import stylekernel

    root = Path(stylekernel.__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True, timeout=10).stdout.strip())
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def _metric_entries(results: dict[str, Any], config: EvalConfig) -> dict[str, dict[str, Any]]:
    art = results["art_fid"]
    n = int(results["count"])
    fid_note = (f"art Inception-v3, {art['n_fake']} stylised vs {art['n_real']} style images ({config.style_set}), "
                f"inputs {'as stored' if config.fid_resize is None else f'resized to {config.fid_resize}'}")
    entries: dict[str, dict[str, Any]] = {
        "lpips": {"label": f"LPIPS ({config.lpips_net}, v0.1)", "value": art["lpips"], "n": n,
                  "note": "stylised vs content, lower is better"},
        "fid": {"label": "FID", "value": art["fid"], "variant": "FID", "n_stylised": art["n_fake"],
                "n_style": art["n_real"], "style_set": config.style_set, "inception_resize": config.fid_resize,
                "note": fid_note},
        "art_fid": {"label": "ArtFID (plain FID)", "value": art["art_fid"], "variant": "ArtFID with plain FID",
                    "note": "(1 + LPIPS) x (1 + FID)"},
    }
    if "fid_inf" in art:
        entries["fid_inf"] = {"label": "FID_inf", "value": art["fid_inf"], "variant": "FID_inf",
                              "subset_sizes": art["sizes"], "subset_fids": art["fids"], "seed": art["seed"],
                              "note": "linear fit of FID against 1/N, value at 1/N = 0"}
        entries["art_fid_inf"] = {"label": "ArtFID_inf", "value": art["art_fid_inf"], "variant": "ArtFID with FID_inf",
                                   "note": "(1 + LPIPS) x (1 + FID_inf)"}
    for name in ("content_loss", "style_loss", "gram_loss", "ssim"):
        if name in results:
            entries[name] = {"label": name.replace("_", " "), "value": float(results[name]), "n": n}
    return entries


def run_rank(config: EvalConfig, the_plan: Plan, net: StyleTransferNet | None = None) -> dict[str, Any] | None:
    """Evaluate this process's shard; on rank 0 write the reports and return the summary."""
    t_start = time.perf_counter()
    rank, world = distributed.rank_and_world()
    progress = config.progress and rank == 0
    device = _device(config, rank)
    timer = PhaseTimer(device)
    with timer("setup"):
        model = _load_net(config, net)
        if model is not None:
            model = model.to(device).eval()
        # seeded here, after the network is loaded (in this process or the caller's), so that
        # anything random the metrics build (e.g. loss_encoder: random) is the same in every run
        torch.manual_seed(config.seed)
        np.random.seed(config.seed)
        with_losses = all(p.style is not None for p in the_plan.pairs)
        metrics = _build_metrics(config, model, device, with_losses)
    my_pairs = distributed.shard(the_plan.pairs, rank, world)
    rows: list[dict[str, Any]] = []
    output = Path(config.output)
    bar = tqdm(total=len(my_pairs), desc=f"pairs (rank {rank}/{world})", disable=not progress)
    for batch in _produce(config, model, my_pairs, device, timer):
        rows += _score_batch(batch, metrics, config, timer)
        if config.save_images and model is not None:
            with timer("save"):
                for p, x in zip(batch.pairs, batch.stylised):
                    images.save_png(x, output / "stylised" / p.name)
        bar.update(len(batch.pairs))
    bar.close()
    if config.style_set == "unique":
        indices = list(range(len(the_plan.style_set)))
        _add_style_set(distributed.shard(the_plan.style_set, rank, world), distributed.shard(indices, rank, world),
                       metrics, config, device, timer, progress)
    with timer("compute"):
        art = metrics["art_fid"]  # its parts were updated one by one (to time them): compute the parts
        results: dict[str, Any] = {"art_fid": combine(art.lpips.compute(), art.fid.compute())}
        for name in ("losses", "ssim"):
            if name in metrics:
                results.update({k: v for k, v in metrics[name].compute().items()})
        results["count"] = results["art_fid"]["n_fake"]
    gathered = distributed.gather_to_rank0(rows)
    timing = None
    if config.timing and model is not None and rank == 0:
        dtype = AUTOCAST[str(config.precision)] or torch.float32
        timing = benchmark(model, sizes=config.timing_sizes, batch_size=config.timing_batch_size,
                           warmup=config.timing_warmup, runs=config.timing_runs, device=device, dtype=dtype,
                           progress=progress).to_dict()
    distributed.barrier()
    if rank != 0 or gathered is None:
        return None
    all_rows = sorted((r for part in gathered for r in part), key=lambda r: r["index"])
    if [r["index"] for r in all_rows] != [p.index for p in the_plan.pairs]:
        raise RuntimeError("internal error: the gathered pairs are not exactly the planned pairs")
    timer.seconds["total"] = time.perf_counter() - t_start
    summary = {
        "metrics": _metric_entries(results, config),
        "n_pairs": len(all_rows),
        "mode": config.mode,
        "notes": the_plan.notes,
        "config": config.to_dict(),
        "world_size": world,
        "device": str(device),
        "versions": _versions(),
        "git": _git(),
        "seeds": {"torch": config.seed, "numpy": config.seed, "fid_inf_subsets": config.seed},
        "fingerprints": the_plan.fingerprints,
        "timing": timing,
        "cost_seconds": {k: round(v, 4) for k, v in timer.seconds.items()},
        "command": sys.argv,
    }
    output.mkdir(parents=True, exist_ok=True)
    report.write_csv(all_rows, output / report.PER_PAIR_CSV)
    report.write_json(summary, output / report.SUMMARY_JSON)
    report.write_markdown(summary, output / report.SUMMARY_MD)
    return summary


def evaluate(config: EvalConfig, net: StyleTransferNet | None = None) -> dict[str, Any]:
    """Run the whole evaluation (``config.devices`` processes) and return the summary dict.

    ``net`` replaces ``config.checkpoint`` in checkpoint mode (a :class:`StyleTransferNet`; with
    several devices it is pickled to each process, so its class must be importable).
    """
    if net is not None and config.checkpoint is None and config.stylized_dir is None:
        config = dataclasses.replace(config, checkpoint=f"<in-memory {type(net).__name__}>")
    config.validate()
    the_plan = plan(config)
    if config.stylized_dir is None and net is None:
        from stylekernel.checkpoint import load_net, read_checkpoint

        if config.devices == 1:
            net = load_net(config.checkpoint or "")  # a bad file fails here, as one line
        else:
            read_checkpoint(config.checkpoint or "")  # each process loads its own copy
    if config.devices == 1:
        summary = run_rank(config, the_plan, net)
        assert summary is not None
        return summary
    backend = "nccl" if _device(config, 0).type == "cuda" else "gloo"
    if backend == "nccl" and torch.cuda.device_count() < config.devices:
        raise ConfigError(f"--devices {config.devices} but only {torch.cuda.device_count()} CUDA devices are visible")
    distributed.launch(run_rank, config.devices, backend=backend, args=(config, the_plan, net))
    import json

    return json.loads((Path(config.output) / report.SUMMARY_JSON).read_text())  # type: ignore[no-any-return]
