"""The training stream: an endless sequence of random (content, style) batches, resumable exactly.

:class:`PairStream` (an ``IterableDataset`` that yields whole batches) produces batch ``b`` of a
rank from the samples ``g = k * world_size + rank`` with ``k`` in ``[b * B, (b + 1) * B)`` (see
:mod:`stylekernel.data.sampling`). DataLoader worker ``w`` of ``W`` produces the batches with
``b % W == w``; :class:`TrainLoader` puts them back in order and remembers the next batch index
(plus, for streaming sources, each worker's stream position). That small state is saved in the
checkpoint (Lightning calls ``state_dict``/``load_state_dict`` on stateful loaders, and the
datamodule saves it too), so a resumed run continues with exactly the batch an uninterrupted
run would have produced.

Each side (content, style) is read by its own class of :mod:`stylekernel.data.train_sides`:
:class:`IndexedSide` for indexed sources (a pure function of the sample index, exact resume with
any worker count), :class:`StreamSide` for streaming sources (exact resume with the same world
size and worker count).

Undecodable images are skipped (the next candidate takes their place) and reported in each
batch's metadata; :class:`TrainLoader` logs them with running counts and stops the run with a
:class:`DecodeFailureError` when more than ``max_decode_failure_fraction`` of the reads fail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from stylekernel.data.sampling import CROP, global_sample_index, sample_rng
from stylekernel.data.sources import ImageSource, IndexedSource, StreamingSource
from stylekernel.data.train_sides import DataLoadingError, DecodeFailureError, DecodeReport, IndexedSide, StreamSide
from stylekernel.data.transforms import TrainTransform
from stylekernel.errors import StyleKernelError

__all__ = ["DataLoadingError", "DecodeFailureError", "PairStream", "TrainLoader"]

log = logging.getLogger("stylekernel.data")


class PairStream(IterableDataset):  # type: ignore[type-arg]
    """Yields training batches ``{"content": (B, 3, S, S), "style": (B, 3, S, S), "_meta": ...}``.

    Values are float32 in ``[0, 1]``; ``_meta`` (batch index, worker, decode report, stream
    positions) is removed by :class:`TrainLoader` before the batch reaches the model.

    Args:
        content, style: training sources (indexed or streaming).
        transform: resize + random crop.
        batch_size: ``B``.
        batches_per_iter: batches one ``iter()`` yields (the loader's length, one "epoch").
        seed: sampling seed.
        rank, world_size: this process's place in distributed training.
        draft: decode JPEGs at reduced scale when the transform allows.
        shuffle_block: block size of streaming sources' shuffle.
        exclude_content, exclude_style: held-out predicates for streaming sources.
    """

    def __init__(
        self,
        content: ImageSource,
        style: ImageSource,
        *,
        transform: TrainTransform,
        batch_size: int,
        batches_per_iter: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        draft: bool = True,
        shuffle_block: int = 256,
        exclude_content: Callable[[str], bool] | None = None,
        exclude_style: Callable[[str], bool] | None = None,
    ) -> None:
        super().__init__()
        self.content = content
        self.style = style
        self.transform = transform
        self.batch_size = batch_size
        self.batches_per_iter = batches_per_iter
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.draft = draft
        self.shuffle_block = shuffle_block
        self.exclude = {"content": exclude_content, "style": exclude_style}
        # Set by TrainLoader before each iter():
        self.start_batch = 0
        self.positions: dict[int, dict[str, Any]] = {}

    def _side(self, name: str, source: ImageSource, tag: int, worker_id: int) -> IndexedSide | StreamSide:
        if isinstance(source, StreamingSource) and source.streaming:
            side = StreamSide(
                source,
                seed=self.seed,
                tag=tag,
                rank=self.rank,
                world_size=self.world_size,
                worker_id=worker_id,
                block_size=self.shuffle_block,
                exclude=self.exclude[name],
            )
            side.restore(self.positions.get(worker_id, {}).get(name))
            return side
        assert isinstance(source, IndexedSource)
        return IndexedSide(source, seed=self.seed, tag=tag)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        from stylekernel.data.sampling import CONTENT, STYLE

        info = get_worker_info()
        worker_id, num_workers = (info.id, info.num_workers) if info is not None else (0, 1)
        sides = {
            "content": self._side("content", self.content, CONTENT, worker_id),
            "style": self._side("style", self.style, STYLE, worker_id),
        }
        min_side = self.transform.min_side if self.draft else None
        start, stop = self.start_batch, self.start_batch + self.batches_per_iter
        first = start + (worker_id - start) % num_workers
        for b in range(first, stop, num_workers):
            report = DecodeReport()
            arrays: dict[str, list[np.ndarray]] = {"content": [], "style": []}
            for k in range(b * self.batch_size, (b + 1) * self.batch_size):
                g = global_sample_index(k, self.rank, self.world_size)
                crop_rng = sample_rng(self.seed, CROP, g)
                for name in ("content", "style"):
                    image = sides[name].draw(g, min_side=min_side, report=report)
                    arrays[name].append(self.transform.array(image, crop_rng))
            yield {
                "content": torch.from_numpy(np.stack(arrays["content"])),
                "style": torch.from_numpy(np.stack(arrays["style"])),
                "_meta": {
                    "batch": b,
                    "worker": worker_id,
                    "attempts": report.attempts,
                    "failures": report.failures,
                    "positions": {name: side.position() for name, side in sides.items()},
                },
            }


def _clean_worker_message(exc: BaseException) -> str:
    """The original one-line message of an exception re-raised from a DataLoader worker."""
    lines = [line for line in str(exc).splitlines() if line.strip()]
    if len(lines) <= 1:
        return str(exc)
    last = lines[-1]
    head, sep, tail = last.partition(": ")
    return tail if sep and "Error" in head else last


class TrainLoader(DataLoader):  # type: ignore[type-arg]
    """DataLoader over a :class:`PairStream` that delivers batches in order and is resumable.

    ``len(loader)`` is ``batches_per_iter``; every ``iter()`` continues where the previous one
    stopped. ``state_dict()`` / ``load_state_dict()`` hold the next batch index, the streaming
    positions of each worker and the decode-failure counts.

    Args:
        dataset: the pair stream.
        max_decode_failure_fraction: stop when more than this fraction of image reads failed
            (judged once at least ``min_decode_reads`` reads were made, or at any time when the
            failures alone exceed ``max_decode_failure_fraction * min_decode_reads``).
        min_decode_reads: reads before the fraction is judged.
        **kwargs: DataLoader options (``num_workers``, ``pin_memory``, ``prefetch_factor``...).
    """

    def __init__(
        self,
        dataset: PairStream,
        *,
        max_decode_failure_fraction: float = 0.01,
        min_decode_reads: int = 200,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("batch_size", None)
        kwargs.pop("persistent_workers", None)  # workers must be re-seeded with the state each iter
        super().__init__(dataset, batch_size=None, persistent_workers=False, **kwargs)
        self.max_decode_failure_fraction = max_decode_failure_fraction
        self.min_decode_reads = min_decode_reads
        self.next_batch = 0
        self.positions: dict[int, dict[str, Any]] = {}
        self.decode_reads = 0
        self.decode_failures = 0
        self.failed_examples: list[tuple[str, str]] = []

    def __len__(self) -> int:
        return int(self.dataset.batches_per_iter)  # type: ignore[attr-defined]

    # -- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly (small: integers and stream offsets)."""
        dataset: PairStream = self.dataset  # type: ignore[assignment]
        return {
            "next_batch": self.next_batch,
            "positions": {int(k): v for k, v in self.positions.items()},
            "num_workers": self.num_workers,
            "world_size": dataset.world_size,
            "seed": dataset.seed,
            "decode_reads": self.decode_reads,
            "decode_failures": self.decode_failures,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; warns when worker count or world size changed."""
        dataset: PairStream = self.dataset  # type: ignore[assignment]
        self.next_batch = int(state.get("next_batch", 0))
        self.positions = {int(k): v for k, v in (state.get("positions") or {}).items()}
        self.decode_reads = int(state.get("decode_reads", 0))
        self.decode_failures = int(state.get("decode_failures", 0))
        if state.get("world_size", dataset.world_size) != dataset.world_size:
            log.warning("resuming with a different world size: samples differ from the original run")
        streaming = any(isinstance(s, StreamingSource) and s.streaming for s in (dataset.content, dataset.style))
        if streaming and self.positions and state.get("num_workers", self.num_workers) != self.num_workers:
            log.warning(
                "resuming a streaming source with %s DataLoader workers instead of %s: the stream "
                "restarts from the beginning of its data epoch split",
                self.num_workers,
                state.get("num_workers"),
            )
            self.positions = {}

    # -- iteration ------------------------------------------------------------------------------
    def _account(self, meta: dict[str, Any]) -> None:
        self.positions[int(meta["worker"])] = meta["positions"]
        self.decode_reads += int(meta["attempts"])
        for key, reason in meta["failures"]:
            self.decode_failures += 1
            if len(self.failed_examples) < 20:
                self.failed_examples.append((key, reason))
            log.warning(
                "skipped undecodable image %s: %s (%d skipped in %d reads so far)",
                key,
                reason,
                self.decode_failures,
                self.decode_reads,
            )
        if self.decode_failures:
            limit = self.max_decode_failure_fraction
            fraction = self.decode_failures / max(1, self.decode_reads)
            judged = self.decode_reads >= self.min_decode_reads or self.decode_failures > limit * self.min_decode_reads
            if judged and fraction > limit:
                examples = "; ".join(f"{k} ({r})" for k, r in self.failed_examples[:3])
                raise DecodeFailureError(
                    f"{self.decode_failures} of {self.decode_reads} image reads failed ({fraction:.1%} > "
                    f"max_decode_failure_fraction={limit}); e.g. {examples}. Run `stylekernel data check` "
                    "on the sources, fix or remove the files, or raise max_decode_failure_fraction"
                )

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:  # type: ignore[override]
        dataset: PairStream = self.dataset  # type: ignore[assignment]
        dataset.start_batch = self.next_batch
        dataset.positions = dict(self.positions)
        return self._ordered(super().__iter__())

    def _ordered(self, batches: Iterator[dict[str, Any]]) -> Iterator[dict[str, torch.Tensor]]:
        pending: dict[int, dict[str, Any]] = {}
        try:
            for batch in batches:
                pending[int(batch["_meta"]["batch"])] = batch
                while self.next_batch in pending:
                    ready = pending.pop(self.next_batch)
                    self._account(ready.pop("_meta"))
                    self.next_batch += 1
                    yield ready
        except StyleKernelError as exc:
            if "\n" in str(exc):  # re-raised from a worker, with the worker's traceback
                raise type(exc)(_clean_worker_message(exc)) if isinstance(exc, DataLoadingError) else DataLoadingError(
                    _clean_worker_message(exc)
                ) from None
            raise
        except Exception as exc:
            # A StyleKernelError raised in a worker comes back wrapped with the worker's
            # traceback; re-raise it as one clear line.
            if isinstance(exc, RuntimeError) and "Error" in str(exc) and "stylekernel" in str(exc):
                raise DataLoadingError(_clean_worker_message(exc)) from None
            raise
        finally:
            # Stop the workers now when the consumer stops early or an error escapes (Lightning
            # abandons the iterator after a resumed partial epoch), not at garbage collection.
            shutdown = getattr(batches, "_shutdown_workers", None)
            if callable(shutdown):
                shutdown()
