"""Deterministic held-out sets: carve validation/test images out of a training source.

Indexed sources (folders, file lists, map-style Hub sets): images are ranked by
``stable_hash(split_seed, key)``; the first ``num_val`` decodable images are the validation set,
the next ``num_test`` the test set, the rest train. Keys are relative file names (or Hub row
ids), so the sets are the same on every machine and rank, whatever the folder's absolute path.

Streaming sources (``HFSource(streaming=True)``, e.g. WikiArt, whose only split is ``train``):
a record is *held-out-eligible* when ``unit_hash(split_seed, key) < holdout_fraction``. The
training stream drops every eligible record (so neither set can leak into training, on any
rank or worker), and the validation/test sets are the first ``num_val`` / next ``num_test``
decodable eligible records in the stream's canonical order, read once at setup and kept in
memory. Reading them costs about ``(num_val + num_test) / holdout_fraction`` records.
Held-out images are listed sorted by key, so pairs come in a stable, readable order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from stylekernel.data.sampling import stable_hash, unit_hash
from stylekernel.data.sources import (
    IndexedSource,
    MemorySource,
    Record,
    StreamingSource,
    SubsetSource,
    decode_record,
)
from stylekernel.errors import ConfigError, ImageDecodeError

__all__ = ["IndexedCarve", "carve_indexed", "take_first", "HoldoutFilter", "scan_stream_heldout"]

log = logging.getLogger("stylekernel.data")


def _decodable(source: IndexedSource, index: int, min_side: int | None) -> str | None:
    """``None`` if image ``index`` decodes, else the reason."""
    try:
        source.load(index, min_side=min_side)
    except ImageDecodeError as exc:
        return exc.reason
    return None


def _sorted_subset(source: IndexedSource, indices: list[int], what: str) -> SubsetSource:
    keys = source.keys()
    ordered = sorted(indices, key=lambda i: keys[i])
    return SubsetSource(source, ordered, description=f"{what} ({len(ordered)} images of {source.describe()})")


@dataclass
class IndexedCarve:
    """Result of :func:`carve_indexed`: train / val / test views of one indexed source."""

    train: SubsetSource
    val: SubsetSource
    test: SubsetSource


def carve_indexed(
    source: IndexedSource,
    *,
    num_val: int,
    num_test: int,
    split_seed: int,
    min_side: int | None = None,
    verify: bool = True,
) -> IndexedCarve:
    """Split ``source`` into disjoint train/val/test sets by the hash of each image's key.

    Undecodable candidates (when ``verify``) are skipped, with a warning, and the next image in
    hash order takes their place; they stay out of the held-out sets (training skips them too).
    """
    keys = source.keys()
    n = len(keys)
    if n < num_val + num_test + 1:
        raise ConfigError(
            f"{source.describe()} has {n} images: too few to hold out {num_val} validation and "
            f"{num_test} test images and still train; lower the held-out counts or give separate "
            "val/test sources"
        )
    order = sorted(range(n), key=lambda i: (stable_hash(split_seed, keys[i]), keys[i]))
    held: list[int] = []
    bad: list[int] = []
    position = 0
    while len(held) < num_val + num_test and position < n:
        index = order[position]
        position += 1
        reason = _decodable(source, index, min_side) if verify else None
        if reason is None:
            held.append(index)
        else:
            bad.append(index)
            log.warning("held-out candidate %s is undecodable (%s); skipped", keys[index], reason)
    if len(held) < num_val + num_test:
        raise ConfigError(f"{source.describe()}: not enough decodable images for the held-out sets")
    excluded = set(held)
    train = [i for i in range(n) if i not in excluded]
    return IndexedCarve(
        train=SubsetSource(source, train, description=f"training part of {source.describe()}"),
        val=_sorted_subset(source, held[:num_val], "validation images"),
        test=_sorted_subset(source, held[num_val:], "test images"),
    )


def take_first(
    source: IndexedSource, *, count: int | None, min_side: int | None = None, verify: bool = True, what: str
) -> SubsetSource:
    """The first ``count`` decodable images of an explicit val/test source (``None``: all)."""
    keys = source.keys()
    chosen: list[int] = []
    for index in range(len(keys)):
        if count is not None and len(chosen) >= count:
            break
        reason = _decodable(source, index, min_side) if verify else None
        if reason is None:
            chosen.append(index)
        else:
            log.warning("%s: %s is undecodable (%s); skipped", what, keys[index], reason)
    if not chosen:
        raise ConfigError(f"{source.describe()} has no decodable images for the {what}")
    return _sorted_subset(source, chosen, what)


@dataclass(frozen=True)
class HoldoutFilter:
    """Predicate over keys: ``True`` for records reserved for validation/test (never trained on)."""

    split_seed: int
    fraction: float

    def __call__(self, key: str) -> bool:
        return unit_hash(self.split_seed, key) < self.fraction


def scan_stream_heldout(
    source: StreamingSource,
    *,
    counts: tuple[int, ...],
    is_heldout: Callable[[str], bool],
    min_side: int | None = None,
    verify: bool = True,
    names: tuple[str, ...] = ("validation images", "test images"),
) -> list[MemorySource]:
    """Read the canonical stream until enough decodable held-out records are found.

    Returns one in-memory source per entry of ``counts`` (consecutive groups of eligible
    records, each sorted by key). Raises :class:`ConfigError` when the stream runs out first.
    """
    need = sum(counts)
    found: list[Record] = []
    seen = 0
    if need > 0:
        for record in source.iter_records(rank=0, world_size=1):
            seen += 1
            if record.error is not None or not is_heldout(record.key):
                continue
            if verify:
                try:
                    decode_record(record, min_side=min_side)
                except ImageDecodeError as exc:
                    log.warning("held-out candidate %s is undecodable (%s); skipped", record.key, exc.reason)
                    continue
            found.append(record)
            if len(found) >= need:
                break
    if len(found) < need:
        raise ConfigError(
            f"{source.describe()}: found only {len(found)} held-out images in {seen} records, "
            f"need {need}; raise stream_holdout_fraction or lower the held-out counts"
        )
    groups: list[MemorySource] = []
    start = 0
    for count, name in zip(counts, names):
        group = sorted(found[start : start + count], key=lambda r: r.key)
        groups.append(MemorySource(group, description=f"{name} ({count} held out from {source.describe()})"))
        start += count
    return groups
