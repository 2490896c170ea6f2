"""The evaluation configuration: every choice of the protocol, its default, and named presets.

:class:`EvalConfig` is the single place where defaults live; preset YAML files and the command
line only override fields. A preset is a YAML file of this package's ``presets/`` folder
(package data, so installed copies have them too) named by its stem (``--preset paper``); any
other YAML path works too (``--config FILE``).

The defaults are the ArtFID reference's (``art-fid``): every image as stored, each file of the
style folder once in FID's style set, no resizing for Inception, FID's matrix square root by
the reference's scipy sqrtm; ``--stylized-dir`` with the defaults gives the reference's numbers. Presets that resize say so in every summary.

The ``paper`` preset (``presets/paper.yaml``) reproduces the protocol of this family of
papers (StyTr2 and later): 20 content images (MS-COCO, held out from training) x 40 style images
(WikiArt, held out) = 800 stylized images at 512:

* images: full decode, shorter side to 512 (antialiased bicubic), centre 512 x 512 crop, for
  content and style alike (so the figure is NOT the reference's on the original files, and the
  summary says so, listing the changed files); stylizations clamped to [0, 1] and rounded to 8 bits (what a PNG
  holds) before scoring, so re-scoring the saved PNGs gives the same numbers;
* LPIPS: AlexNet, v0.1, stylized vs content, inputs mapped to [-1, 1] (the ArtFID reference);
* FID: art-trained Inception-v3, 2048-d pooled features, no resizing (all images are 512 x 512),
  stylized set (800) vs the style set, each distinct style image once (40; ``style_set:
  unique``); plain FID, because FID_inf samples subsets from 5,000 images up and 800 is too few;
* ArtFID = (1 + LPIPS) x (1 + FID), reported as "ArtFID (plain FID)";
* content and style loss exactly as in training (VGG19 torchvision weights), SSIM (piq);
* timing at 256, 512, 1024: 3 warm-up and 10 timed runs, median, batch 4 for images/s.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import yaml

from stylekernel.engine import DEFAULT_ALPHA
from stylekernel.errors import ConfigError

#: The FID's matrix square root when none is asked for: art-fid's algorithm, so that the default
#: figure is the reference's (the one home of this default: EvalConfig, FID, FID_inf and ArtFID).
DEFAULT_FID_SQRTM: Literal["exact", "reference"] = "reference"
# The other protocol defaults that both EvalConfig and a metric's own signature take (one home
# each; tests/evaluation/test_defaults.py fails when a signature spells its own):
#: LPIPS backbones (the choice), the default one and the linear-layer version (the ArtFID reference's).
LPIPSNet = Literal["alex", "vgg", "squeeze"]
DEFAULT_LPIPS_NET: LPIPSNet = "alex"
DEFAULT_LPIPS_VERSION = "0.1"
#: FID's feature network (a registry name of :mod:`stylekernel.weights` or a file).
DEFAULT_INCEPTION_WEIGHTS = "art_inception"
#: FID_inf: number of subset sizes of the fit, and the smallest subset (Chong and Forsyth's 15 and 5,000).
DEFAULT_FID_INF_POINTS = 15
DEFAULT_FID_INF_MIN_SIZE = 5000
#: weights of the content/style losses' VGG19 (as in training).
DEFAULT_LOSS_ENCODER = "torchvision"

Precision = Literal["32", "bf16-mixed", "16-mixed"]
CHOICES: dict[str, tuple[str, ...]] = {
    "pairing": ("name", "sorted"),
    "accelerator": ("auto", "cpu", "cuda"),
    "precision": ("32", "bf16-mixed", "16-mixed"),
    "lpips_net": get_args(LPIPSNet),
    "fid_variant": ("fid", "fid_inf"),
    "fid_sqrtm": ("exact", "reference"),
    "style_set": ("unique", "per_pair"),
    "logger": ("csv", "tensorboard", "wandb"),
}
#: the presets (``--preset NAME`` is ``PRESET_DIR / NAME.yaml``), shipped as package data
PRESET_DIR = Path(str(importlib.resources.files("stylekernel_eval") / "presets"))


@dataclass
class EvalConfig:
    """What to evaluate and how. Paths may be None where the mode does not use them.

    Attributes:
        checkpoint: a ``stylekernel fit`` checkpoint to stylize with (mode "checkpoint").
        stylized_dir: a folder of stylized images to score (mode "stylized_dir").
        content_dir: content images. style_dir: style images.
        pairs_file: ``content,style`` lines instead of every content x style pair.
        pairing: stylized_dir rule: "name" (``<content>__<style>.<ext>``) or "sorted" (ArtFID's).
        size: None (default, the reference): content and style images as stored, for the network
            and for scoring alike. An int: their shorter side goes to ``size`` (PIL antialiased
            bicubic) and, with ``crop``, the centre square is kept; the summary then lists every
            changed file and says the figure is not the reference's. Stylized images are always
            scored as stored (checkpoint mode: as written, so re-scoring the saved folder with
            ``--stylized-dir`` and the same options gives the same numbers).
        output: report folder. save_images: also write every stylization as PNG.
        batch_size: pairs per forward pass. alpha: content/style trade-off of the network.
        devices: processes (one per GPU, or CPU processes with gloo). accelerator: auto|cpu|cuda.
        precision: autocast of the stylization only; metrics always run in float32/float64.
        quantize: round stylizations to 8 bits before scoring (what a saved PNG holds).
        lpips_net: alex | vgg | squeeze.
        inception_weights: registry name or path of the art Inception checkpoint.
        fid_resize: None (no resizing, the reference) or a square size for Inception inputs.
        fid_variant: "fid" or "fid_inf" (needs more than fid_inf_min_size pairs; paired style set).
        fid_sqrtm: "reference" (default): tr sqrt(S1 S2) by art-fid's algorithm (scipy sqrtm of
            the 2048 x 2048 product, its rounding included), so the FID is the reference's; it
            costs about 30 CPU s per FID (measured, see evaluation/README.md). Where that
            sqrtm fails (as art-fid would: imaginary part, non-finite, LinAlgError), the exact
            value is reported, with a warning and the label "exact (reference sqrtm failed:
            ...)". "exact": factor method, well under a second, more accurate than the
            reference (2e-16 vs its 2.5e-6 from a 40-digit evaluation), so it differs from
            art-fid by ~2e-6 relative (measured 2.2e-6).
        style_set: "unique" (each distinct style image once) or "per_pair" (one per stylization).
        fid_inf_points, fid_inf_min_size: FID_inf subset sizes linspace(min_size, N, points).
        loss_encoder: VGG19 weights of content/style losses (as in training): torchvision |
            vgg_normalised | random | a path | "net" (the evaluated network's own encoder).
        gram: also report the Gram-matrix style distance. ssim: report SSIM.
        timing: benchmark the network (checkpoint mode). timing_sizes, timing_runs,
            timing_warmup, timing_batch_size: its protocol.
        feature_cache_mb: bound on the style features kept at once (network encodings, loss
            statistics, Inception features); beyond it styles are processed in blocks (each
            style still encoded once; each content once per block).
        logger: also log the summary and the per-pair table to an experiment tracker: csv |
            tensorboard | wandb (see ``tracking.py``); None: reports only. logger_dir: where it
            saves (default ``<output>/logs``). logger_project, logger_name: run names.
        seed: seeds torch, numpy and FID_inf's subset sampling.
        progress: show progress bars.
        data: a LightningDataModule config (``class_path`` / ``init_args``, as in ``fit``): its
            held-out ``test_pairs()`` are evaluated, in checkpoint mode, instead of
            ``content_dir`` x ``style_dir`` (see ``datamodule_pairs.py``).
    """

    checkpoint: str | None = None
    stylized_dir: str | None = None
    content_dir: str | None = None
    style_dir: str | None = None
    pairs_file: str | None = None
    pairing: Literal["name", "sorted"] = "name"
    size: int | None = None
    crop: bool = True
    output: str = "eval_out"
    save_images: bool = False
    batch_size: int = 4
    alpha: float = DEFAULT_ALPHA
    devices: int = 1
    accelerator: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Precision = "32"
    quantize: bool = True
    lpips_net: LPIPSNet = DEFAULT_LPIPS_NET
    inception_weights: str = DEFAULT_INCEPTION_WEIGHTS
    fid_resize: int | None = None
    fid_variant: Literal["fid", "fid_inf"] = "fid"
    fid_sqrtm: Literal["exact", "reference"] = DEFAULT_FID_SQRTM
    style_set: Literal["unique", "per_pair"] = "unique"
    fid_inf_points: int = DEFAULT_FID_INF_POINTS
    fid_inf_min_size: int = DEFAULT_FID_INF_MIN_SIZE
    loss_encoder: str = DEFAULT_LOSS_ENCODER
    gram: bool = False
    ssim: bool = True
    timing: bool = False
    timing_sizes: list[int] = field(default_factory=lambda: [256, 512, 1024])
    timing_runs: int = 10
    timing_warmup: int = 3
    timing_batch_size: int = 4
    feature_cache_mb: float = 2048.0
    logger: Literal["csv", "tensorboard", "wandb"] | None = None
    logger_dir: str | None = None
    logger_project: str = "stylekernel-eval"
    logger_name: str | None = None
    seed: int = 0
    progress: bool = True
    data: dict[str, Any] | None = None

    @property
    def mode(self) -> str:
        """"checkpoint" (stylize, then score) or "stylized_dir" (score existing images)."""
        return "stylized_dir" if self.stylized_dir is not None else "checkpoint"

    def validate(self) -> "EvalConfig":
        """Check the combination of fields; raises :class:`ConfigError` naming the field."""
        if (self.checkpoint is None) == (self.stylized_dir is None):
            raise ConfigError("give exactly one of --checkpoint (stylize and score) or --stylized-dir (score a folder)")
        for name in ("content_dir", "style_dir"):
            if getattr(self, name) is None and self.data is None:
                raise ConfigError(f"--{name.replace('_', '-')} is required (or --data, a DataModule whose test pairs are scored)")
        if self.data is not None and self.stylized_dir is not None:
            raise ConfigError("--data scores a DataModule's test pairs stylized by --checkpoint; it does not apply to --stylized-dir")
        if self.pairs_file is not None and self.stylized_dir is not None:
            raise ConfigError("--pairs-file applies to --checkpoint mode; --stylized-dir pairs by --pairing")
        positive = ("batch_size", "devices", "timing_runs", "timing_batch_size", "fid_inf_points")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.feature_cache_mb > 0:
            raise ConfigError(f"feature_cache_mb must be > 0, got {self.feature_cache_mb}")
        if self.size is not None and self.size < 8:
            raise ConfigError(f"size must be >= 8 or null, got {self.size}")
        if self.fid_variant == "fid_inf" and self.style_set != "per_pair":
            raise ConfigError("fid_variant fid_inf pairs each stylized image with its style image: set style_set: per_pair")
        self.precision = str(self.precision)  # type: ignore[assignment]  # YAML may give 32 as an int
        for name, allowed in CHOICES.items():
            if name == "logger" and self.logger is None:
                continue
            if str(getattr(self, name)) not in allowed:
                raise ConfigError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        return self

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["precision"] = str(out["precision"])
        return out


def preset_files() -> dict[str, Path]:
    """{name: file} of the shipped presets."""
    return {p.stem: p for p in sorted(PRESET_DIR.glob("*.yaml"))} if PRESET_DIR.is_dir() else {}


def preset_path(name_or_path: str | os.PathLike[str]) -> Path:
    """The file of a preset name (``paper``) or a YAML path; ConfigError naming the presets if neither."""
    text = os.fspath(name_or_path)
    presets = preset_files()
    path = presets.get(text) or Path(text).expanduser()
    if not path.is_file():
        raise ConfigError(f"no eval preset or YAML file {text!r}; presets: {', '.join(presets) or 'none found'}")
    return path


def load_overrides(name_or_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Fields from a preset name (``presets/<name>.yaml``) or a YAML file path."""
    path = preset_path(name_or_path)
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of EvalConfig fields")
    known = {f.name for f in dataclasses.fields(EvalConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown eval option(s) {unknown}")
    return data


def build_config(*layers: dict[str, Any]) -> EvalConfig:
    """EvalConfig defaults, overridden by each mapping in turn (an explicit None overrides too)."""
    values: dict[str, Any] = {}
    for layer in layers:
        values.update(layer)
    try:
        return EvalConfig(**values)
    except TypeError as exc:
        raise ConfigError(f"invalid eval options: {exc}") from None
