"""The evaluation runner: stylise every pair (or read stylised files), score, and write the reports.

One image's path through :func:`evaluate`:

1. :func:`plan` resolves the pairs (``pairing.py``) and the FID style set, and checks, before
   any network is loaded, everything a user can get wrong: the pairing, enough images for each
   requested metric, every weight file the run reads (LPIPS backbone, art Inception, the VGG19 of
   the losses), a writable output folder. Each failure is one :class:`ConfigError` line.
2. :func:`run_rank` runs in each process (one, or ``devices`` started by Lightning Fabric, see
   ``distributed.py``) on its round-robin shard of the pairs. Every content and style image is
   decoded, resized (only when asked: ``size``) and encoded once (``sides.py``): the network's
   encoding (checkpoint mode, through :class:`stylekernel.engine.StylizationEngine`, the engine of
   ``stylekernel stylize`` and ``predict``), its LPIPS and VGG features, its art-Inception features. Pairs are
   stylised in batches from those encodings, clamped and rounded to 8 bits (what the written PNG
   holds), and scored: LPIPS and FID's stylised set (:class:`ArtFID`), content/style loss, SSIM.
   ``compute()`` sums the metric states over processes; rank 0 writes ``per_pair.csv``,
   ``summary.json`` and ``summary.md`` (and logs them to the configured logger).

Stylised images are always scored as stored (in checkpoint mode: as written), so re-scoring a
saved folder with ``--stylized-dir`` gives the same numbers. Each phase's wall time is recorded
(``cost_seconds``; the device is synchronised at phase boundaries).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import platform
import subprocess
import sys
import time
from contextlib import contextmanager
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
from stylekernel_eval.sides import ContentCache, ContentSide, ResizeLog, StyleSide, cat_sides, style_blocks
from stylekernel_eval.timing import benchmark, synchronize

PACKAGES = ("stylekernel", "torch", "torchvision", "lightning", "torchmetrics", "lpips", "piq", "numpy", "scipy", "pillow")
LOSS_ENCODER_FILES = {"torchvision": "vgg19", "vgg_normalised": "vgg_normalised"}  # VGGEncoder weight names -> files


@dataclass
class Plan:
    """What one evaluation covers: the pairs, the FID style set, and their fingerprints."""

    pairs: list[Pair]
    style_set: list[Path]
    fingerprints: dict[str, str]
    notes: list[str] = field(default_factory=list)
    style_folder: list[Path] = field(default_factory=list)  # every image of the style folder


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


def required_weight_files(config: EvalConfig) -> list[str]:
    """Registry names or paths of every weight file the run reads (the checkpoint aside)."""
    names = [BACKBONE_WEIGHTS[config.lpips_net], config.inception_weights]
    if config.loss_encoder in LOSS_ENCODER_FILES:
        names.append(LOSS_ENCODER_FILES[config.loss_encoder])
    elif config.loss_encoder not in ("random", "auto", "net"):
        names.append(config.loss_encoder)
    return names


def check_weight_files(config: EvalConfig) -> None:
    """Every weight file present (registry files are downloaded unless offline); one line otherwise."""
    for name in required_weight_files(config):
        if name in weight_files.REGISTRY:
            weight_files.resolve(name)
        elif not Path(name).expanduser().is_file():
            raise ConfigError(f"weight file {name} does not exist")


def check_counts(config: EvalConfig, n_stylised: int, n_style: int) -> None:
    """Enough images for each requested metric: FID needs >= 2 per set, FID_inf more than its minimum."""
    if n_stylised < 2 or n_style < 2:
        raise ConfigError(f"FID needs at least 2 images per set, got {n_stylised} stylised and {n_style} style images "
                          f"(style_set {config.style_set})")
    if config.fid_variant == "fid_inf" and n_stylised <= config.fid_inf_min_size:
        raise ConfigError(f"FID_inf needs more than fid_inf_min_size={config.fid_inf_min_size} pairs, got {n_stylised} "
                          "(use fid_variant: fid, or lower fid_inf_min_size)")


def check_output(folder: str | os.PathLike[str]) -> None:
    """The output folder exists and is writable, or can be created (nothing is created here)."""
    out = Path(folder).expanduser()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output {out} exists and is not a folder")
    existing = out
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"output folder {out} is not writable ({existing} does not allow writing)")


def plan(config: EvalConfig) -> Plan:
    """Resolve pairs and the FID style set from ``config`` (validated); run every check of step 1."""
    content_dir, style_dir = Path(config.content_dir or ""), Path(config.style_dir or "")
    notes: list[str] = []
    check_output(config.output)
    if config.stylized_dir is not None:
        pairs = pair_stylised_dir(config.stylized_dir, content_dir, style_dir, config.pairing)
    elif config.pairs_file is not None:
        pairs = read_pairs_file(config.pairs_file, content_dir, style_dir)
    else:
        pairs = all_pairs(list_images(content_dir, "content"), list_images(style_dir, "style"))
    style_folder = list_images(style_dir, "style")
    paired_styles = [p.style for p in pairs if p.style is not None]
    if len(paired_styles) < len(pairs):
        notes.append("pairs have no style image (pairing 'sorted' with unequal counts): no style loss; FID style set = "
                     "the whole style folder")
        if config.style_set == "per_pair":
            raise ConfigError("style_set per_pair needs a style image for every stylised image")
        style_set = style_folder
    else:
        style_set = list(dict.fromkeys(paired_styles)) if config.style_set == "unique" else paired_styles
    check_counts(config, len(pairs), len(style_set))
    check_weight_files(config)
    fingerprints = {
        "content": fingerprint([p.content for p in pairs]),
        "style": fingerprint(style_set),
        "pairs": _pairs_fingerprint(pairs),
    }
    if config.stylized_dir is not None:
        fingerprints["stylised"] = fingerprint([p.stylised for p in pairs if p.stylised is not None])
    return Plan(pairs=pairs, style_set=style_set, fingerprints=fingerprints, notes=notes, style_folder=style_folder)


def _device(config: EvalConfig) -> torch.device:
    from stylekernel.engine import resolve_device

    return resolve_device(config.accelerator)


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


class _Scorer:
    """One process's scoring loop: prepares the sides once, stylises or reads pairs in batches, updates metrics."""

    def __init__(self, config: EvalConfig, metrics: dict[str, Any], stylizer: Any, device: torch.device,
                 timer: PhaseTimer, output: Path) -> None:
        self.config, self.metrics, self.stylizer, self.device, self.timer = config, metrics, stylizer, device, timer
        self.output = output
        self.log = ResizeLog()
        self.art: ArtFID = metrics["art_fid"]
        self.losses: PerceptualLosses | None = metrics.get("losses")
        self.contents = ContentCache(self._content_side, size=config.size, crop=config.crop, log=self.log,
                                     maxsize=config.batch_size + 1)
        self.rows: list[dict[str, Any]] = []

    # --- the sides ------------------------------------------------------------------------
    def _content_side(self, path: Path, x: Tensor, hw: tuple[int, int]) -> ContentSide:
        x = x.unsqueeze(0).to(self.device)
        with self.timer("encode"):
            net = self.stylizer.encode_content_batch(x) if self.stylizer is not None else None
            vgg = self.losses.content_side(x) if self.losses is not None else None
            return ContentSide(image=x, lpips=self.art.lpips.content_features(x), vgg=vgg, net=net)

    def style_side(self, path: Path, *, full: bool, inception: bool) -> StyleSide:
        """Decode and encode one style image: everything the pairs need (``full``) and/or its Inception features."""
        with self.timer("load"):
            x, stored = images.load_tensor(path, size=self.config.size, crop=self.config.crop)
        self.log.record("style", path.name, stored, tuple(x.shape[-2:]))  # type: ignore[arg-type]
        x = x.unsqueeze(0).to(self.device)
        with self.timer("encode"):
            feats = self.art.fid.features(x) if inception else None
            net = self.stylizer.encode_style_batch(x) if full and self.stylizer is not None else None
            losses = self.losses.style_side(x) if full and self.losses is not None else None
        return StyleSide(shape=tuple(x.shape[-2:]), losses=losses, inception=feats, net=net)  # type: ignore[arg-type]

    # --- the pairs ------------------------------------------------------------------------
    def _items(self, pairs: list[Pair], block: dict[Path, StyleSide]) -> Iterator[tuple[Pair, tuple[Any, ...], Any]]:
        """(pair, batch key, stored stylised image or the content side), lazily: one batch of decoded stylised
        files at a time. (Content sides are built here, in pair order, because batching reads one item ahead.)"""
        for p in pairs:
            if p.stylised is not None:
                with self.timer("load"):
                    x, _ = images.load_tensor(p.stylised)  # scored as stored
                yield p, ("file", tuple(x.shape[-2:])), x
            else:
                side = self.contents(p.content)
                yield p, ("net", tuple(side.image.shape[-2:]), block[p.style].shape), side  # type: ignore[index]

    def run_block(self, pairs: list[Pair], block: dict[Path, StyleSide], bar: Any) -> None:
        """Score every pair of ``pairs`` (sorted by content) whose style side is in ``block``."""
        key = lambda item: item[1]  # noqa: E731
        for group in images.batches(self._items(pairs, block), self.config.batch_size, key):
            batch = [p for p, _, _ in group]
            if group[0][1][0] == "file":  # stylised files: score at their size, content matched to it
                stylised = torch.stack([x for _, _, x in group]).to(self.device)
                c_sides = [self.contents(p.content, tuple(stylised.shape[-2:])) for p in batch]  # type: ignore[arg-type]
            else:
                c_sides = [side for _, _, side in group]
                s_net = cat_sides([block[p.style].net for p in batch])  # type: ignore[index]
                with self.timer("stylize"):
                    out = self.stylizer.stylize_encoded(cat_sides([c.net for c in c_sides]), s_net,
                                                        size=tuple(c_sides[0].image.shape[-2:]), alpha=self.config.alpha)
                    stylised = images.quantize(out) if self.config.quantize else out
                if self.config.save_images:
                    with self.timer("save"):
                        for p, x in zip(batch, stylised):
                            images.save_image(x, self.output / "stylised" / p.name, overwrite=True)
            s_sides = [block[p.style] for p in batch] if batch[0].style is not None else None
            self._score(batch, stylised, c_sides, s_sides)
            bar.update(len(batch))

    def _score(self, batch: list[Pair], stylised: Tensor, c_sides: list[ContentSide], s_sides: list[StyleSide] | None) -> None:
        index = torch.tensor([p.index for p in batch], device=self.device)
        with self.timer("lpips"):
            self.art.lpips.update(stylised, content_features=cat_sides([c.lpips for c in c_sides]))
        with self.timer("inception"):
            self.art.fid.update(stylised, real=False, index=index)
            if self.config.style_set == "per_pair" and s_sides is not None:
                self.art.fid.update_features(cat_sides([s.inception for s in s_sides]), real=True, index=index)
        values: dict[str, Tensor] = dict(self.art.lpips.last_scores)
        if self.losses is not None and s_sides is not None:
            with self.timer("losses"):
                self.losses.update(stylised, content_side=cat_sides([c.vgg for c in c_sides]),
                                   style_side=cat_sides([s.losses for s in s_sides]))
            values.update(self.losses.last_scores)
        if "ssim" in self.metrics:
            with self.timer("ssim"):
                self.metrics["ssim"].update(stylised, cat_sides([c.image for c in c_sides]))
            values.update(self.metrics["ssim"].last_scores)
        for k, p in enumerate(batch):
            row: dict[str, Any] = {"index": p.index, "stylised": p.name, "content": p.content.name,
                                   "style": p.style.name if p.style else ""}
            row.update({name: float(v[k]) for name, v in values.items()})
            self.rows.append(row)


