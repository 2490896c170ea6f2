"""Deterministic sampling arithmetic: stable hashes, seeded permutations, sample indices.

Every training sample is named by a *global sample index* ``g``. Rank ``r`` of ``world_size``
ranks takes ``g = k * world_size + r`` for its local sample index ``k = 0, 1, 2, ...``; batch
``b`` of a rank holds local indices ``k = b * batch_size ... (b + 1) * batch_size - 1``. For an
indexed source of ``n`` images, sample ``g`` reads image ``perm(seed, side, g // n)[g % n]``: one
seeded permutation per pass over the data ("data epoch"), so within a pass every image is used
exactly once and ranks read disjoint images. Content and style use independent permutations,
so pairs are random and independent. Crop positions come from ``rng(seed, g)``.
Nothing depends on worker count or on wall-clock order, so a resumed run sees the same batches.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

__all__ = [
    "stable_hash",
    "unit_hash",
    "global_sample_index",
    "sample_rng",
    "EpochPermutations",
    "CONTENT",
    "STYLE",
    "CROP",
]

#: Stream tags mixed into seeds so content, style and crops never share random numbers.
CONTENT, STYLE, CROP = 1, 2, 3


def stable_hash(*parts: object) -> int:
    """A 64-bit hash of ``parts`` that is the same on every machine and Python process.

    (Python's ``hash`` of strings is salted per process, so it cannot be used for carving.)
    """
    h = hashlib.blake2b(digest_size=8)
    for part in parts:
        h.update(repr(part).encode("utf-8"))
        h.update(b"\x1f")
    return int.from_bytes(h.digest(), "little")


def unit_hash(*parts: object) -> float:
    """:func:`stable_hash` mapped to ``[0, 1)``."""
    return stable_hash(*parts) / 2.0**64


def global_sample_index(local_index: int, rank: int, world_size: int) -> int:
    """Global index of a rank's ``local_index``-th sample (ranks interleave)."""
    return local_index * world_size + rank


def sample_rng(seed: int, tag: int, index: int, attempt: int = 0) -> np.random.Generator:
    """A generator that is a pure function of ``(seed, tag, index, attempt)``."""
    return np.random.default_rng([seed & 0xFFFFFFFF, tag, index, attempt])


class EpochPermutations:
    """Seeded permutations of ``range(n)``, one per data epoch, with a small cache.

    ``index(g)`` is the item used by global sample ``g``: ``perm(g // n)[g % n]``.
    """

    def __init__(self, n: int, seed: int, tag: int, cache_size: int = 4) -> None:
        if n < 1:
            raise ValueError("cannot sample from an empty set")
        self.n = n
        self.seed = seed
        self.tag = tag
        self.cache_size = cache_size
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def permutation(self, epoch: int) -> np.ndarray:
        """The permutation of data epoch ``epoch`` (int64 array of length ``n``)."""
        perm = self._cache.get(epoch)
        if perm is None:
            perm = np.random.default_rng([self.seed & 0xFFFFFFFF, self.tag, epoch]).permutation(self.n)
            self._cache[epoch] = perm
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(epoch)
        return perm

    def index(self, g: int) -> int:
        """Item index read by global sample ``g``."""
        return int(self.permutation(g // self.n)[g % self.n])
