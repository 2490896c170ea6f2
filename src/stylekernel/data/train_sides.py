"""How each side (content, style) of the training stream picks its images: one job per class.

Each side (content, style) is read independently:

* :class:`IndexedSide` - indexed sources: image ``perm(seed, side, g // n)[g % n]``; a pure
  function of the sample index (exact resume with any worker count).
* :class:`StreamSide` - streaming sources: each (rank, worker) reads its shards in order,
  shuffling blocks of ``shuffle_block`` records with a seeded permutation; a block is re-read
  from its saved ``datasets`` position on resume (exact resume with the same world size and
  worker count). Held-out records are filtered out before anything else.

A side that cannot find a decodable image among ``max_attempts`` candidates raises
:class:`DataLoadingError`; every attempt and failure is counted in a :class:`DecodeReport` that
travels with its batch (see :mod:`stylekernel.data.train_stream`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any


from stylekernel.data.sampling import EpochPermutations, sample_rng
from stylekernel.data.sources import IndexedSource, Record, RecordStream, StreamingSource, decode_record
from stylekernel.errors import ImageDecodeError, StyleKernelError

__all__ = ["DataLoadingError", "DecodeFailureError", "DecodeReport", "IndexedSide", "StreamSide"]


class DataLoadingError(StyleKernelError):
    """The training stream cannot go on (e.g. no decodable image among many candidates)."""


class DecodeFailureError(DataLoadingError):
    """More than the allowed fraction of images failed to decode."""


class DecodeReport:
    """Decode attempts and failures of one batch (sent to the main process with the batch)."""

    def __init__(self) -> None:
        self.attempts = 0
        self.failures: list[tuple[str, str]] = []

    def fail(self, key: str, reason: str) -> None:
        self.failures.append((key, reason))


class IndexedSide:
    """Draws the image of global sample ``g`` from an indexed source (see module docstring).

    Args:
        source: the (training part of the) source.
        seed: sampling seed.
        tag: stream tag (:data:`~stylekernel.data.sampling.CONTENT` or ``STYLE``).
        max_attempts: candidates tried for one sample before giving up.
    """

    def __init__(self, source: IndexedSource, *, seed: int, tag: int, max_attempts: int = 64) -> None:
        self.source = source
        self.seed = seed
        self.tag = tag
        self.max_attempts = max_attempts
        self.perms = EpochPermutations(len(source), seed, tag)
        self._keys = source.keys()

    def candidate(self, g: int, attempt: int) -> int:
        """Index tried at ``attempt`` for sample ``g``: the permutation, then seeded fallbacks."""
        if attempt == 0:
            return self.perms.index(g)
        return int(sample_rng(self.seed, self.tag, g, attempt).integers(self.perms.n))

    def draw(self, g: int, *, min_side: int | None, report: DecodeReport) -> Any:
        for attempt in range(self.max_attempts):
            index = self.candidate(g, attempt)
            report.attempts += 1
            try:
                return self.source.load(index, min_side=min_side)
            except ImageDecodeError as exc:
                report.fail(exc.path if exc.path else self._keys[index], exc.reason)
        raise DataLoadingError(
            f"{self.source.describe()}: none of {self.max_attempts} candidate images could be decoded; "
            "run `stylekernel data check` on it"
        )

    def position(self) -> None:
        return None


class StreamSide:
    """Reads one (rank, worker)'s part of a streaming source in seeded shuffled blocks.

    Args:
        source: the streaming source.
        seed, tag: seed and stream tag of the block permutations.
        rank, world_size, worker_id: which part of the stream this side reads.
        block_size: records shuffled together (memory: ``block_size`` encoded images).
        exclude: predicate on keys; ``True`` drops the record (held-out images).
        max_attempts: consecutive undecodable records tolerated for one sample.
    """

    def __init__(
        self,
        source: StreamingSource,
        *,
        seed: int,
        tag: int,
        rank: int,
        world_size: int,
        worker_id: int,
        block_size: int,
        exclude: Callable[[str], bool] | None = None,
        max_attempts: int = 64,
    ) -> None:
        self.source = source
        self.seed = seed
        self.tag = tag
        self.rank = rank
        self.world_size = world_size
        self.worker_id = worker_id
        self.block_size = block_size
        self.exclude = exclude
        self.max_attempts = max_attempts
        self.epoch = 0
        self.block_index = 0
        self.offset = 0
        self._block: list[Record] = []
        self._block_state: dict[str, Any] | None = None
        self._stream: RecordStream | None = None
        self._iter: Iterator[Record] | None = None
        self._epoch_records = 0

    # -- position -------------------------------------------------------------------------
    def position(self) -> dict[str, Any]:
        """Where this side is: data epoch, block, offset in block and the block's stream state."""
        return {
            "epoch": self.epoch,
            "block": self.block_index,
            "offset": self.offset,
            "block_state": self._block_state,
        }

    def restore(self, position: dict[str, Any] | None) -> None:
        """Continue from a :meth:`position` (``None``: from the start of data epoch 0)."""
        if position is None:
            self._open(epoch=0, state=None)
            self._fill(block_index=0)
            return
        self._open(epoch=int(position["epoch"]), state=position["block_state"])
        self._fill(block_index=int(position["block"]))
        self.offset = int(position["offset"])

    # -- reading ----------------------------------------------------------------------------
    def _open(self, *, epoch: int, state: dict[str, Any] | None) -> None:
        self.epoch = epoch
        self._stream = self.source.open_stream(rank=self.rank, world_size=self.world_size, state=state)
        self._iter = iter(self._stream)
        self._block_state = state
        self._epoch_records = 0

    def _fill(self, *, block_index: int) -> None:
        """Read the next block (rolling over to a new data epoch when the part is exhausted)."""
        assert self._iter is not None and self._stream is not None
        for _ in range(2):
            records: list[Record] = []
            for record in self._iter:
                if record.error is None and self.exclude is not None and self.exclude(record.key):
                    continue
                records.append(record)
                if len(records) >= self.block_size:
                    break
            if records:
                self._epoch_records += len(records)
                order = sample_rng(
                    self.seed, self.tag, self.epoch * 1_000_003 + self.rank, (self.worker_id << 32) + block_index
                ).permutation(len(records))
                self._block = [records[i] for i in order]
                self.block_index = block_index
                self.offset = 0
                self._next_state = self._stream.state_dict()
                return
            if self._epoch_records == 0 and self._block_state is None:
                break
            self._open(epoch=self.epoch + 1, state=None)
            block_index = 0
        raise DataLoadingError(
            f"{self.source.describe()}: rank {self.rank} worker {self.worker_id} received no training "
            "records (too few shards for world_size x num_workers, or everything is held out); "
            "use fewer DataLoader workers or re-shard the data set"
        )

    def next_record(self) -> Record:
        """The next record of this side's shuffled stream."""
        if self._stream is None:
            self.restore(None)
        if self.offset >= len(self._block):
            self._block_state = self._next_state
            self._fill(block_index=self.block_index + 1)
        record = self._block[self.offset]
        self.offset += 1
        return record

    def draw(self, g: int, *, min_side: int | None, report: DecodeReport) -> Any:
        for _ in range(self.max_attempts):
            record = self.next_record()
            report.attempts += 1
            try:
                return decode_record(record, min_side=min_side)
            except ImageDecodeError as exc:
                report.fail(record.key, exc.reason)
        raise DataLoadingError(
            f"{self.source.describe()}: {self.max_attempts} consecutive records could not be decoded; "
            "run `stylekernel data check` on it"
        )
