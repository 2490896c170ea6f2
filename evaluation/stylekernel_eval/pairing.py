"""Which content image and which style image each stylized image belongs to, by a documented rule.

Image files, ids and names are :mod:`stylekernel.image_files`'s: the extensions in
:data:`~stylekernel.image_files.IMAGE_EXTENSIONS` (any case), directly inside a folder (not
recursive, not hidden), listed in lexicographic order of their file names (Python string order);
an image's id is its file name without the extension.

* Stylizing (``--checkpoint``): every content x style pair in content-major order (pair ``i *
  n_style + j`` is content ``i`` with style ``j``), or the pairs of a pairs file
  (:func:`stylekernel.image_files.read_pairs_file`: one ``content,style`` line each; names
  relative to the folders, or absolute paths). Stylized images are named by the one rule,
  :func:`stylekernel.image_files.stylized_name`: ``<content id>__<style id>.png``.
* Scoring a folder (``--stylized-dir``), ``pairing="name"`` (default): each stylized file must be
  named ``<content id>__<style id>.<ext>`` (the names ``stylize``, ``predict`` and ``evaluate
  --save-images`` write), read back by :func:`stylekernel.image_files.parse_stylized_name`
  against the ids of the content and style folders (ids must be unique there; a name that reads
  two ways is an error).
  ``pairing="sorted"``: the ArtFID reference's rule: the i-th stylized file (sorted) belongs to
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

from stylekernel import image_files
from stylekernel.errors import ConfigError
from stylekernel.image_files import IMAGE_EXTENSIONS, SEPARATOR, AmbiguousNameError, image_id, parse_stylized_name

__all__ = ["IMAGE_EXTENSIONS", "Pair", "PairingError", "all_pairs", "fingerprint", "list_images", "pair_stylized_dir",
           "read_pairs_file", "pair_file_name"]
PairingRule = Literal["name", "sorted"]


class PairingError(ConfigError):
    """The stylized, content and style folders do not match under the pairing rule."""


@dataclass(frozen=True)
class Pair:
    """One evaluated pair; ``index`` is its position in the whole (unsharded) list."""

    index: int
    content: Path
    style: Path | None
    stylized: Path | None = None

    @property
    def name(self) -> str:
        """The stylized file name of this pair (``<content stem>__<style stem>.png``)."""
        if self.stylized is not None:
            return self.stylized.name
        return pair_file_name(self.content, self.style)


def pair_file_name(content: Path, style: Path | None) -> str:
    """``<content id>__<style id>.png`` (PNG: lossless, so re-scoring the files is exact)."""
    return image_files.stylized_name(image_id(content.name), image_id(style.name) if style is not None else "nostyle", "png")


def list_images(folder: str | os.PathLike[str], what: str = "image") -> list[Path]:
    """:func:`stylekernel.image_files.list_images`, every entry a file (a directory named like an
    image is one :class:`ConfigError` line, before any work)."""
    files = image_files.list_images(folder, what)
    for f in files:
        if not f.is_file():
            raise ConfigError(f"{what} folder {f.parent}: {f.name} is not a file")
    return files


def all_pairs(contents: Sequence[Path], styles: Sequence[Path]) -> list[Pair]:
    """Every content x style pair, content-major."""
    return [Pair(i * len(styles) + j, c, s) for i, c in enumerate(contents) for j, s in enumerate(styles)]


def read_pairs_file(path: str | os.PathLike[str], content_dir: Path, style_dir: Path) -> list[Pair]:
    """Pairs from a pairs file (:func:`stylekernel.image_files.read_pairs_file`; names relative to
    the folders, or absolute paths); a missing image is one :class:`ConfigError` line."""
    pairs: list[Pair] = []
    for names in image_files.read_pairs_file(path):
        c, s = (d / x if not Path(x).is_absolute() else Path(x) for d, x in zip((content_dir, style_dir), names))
        for f in (c, s):
            if not f.is_file():
                raise ConfigError(f"pairs file {Path(path).expanduser()}: pair {','.join(names)}: {f} does not exist")
        pairs.append(Pair(len(pairs), c, s))
    return pairs


def _by_id(files: Sequence[Path], what: str) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for f in files:
        key = image_id(f.name)
        if key in out:
            raise PairingError(f"{what} folder has two files with the id {key!r} ({out[key].name}, {f.name}): "
                               "names cannot say which one a stylized image belongs to")
        out[key] = f
    return out


def pair_stylized_dir(
    stylized_dir: str | os.PathLike[str],
    content_dir: str | os.PathLike[str],
    style_dir: str | os.PathLike[str],
    rule: PairingRule = "name",
) -> list[Pair]:
    """Pair every stylized image with its content (and style) image; see the module docstring."""
    stylized = list_images(stylized_dir, "stylized")
    contents = list_images(content_dir, "content")
    styles = list_images(style_dir, "style")
    if rule == "sorted":
        if len(stylized) != len(contents):
            raise PairingError(
                f"pairing 'sorted' needs as many content as stylized images: {len(contents)} content in {content_dir}, "
                f"{len(stylized)} stylized in {stylized_dir}"
            )
        paired_styles: Sequence[Path | None] = styles if len(styles) == len(stylized) else [None] * len(stylized)
        return [Pair(i, c, s, x) for i, (x, c, s) in enumerate(zip(stylized, contents, paired_styles))]
    if rule != "name":
        raise ConfigError(f"pairing must be 'name' or 'sorted', got {rule!r}")
    c_ids, s_ids = _by_id(contents, "content"), _by_id(styles, "style")
    pairs, bad = [], []
    for x in stylized:
        try:
            c, s = parse_stylized_name(x.name, list(c_ids), list(s_ids))
        except AmbiguousNameError as exc:
            bad.append(str(exc))
            continue
        pairs.append(Pair(len(pairs), c_ids[c], s_ids[s], x))
    if bad:
        raise PairingError(
            f"{len(bad)} of {len(stylized)} stylized files in {stylized_dir} do not match the rule "
            f"'<content id>{SEPARATOR}<style id>.<ext>' against {content_dir} and {style_dir}: "
            f"{'; '.join(bad[:5])}{' ...' if len(bad) > 5 else ''} (use --pairing sorted for the ArtFID reference's "
            "lexicographic rule)"
        )
    return pairs


def fingerprint(files: Sequence[Path]) -> str:
    """sha256 over the sorted (file name, sha256 of the bytes) of ``files``: identifies an image set."""
    h = hashlib.sha256()
    for f in sorted(set(files), key=lambda p: p.name):
        h.update(f.name.encode() + b"\0" + hashlib.sha256(f.read_bytes()).hexdigest().encode() + b"\n")
    return h.hexdigest()
