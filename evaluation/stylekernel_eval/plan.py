"""What one evaluation covers, decided before any network is loaded: the pairs, the FID style set,
their fingerprints, and every check a user can get wrong (step 1 of ``runner.py``).

:func:`plan` resolves the pairs (``pairing.py``: all content x style pairs, a pairs file, or the
files of ``--stylized-dir`` paired back by name) and the FID style set, and checks the pairing,
enough images for each requested metric, every weight file the run reads (LPIPS backbone, art
Inception, the VGG19 of the losses) and a writable output folder. Each failure is one
:class:`ConfigError` line.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from stylekernel import weights as weight_files
from stylekernel.errors import ConfigError

from stylekernel_eval.fid_sizes import check_inception_sizes
from stylekernel_eval.metrics.lpips import BACKBONE_WEIGHTS
from stylekernel_eval.pairing import Pair, all_pairs, fingerprint, list_images, pair_stylized_dir, read_pairs_file
from stylekernel_eval.protocol import EvalConfig

LOSS_ENCODER_FILES = {"torchvision": "vgg19", "vgg_normalised": "vgg_normalised"}  # VGGEncoder weight names -> files


@dataclass
class Plan:
    """What one evaluation covers: the pairs, the FID style set, and their fingerprints."""

    pairs: list[Pair]
    style_set: list[Path]
    fingerprints: dict[str, str]
    notes: list[str] = field(default_factory=list)
    style_folder: list[Path] = field(default_factory=list)  # every image of the style folder


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


def check_counts(config: EvalConfig, n_stylized: int, n_style: int) -> None:
    """Enough images for each requested metric: FID needs >= 2 per set, FID_inf more than its minimum."""
    if n_stylized < 2 or n_style < 2:
        raise ConfigError(f"FID needs at least 2 images per set, got {n_stylized} stylized and {n_style} style images "
                          f"(style_set {config.style_set})")
    if config.fid_variant == "fid_inf" and n_stylized <= config.fid_inf_min_size:
        raise ConfigError(f"FID_inf needs more than fid_inf_min_size={config.fid_inf_min_size} pairs, got {n_stylized} "
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
        pairs = pair_stylized_dir(config.stylized_dir, content_dir, style_dir, config.pairing)
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
            raise ConfigError("style_set per_pair needs a style image for every stylized image")
        style_set = style_folder
    else:
        style_set = list(dict.fromkeys(paired_styles)) if config.style_set == "unique" else paired_styles
    check_counts(config, len(pairs), len(style_set))
    check_inception_sizes(config, pairs, style_set)  # from headers (fid_sizes.py)
    check_weight_files(config)
    fingerprints = {
        "content": fingerprint([p.content for p in pairs]),
        "style": fingerprint(style_set),
        "pairs": _pairs_fingerprint(pairs),
    }
    if config.stylized_dir is not None:
        fingerprints["stylized"] = fingerprint([p.stylized for p in pairs if p.stylized is not None])
    return Plan(pairs=pairs, style_set=style_set, fingerprints=fingerprints, notes=notes, style_folder=style_folder)
