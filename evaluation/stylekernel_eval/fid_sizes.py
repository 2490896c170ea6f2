"""The art Inception's smallest input, checked from image headers before any work starts.

FID encodes every stylized image and every image of the style set with the art Inception-v3,
whose stem and stride-2 reductions need both sides >= :data:`~stylekernel_eval.inception.MIN_SIZE`
(75). What reaches it: with ``fid_resize`` set, that square; otherwise the image as scored (a
stylized file as stored in ``--stylized-dir`` mode; in checkpoint mode the stylization has its
content image's size, i.e. the content file's, or shorter side ``size`` when ``size`` is set; a
style image as stored, or shorter side ``size``). Sizes come from file headers (PIL reads no
pixels); a file whose header cannot be read is left to the decoder, which names it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from stylekernel.errors import ConfigError
from stylekernel_eval.inception import MIN_SIZE
from stylekernel_eval.pairing import Pair
from stylekernel_eval.protocol import EvalConfig


def _header_size(path: Path) -> tuple[int, int] | None:
    """(W, H) from the file header, or None if it cannot be read."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except Exception:  # noqa: BLE001 - the decoder reports unreadable files with their reason
        return None


def check_inception_sizes(config: EvalConfig, pairs: Iterable[Pair], style_set: Iterable[Path]) -> None:
    """ConfigError ``FID: <file> is WxH ...; pass --fid-resize ...`` for the first image too small for Inception."""
    if config.fid_resize is not None:
        if config.fid_resize < MIN_SIZE:
            raise ConfigError(f"fid_resize {config.fid_resize} is below the art Inception's {MIN_SIZE}x{MIN_SIZE} minimum; "
                              f"use --fid-resize {MIN_SIZE} or more (e.g. 299)")
        return
    fix = f"pass --fid-resize N with N >= {MIN_SIZE} (e.g. --fid-resize 299; the figure is then not the reference's)"
    # (file, whether `size` applies to it, what it is)
    checks: dict[Path, tuple[bool, str]] = {}
    for p in pairs:
        if p.stylized is not None:
            checks.setdefault(p.stylized, (False, "stylized image"))
        else:
            checks.setdefault(p.content, (True, "content image; its stylization has its size"))
    for s in style_set:
        checks.setdefault(s, (True, "style image"))
    for path, (resized, what) in checks.items():
        if resized and config.size is not None:
            if config.size < MIN_SIZE:
                raise ConfigError(f"FID: --size {config.size} makes {path} ({what}) {config.size} px on its shorter side, below the "
                                  f"art Inception's {MIN_SIZE}x{MIN_SIZE} minimum; {fix}, or --size {MIN_SIZE} or more")
            continue
        wh = _header_size(path)
        if wh is not None and min(wh) < MIN_SIZE:
            raise ConfigError(f"FID: {path} ({what}) is {wh[0]}x{wh[1]}, below the art Inception's {MIN_SIZE}x{MIN_SIZE} minimum; {fix}")
