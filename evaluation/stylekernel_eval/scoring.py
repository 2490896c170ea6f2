"""Scoring one process's shard of the plan: the metrics, the style blocks, the batches (step 2 of
``runner.py``).

Every content and style image is decoded, resized (only when asked: ``size``) and encoded once
(``sides.py``): the network's encoding (checkpoint mode, through
:class:`stylekernel.engine.StylizationEngine`, the engine of ``stylekernel stylize`` and
``predict``), its LPIPS and VGG features, its art-Inception features. Styles are prepared in
blocks bounded by ``feature_cache_mb``; within a block, pairs sorted by content are stylized in
batches of equal shapes from those encodings, clamped and rounded to 8 bits (what the written PNG
holds), and scored: LPIPS and FID's stylized set (:class:`ArtFID`), content/style loss, SSIM.
Stylized images are always scored as stored (in checkpoint mode: as written). Each phase's wall
time is recorded by :class:`PhaseTimer` (the device is synchronised at phase boundaries).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import Tensor
from tqdm.auto import tqdm

from stylekernel.errors import ConfigError
from stylekernel.nn.base import StyleTransferNet

from stylekernel_eval import images
from stylekernel_eval.metrics.artfid import ArtFID, combine
from stylekernel_eval.metrics.perceptual_losses import PerceptualLosses
from stylekernel_eval.metrics.ssim import SSIM
from stylekernel_eval.pairing import Pair
from stylekernel_eval.protocol import EvalConfig
from stylekernel_eval.sides import ContentCache, ContentSide, ResizeLog, StyleSide, cat_sides, style_blocks
from stylekernel_eval.timing import synchronize


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


def build_metrics(config: EvalConfig, net: StyleTransferNet | None, device: torch.device, with_losses: bool) -> dict[str, Any]:
    metrics: dict[str, Any] = {
        "art_fid": ArtFID(
            lpips_net=config.lpips_net,
            inception_weights=config.inception_weights,
            fid_resize=config.fid_resize,
            variant=config.fid_variant,
            fid_inf_points=config.fid_inf_points,
            fid_inf_min_size=config.fid_inf_min_size,
            seed=config.seed,
            fid_sqrtm=config.fid_sqrtm,
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


class Scorer:
    """One process's scoring loop: prepares the sides once, stylizes or reads pairs in batches, updates metrics."""

    def __init__(self, config: EvalConfig, metrics: dict[str, Any], engine: Any, device: torch.device,
                 timer: PhaseTimer, output: Path) -> None:
        self.config, self.metrics, self.engine, self.device, self.timer = config, metrics, engine, device, timer
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
            net = self.engine.encode_content_batch(x) if self.engine is not None else None
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
            net = self.engine.encode_style_batch(x) if full and self.engine is not None else None
            losses = self.losses.style_side(x) if full and self.losses is not None else None
        return StyleSide(shape=tuple(x.shape[-2:]), losses=losses, inception=feats, net=net)  # type: ignore[arg-type]

    # --- the pairs ------------------------------------------------------------------------
    def _items(self, pairs: list[Pair], block: dict[Path, StyleSide]) -> Iterator[tuple[Pair, tuple[Any, ...], Any]]:
        """(pair, batch key, stored stylized image or the content side), lazily: one batch of decoded stylized
        files at a time. (Content sides are built here, in pair order, because batching reads one item ahead.)"""
        for p in pairs:
            if p.stylized is not None:
                with self.timer("load"):
                    x, _ = images.load_tensor(p.stylized)  # scored as stored
                yield p, ("file", tuple(x.shape[-2:])), x
            else:
                side = self.contents(p.content)
                yield p, ("net", tuple(side.image.shape[-2:]), block[p.style].shape), side  # type: ignore[index]

    def run_block(self, pairs: list[Pair], block: dict[Path, StyleSide], bar: Any) -> None:
        """Score every pair of ``pairs`` (sorted by content) whose style side is in ``block``."""
        key = lambda item: item[1]  # noqa: E731
        for group in images.batches(self._items(pairs, block), self.config.batch_size, key):
            batch = [p for p, _, _ in group]
            if group[0][1][0] == "file":  # stylized files: score at their size, content matched to it
                stylized = torch.stack([x for _, _, x in group]).to(self.device)
                c_sides = [self.contents(p.content, tuple(stylized.shape[-2:])) for p in batch]  # type: ignore[arg-type]
            else:
                c_sides = [side for _, _, side in group]
                s_net = cat_sides([block[p.style].net for p in batch])  # type: ignore[index]
                with self.timer("stylize"):
                    out = self.engine.stylize_encoded(cat_sides([c.net for c in c_sides]), s_net,
                                                        size=tuple(c_sides[0].image.shape[-2:]), alpha=self.config.alpha)
                    stylized = images.quantize(out) if self.config.quantize else out
                if self.config.save_images:
                    with self.timer("save"):
                        for p, x in zip(batch, stylized):
                            images.save_image(x, self.output / "stylized" / p.name, overwrite=True)
            s_sides = [block[p.style] for p in batch] if batch[0].style is not None else None
            self._score(batch, stylized, c_sides, s_sides)
            bar.update(len(batch))

    def _score(self, batch: list[Pair], stylized: Tensor, c_sides: list[ContentSide], s_sides: list[StyleSide] | None) -> None:
        index = torch.tensor([p.index for p in batch], device=self.device)
        with self.timer("lpips"):
            self.art.lpips.update(stylized, content_features=cat_sides([c.lpips for c in c_sides]))
        with self.timer("inception"):
            self.art.fid.update(stylized, real=False, index=index)
            if self.config.style_set == "per_pair" and s_sides is not None:
                self.art.fid.update_features(cat_sides([s.inception for s in s_sides]), real=True, index=index)
        values: dict[str, Tensor] = dict(self.art.lpips.last_scores)
        if self.losses is not None and s_sides is not None:
            with self.timer("losses"):
                self.losses.update(stylized, content_side=cat_sides([c.vgg for c in c_sides]),
                                   style_side=cat_sides([s.losses for s in s_sides]))
            values.update(self.losses.last_scores)
        if "ssim" in self.metrics:
            with self.timer("ssim"):
                self.metrics["ssim"].update(stylized, cat_sides([c.image for c in c_sides]))
            values.update(self.metrics["ssim"].last_scores)
        for k, p in enumerate(batch):
            row: dict[str, Any] = {"index": p.index, "stylized": p.name, "content": p.content.name,
                                   "style": p.style.name if p.style else ""}
            row.update({name: float(v[k]) for name, v in values.items()})
            self.rows.append(row)


def score_shard(scorer: Scorer, my_pairs: list[Pair], my_style_set: list[tuple[int, Path]], progress: bool,
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




def compute_results(metrics: dict[str, Any], timer: PhaseTimer) -> dict[str, Any]:
    """The metrics' values, summed over processes (``compute()``), under the ``compute`` phase."""
    with timer("compute"):
        art = metrics["art_fid"]  # its parts were updated one by one (to time them): compute the parts
        results: dict[str, Any] = {"art_fid": combine(art.lpips.compute(), art.fid.compute())}
        for name in ("losses", "ssim"):
            if name in metrics:
                results.update({k: v for k, v in metrics[name].compute().items()})
        results["count"] = results["art_fid"]["n_fake"]
    return results


def timing_fn(engine: Any, alpha: float) -> Any:
    """``fn(content, style)`` timed by the benchmark: encode both, transform, decode (the stylization engine)."""

    def run(content: Tensor, style: Tensor) -> Tensor:
        fc = engine.encode_content_batch(content)
        fs = engine.encode_style_batch(style)
        return engine.stylize_encoded(fc, fs, size=tuple(content.shape[-2:]), alpha=alpha)

    return run