def score_shard(scorer: _Scorer, my_pairs: list[Pair], my_style_set: list[tuple[int, Path]], progress: bool,
                desc: str) -> None:
    """Prepare each style once (in blocks bounded by ``feature_cache_mb``) and score every pair of this shard."""
    config = scorer.config
    order = {p: i for i, p in enumerate(dict.fromkeys(p.content for p in my_pairs))}
    pair_styles = list(dict.fromkeys(p.style for p in my_pairs if p.style is not None))
    unique_index = {path: i for i, path in my_style_set} if config.style_set == "unique" else {}
    per_pair = config.style_set == "per_pair"

    def prepare(path: Path) -> StyleSide:
        side = scorer.style_side(path, full=True, inception=per_pair or path in unique_index)
        if path in unique_index:  # FID's style set: each distinct style image once, on the process owning it
            with scorer.timer("inception"):
                scorer.art.fid.update_features(side.inception, real=True,  # type: ignore[arg-type]
                                               index=torch.tensor([unique_index[path]], device=scorer.device))
        return side

    bar = tqdm(total=len(my_pairs), desc=desc, disable=not progress)
    no_style = [p for p in my_pairs if p.style is None]
    if no_style:
        scorer.run_block(sorted(no_style, key=lambda p: (order[p.content], p.index)), {}, bar)
    for block in style_blocks(pair_styles, prepare, int(config.feature_cache_mb * 2**20)):
        todo = sorted((p for p in my_pairs if p.style in block), key=lambda p: (order[p.content], p.index))
        scorer.run_block(todo, block, bar)
    bar.close()
    for i, path in my_style_set:  # style-set images no pair of this process uses
        if path not in pair_styles and path in unique_index:
            side = scorer.style_side(path, full=False, inception=True)
            with scorer.timer("inception"):
                scorer.art.fid.update_features(side.inception, real=True, index=torch.tensor([i], device=scorer.device))  # type: ignore[arg-type]


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
                f"stylised images {'as stored' if config.mode == 'stylized_dir' else 'as written'}, style images "
                f"{'as stored' if config.size is None else f'after the size rule (shorter side {config.size})'}, "
                f"Inception input {'not resized' if config.fid_resize is None else f'resized to {config.fid_resize}'}")
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


