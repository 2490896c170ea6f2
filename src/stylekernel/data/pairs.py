"""Fixed (content, style) pairs for validation and test: the pair list and its dataset.

The test pairs are every test content image x every test style image, content-major, both
sorted by id (``[(c0, s0), (c0, s1), ..., (c1, s0), ...]``), or the pairs listed in a pairs
file. The evaluation package reuses exactly this list (``StyleTransferDataModule.test_pairs``).

Pairs file format: the one reader, :func:`stylekernel.image_files.read_pairs_file` (also
``stylekernel evaluate --pairs-file``'s): one pair per line, ``content_id<TAB or comma>style_id``;
blank lines and ``#`` comments are skipped, and a first line ``content,style`` /
``content_id,style_id`` is treated as a header. Ids are the keys of the test sources (relative
file names for folders).
"""

from __future__ import annotations

import os
from typing import Any

from torch.utils.data import Dataset

from stylekernel.data.sources import IndexedSource
from stylekernel.data.transforms import EvalTransform
from stylekernel.errors import ConfigError, ImageDecodeError, StyleKernelError
from stylekernel.image_files import read_pairs_file as _read_pairs

__all__ = ["all_pairs", "read_pairs_file", "PairDataset"]


def all_pairs(content_ids: list[str], style_ids: list[str]) -> list[tuple[str, str]]:
    """Every content x every style, content-major, in the given orders."""
    return [(c, s) for c in content_ids for s in style_ids]


def read_pairs_file(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """Parse a pairs file (see the module docstring); raises :class:`ConfigError` on bad lines."""
    return _read_pairs(path, what="pairs_file")


class PairDataset(Dataset):  # type: ignore[type-arg]
    """Map-style dataset of fixed pairs for validation/test.

    Item ``i`` is ``{"content": (3, S, S), "style": (3, S, S), "content_id": str,
    "style_id": str}`` (float32 in ``[0, 1]``; ``(3, H, W)`` with ``min(H, W) == S`` when the
    transform does not crop). The default collate turns ids into ``list[str]``.

    Args:
        content, style: the held-out sources.
        pairs: ``(content_id, style_id)`` pairs; ids must be keys of the sources.
        transform: resize (+ centre crop).
        draft: decode JPEGs at reduced scale when the transform allows.
    """

    def __init__(
        self,
        content: IndexedSource,
        style: IndexedSource,
        pairs: list[tuple[str, str]],
        *,
        transform: EvalTransform,
        draft: bool = True,
    ) -> None:
        self.content = content
        self.style = style
        self.pairs = list(pairs)
        self.transform = transform
        self.draft = draft
        content_index = {k: i for i, k in enumerate(content.keys())}
        style_index = {k: i for i, k in enumerate(style.keys())}
        missing = [c for c, _ in self.pairs if c not in content_index][:3]
        missing += [s for _, s in self.pairs if s not in style_index][:3]
        if missing:
            raise ConfigError(
                f"pair ids not found in the held-out images: {', '.join(map(repr, missing))}; ids are "
                f"keys such as {content.keys()[0]!r} (content) and {style.keys()[0]!r} (style)"
            )
        self._index = [(content_index[c], style_index[s]) for c, s in self.pairs]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, item: int) -> dict[str, Any]:
        ci, si = self._index[item]
        min_side = self.transform.min_side if self.draft else None
        try:
            content = self.content.load(ci, min_side=min_side)
            style = self.style.load(si, min_side=min_side)
        except ImageDecodeError as exc:  # held-out images are verified at setup; files may change
            raise StyleKernelError(f"held-out image became unreadable: {exc}") from None
        return {
            "content": self.transform(content),
            "style": self.transform(style),
            "content_id": self.pairs[item][0],
            "style_id": self.pairs[item][1],
        }
