"""Which content image and which style image each stylised image belongs to, by a documented rule.

Image files: the extensions in :data:`IMAGE_EXTENSIONS` (any case), directly inside a folder
(not recursive), listed in lexicographic order of their file names (Python string order).

* Stylising (``--checkpoint``): every content x style pair in content-major order (pair ``i *
  n_style + j`` is content ``i`` with style ``j``), or the pairs of a pairs file (one
  ``content,style`` line each; names relative to the folders; ``#`` starts a comment).
  Stylised images are named :func:`stylised_name`: ``<content stem>__<style stem>.png``.
* Scoring a folder (``--stylized-dir``), ``pairing="name"`` (default): each stylised file must be
  named ``<content stem>__<style stem>.<ext>`` (the names this suite writes); the stems are looked
  up in the content and style folders (stems must be unique there).
  ``pairing="sorted"``: the ArtFID reference's rule: the i-th stylised file (sorted) belongs to
  the i-th content file (sorted), so both folders must hold the same number of files; if the style
  folder holds as many files too, the i-th style file is the pair's style image, else pairs have
  no style image (no style loss) and the FID's style set is the whole style folder.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

from stylekernel.errors import ConfigError

IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
SEPARATOR = "__"
PairingRule = Literal["name", "sorted"]


class PairingError(ConfigError):
    """The stylised, content and style folders do not match under the pairing rule."""


@dataclass(frozen=True)
class Pair:
    """One evaluated pair; ``index`` is its position in the whole (unsharded) list."""

    index: int
    content: Path
    style: Path | None
    stylised: Path | None = None

    @property
    def name(self) -> str:
        """The stylised file name of this pair (``<content stem>__<style stem>.png``)."""
        if self.stylised is not None:
            return self.stylised.name
        return stylised_name(self.content, self.style)


def stylised_name(content: Path, style: Path | None) -> str:
    """``<content stem>__<style stem>.png`` (PNG: lossless, so re-scoring the files is exact)."""
    return f"{content.stem}{SEPARATOR}{style.stem if style is not None else 'nostyle'}.png"


def list_images(folder: str | os.PathLike[str], what: str = "image") -> list[Path]:
    """Image files directly inside ``folder``, sorted by file name; a clear error if none."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ConfigError(f"{what} folder {root} does not exist or is not a folder")
    files = sorted((p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS), key=lambda p: p.name)
    if not files:
        raise ConfigError(f"{what} folder {root} holds no image files ({', '.join(IMAGE_EXTENSIONS)})")
    return files


def all_pairs(contents: Sequence[Path], styles: Sequence[Path]) -> list[Pair]:
    """Every content x style pair, content-major."""
    return [Pair(i * len(styles) + j, c, s) for i, c in enumerate(contents) for j, s in enumerate(styles)]


def read_pairs_file(path: str | os.PathLike[str], content_dir: Path, style_dir: Path) -> list[Pair]:
    """Pairs from a file of ``content,style`` lines (names relative to the folders, or paths)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"pairs file {p} does not exist")
    pairs: list[Pair] = []
    for lineno, raw in enumerate(p.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = [x.strip() for x in line.split(",")]
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"{p}:{lineno}: expected 'content,style', got {raw!r}")
        c, s = (d / x if not Path(x).is_absolute() else Path(x) for d, x in zip((content_dir, style_dir), parts))
        for f in (c, s):
            if not f.is_file():
                raise ConfigError(f"{p}:{lineno}: {f} does not exist")
        pairs.append(Pair(len(pairs), c, s))
    if not pairs:
        raise ConfigError(f"pairs file {p} lists no pairs")
    return pairs


def _by_stem(files: Sequence[Path], what: str) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for f in files:
        if f.stem in out:
            raise PairingError(f"{what} folder has two files with the stem {f.stem!r} ({out[f.stem].name}, {f.name})")
        out[f.stem] = f
    return out


def pair_stylised_dir(
    stylised_dir: str | os.PathLike[str],
    content_dir: str | os.PathLike[str],
    style_dir: str | os.PathLike[str],
    rule: PairingRule = "name",
) -> list[Pair]:
    """Pair every stylised image with its content (and style) image; see the module docstring."""
    stylised = list_images(stylised_dir, "stylised")
    contents = list_images(content_dir, "content")
    styles = list_images(style_dir, "style")
    if rule == "sorted":
        if len(stylised) != len(contents):
            raise PairingError(
                f"pairing 'sorted' needs as many content as stylised images: {len(contents)} content in {content_dir}, "
                f"{len(stylised)} stylised in {stylised_dir}"
            )
        paired_styles: Sequence[Path | None] = styles if len(styles) == len(stylised) else [None] * len(stylised)
        return [Pair(i, c, s, x) for i, (x, c, s) in enumerate(zip(stylised, contents, paired_styles))]
    if rule != "name":
        raise ConfigError(f"pairing must be 'name' or 'sorted', got {rule!r}")
    c_stems, s_stems = _by_stem(contents, "content"), _by_stem(styles, "style")
    pairs, bad = [], []
    for x in stylised:
        parts = x.stem.split(SEPARATOR)
        matches = [
            (c_stems[a], s_stems[b])
            for k in range(1, len(parts))
            if (a := SEPARATOR.join(parts[:k])) in c_stems and (b := SEPARATOR.join(parts[k:])) in s_stems
        ]
        if len(matches) != 1:
            bad.append(x.name)
            continue
        pairs.append(Pair(len(pairs), matches[0][0], matches[0][1], x))
    if bad:
        raise PairingError(
            f"{len(bad)} of {len(stylised)} stylised files in {stylised_dir} do not match the rule "
            f"'<content stem>{SEPARATOR}<style stem>.<ext>' against {content_dir} and {style_dir}: "
            f"{', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''} (use --pairing sorted for the ArtFID reference's "
            "lexicographic rule)"
        )
    return pairs


def fingerprint(files: Sequence[Path]) -> str:
    """sha256 over the sorted (file name, sha256 of the bytes) of ``files``: identifies an image set."""
    h = hashlib.sha256()
    for f in sorted(set(files), key=lambda p: p.name):
        h.update(f.name.encode() + b"\0" + hashlib.sha256(f.read_bytes()).hexdigest().encode() + b"\n")
    return h.hexdigest()