FILTERS = {
    "content": "PIL bicubic (antialiased) to shorter side {size}{crop}",
    "style": "PIL bicubic (antialiased) to shorter side {size}{crop}",
    "content_to_stylised": "PIL bicubic on the 8-bit image, to the stylised image's size (LPIPS and SSIM need equal sizes)",
}


def resizing_record(config: EvalConfig, log: ResizeLog, the_plan: Plan) -> dict[str, Any]:
    """What was resized, to what, with which filter; and whether the figure is the reference's."""
    crop = f", centre {config.size}x{config.size} crop" if config.crop else ""
    record: dict[str, Any] = {"stylised": "as stored (never resized)" if config.mode == "stylized_dir"
                              else "as written (the saved PNGs), never resized"}
    differences: list[str] = []
    for role in ("content", "style", "content_to_stylised"):
        changed = dict(sorted(log.changed.get(role, {}).items()))
        n_seen = len(log.seen.get(role, ()))
        entry: dict[str, Any] = {"changed": len(changed), "of": n_seen,
                                 "files": {k: {"stored_hw": list(a), "used_hw": list(b)} for k, (a, b) in changed.items()}}
        if role in ("content", "style"):
            entry["rule"] = "as stored" if config.size is None else FILTERS[role].format(size=config.size, crop=crop)
        else:
            entry["rule"] = FILTERS[role]
        record[role] = entry
        if changed:
            what = {"content": "content images", "style": "style images",
                    "content_to_stylised": "content images resized to their stylised image's size"}[role]
            differences.append(f"{len(changed)} of {n_seen} {what} changed ({entry['rule']})")
    record["inception"] = ("as stored" if config.fid_resize is None else
                           f"every stylised and style image resized to {config.fid_resize}x{config.fid_resize} "
                           "(bilinear, antialiased) for Inception")
    if config.fid_resize is not None:
        differences.append(f"Inception inputs resized to {config.fid_resize}x{config.fid_resize}")
    if config.style_set != "unique":
        differences.append("FID style set: one style image per stylised image (style_set per_pair), the reference "
                           "uses each file of the style folder once")
    elif set(the_plan.style_set) != set(the_plan.style_folder):
        differences.append(f"FID style set: the {len(the_plan.style_set)} style images the pairs use, the reference "
                           f"uses all {len(the_plan.style_folder)} files of the style folder")
    record["reference_exact"] = not differences
    record["differences"] = differences
    record["statement"] = ("every image as stored, as the ArtFID reference (art-fid) reads them: the reference's figure"
                           if not differences else "NOT the reference's figure: " + "; ".join(differences))
    return record


def _timing_fn(stylizer: Any, alpha: float) -> Any:
    """``fn(content, style)`` timed by the benchmark: encode both, transform, decode (the stylization engine)."""

    def run(content: Tensor, style: Tensor) -> Tensor:
        fc = stylizer.encode_content_batch(content)
        fs = stylizer.encode_style_batch(style)
        return stylizer.stylize_encoded(fc, fs, size=tuple(content.shape[-2:]), alpha=alpha)

    return run


def run_rank(proc: distributed.Proc, config: EvalConfig, the_plan: Plan, net: StyleTransferNet | None = None) -> dict[str, Any] | None:
    """Evaluate this process's shard; on rank 0 write the reports and return the summary."""
    from stylekernel.engine import StylizationEngine

    t_start = time.perf_counter()
    rank, world, device = proc.rank, proc.world_size, proc.device
    progress = config.progress and rank == 0
    timer = PhaseTimer(device)
    with timer("setup"):
        stylizer = None
        if config.stylized_dir is None:
            if net is None:
                from stylekernel.checkpoint import load_net

                net = load_net(config.checkpoint or "")
            stylizer = StylizationEngine(net, device=device, precision=str(config.precision), feature_cache_bytes=0)
        # seeded here, after the network is loaded (in this process or the caller's), so that
        # anything random the metrics build (e.g. loss_encoder: random) is the same in every run
        torch.manual_seed(config.seed)
        np.random.seed(config.seed)
        with_losses = all(p.style is not None for p in the_plan.pairs)
        metrics = _build_metrics(config, stylizer.net if stylizer is not None else None, device, with_losses)
    output = Path(config.output)
    scorer = _Scorer(config, metrics, stylizer, device, timer, output)
    style_set = list(enumerate(the_plan.style_set))
    score_shard(scorer, distributed.shard(the_plan.pairs, rank, world),
                distributed.shard(style_set, rank, world) if config.style_set == "unique" else [], progress,
                f"pairs (rank {rank}/{world})")
    with timer("compute"):
        art = metrics["art_fid"]  # its parts were updated one by one (to time them): compute the parts
        results: dict[str, Any] = {"art_fid": combine(art.lpips.compute(), art.fid.compute())}
        for name in ("losses", "ssim"):
            if name in metrics:
                results.update({k: v for k, v in metrics[name].compute().items()})
        results["count"] = results["art_fid"]["n_fake"]
    gathered = proc.gather((scorer.rows, scorer.log))
    timing: dict[str, Any] | None
    if stylizer is None:
        timing = {"applies": False, "note": "timing does not apply in --stylized-dir mode: no network runs"}
    elif config.timing and rank == 0:
        timing = benchmark(_timing_fn(stylizer, config.alpha), sizes=config.timing_sizes,
                           batch_size=config.timing_batch_size, warmup=config.timing_warmup, runs=config.timing_runs,
                           device=device, precision=str(config.precision), progress=progress).to_dict()
    else:
        timing = None
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
        "metrics": _metric_entries(results, config),
        "n_pairs": len(all_rows),
        "mode": config.mode,
        "resizing": resizing_record(config, log, the_plan),
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
    from stylekernel_eval.tracking import build_logger, log_evaluation

    log_evaluation(build_logger(config), summary, all_rows)
    return summary


def evaluate(config: EvalConfig, net: StyleTransferNet | None = None) -> dict[str, Any]:
    """Run the whole evaluation (``config.devices`` processes) and return the summary dict.

    ``net`` replaces ``config.checkpoint`` in checkpoint mode (a :class:`StyleTransferNet`; with
    several devices it is pickled to each process, so its class must be importable).
    """
    if net is not None and config.checkpoint is None and config.stylized_dir is None:
        config = dataclasses.replace(config, checkpoint=f"<in-memory {type(net).__name__}>")
    config.validate()
    device = _device(config)
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
