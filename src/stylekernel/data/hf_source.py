"""Hugging Face ``datasets`` as an image source (Hub ids, local folders, parquet files).

:class:`HFSource` is both an :class:`~stylekernel.data.sources.IndexedSource` (``streaming:
false``) and a :class:`~stylekernel.data.sources.StreamingSource` (``streaming: true``, the
default). ``datasets`` is imported only when a source is validated or iterated.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stylekernel.data.sources import IndexedSource, Record, RecordStream, StreamingSource, read_file_bytes
from stylekernel.env import env_flag
from stylekernel.errors import ConfigError, ImageDecodeError, StyleKernelError

__all__ = ["HFSource"]


def _image_bytes(value: Any, label: str) -> bytes:
    """Extract encoded bytes from a ``datasets`` image cell (``Image(decode=False)``), bytes or a path."""
    if isinstance(value, dict):
        data = value.get("bytes")
        if data:
            return bytes(data)
        path = value.get("path")
        if path:
            return read_file_bytes(Path(path), label)
        raise ImageDecodeError(label, "image cell has neither bytes nor a path")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return read_file_bytes(Path(value), label)
    if value is None:
        raise ImageDecodeError(label, "image cell is empty (null)")
    raise ImageDecodeError(label, f"image cell has unsupported type {type(value).__name__}")


class HFSource(IndexedSource, StreamingSource):
    """A Hugging Face ``datasets`` data set (Hub id, local folder, or ``parquet`` + ``data_files``).

    Images are read undecoded (``datasets.Image(decode=False)``) and decoded by
    :func:`~stylekernel.image_files.load_image`, so broken files are skipped and counted and JPEG
    draft decoding applies. Nothing is contacted until :meth:`validate` or iteration.

    Streaming under DDP: when ``num_shards`` is a multiple of ``world_size`` every rank reads
    whole shards; otherwise every rank reads all shards and keeps every ``world_size``-th record
    (correct, but each rank downloads everything). Inside a rank, DataLoader workers split the
    rank's shards, so keep ``num_workers <= shards per rank`` (e.g. WikiArt's 72 shards on 8
    GPUs: 9 per rank, up to 9 workers).

    Args:
        path: Hub id (``huggan/wikiart``), local data set folder, or a builder name such as
            ``parquet`` used with ``data_files``.
        name: configuration name (``None``: the default one).
        split: split to read (``train``).
        image_column: column holding the images.
        streaming: stream the files (``True``, default: no full download, the shards are split
            between ranks and workers) or download and index them (``False``: map-style).
        revision: Git revision (commit, tag or branch) of a Hub data set; pin it for
            reproducible held-out sets.
        data_files: files for builder-style ``path`` values (a path, glob, list, or
            ``{split: files}``).
        key_column: column with a unique, stable id per image (``None``: the SHA-1 of the
            encoded image for streams, the row number for map-style data sets; see
            :meth:`record_key`). Keys name images in test batches and decide the held-out carve.
        cache_dir: ``datasets`` cache folder (``None``: its default, ``HF_DATASETS_CACHE``).
    """

    def __init__(
        self,
        path: str,
        name: str | None = None,
        split: str = "train",
        image_column: str = "image",
        streaming: bool = True,
        revision: str | None = None,
        data_files: str | list[str] | dict[str, str | list[str]] | None = None,
        key_column: str | None = None,
        cache_dir: str | None = None,
    ) -> None:
        self.path = path
        self.name = name
        self.split = split
        self.image_column = image_column
        self.streaming = streaming
        self.revision = revision
        self.data_files = data_files
        self.key_column = key_column
        self.cache_dir = cache_dir
        self._dataset: Any = None
        self._keys: list[str] | None = None

    def describe(self) -> str:
        extra = f", config {self.name}" if self.name else ""
        return f"Hugging Face data set {self.path!r} (split {self.split!r}{extra})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if self.streaming:
            state["_dataset"] = None  # rebuilt lazily in each worker (cheap, no download)
        return state

    def _load(self) -> Any:
        if self._dataset is not None:
            return self._dataset
        try:
            import datasets
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise StyleKernelError(f"{self.describe()}: the `datasets` package is missing ({exc})") from None
        try:
            dataset = datasets.load_dataset(
                self.path,
                self.name,
                split=self.split,
                streaming=self.streaming,
                revision=self.revision,
                data_files=self.data_files,
                cache_dir=self.cache_dir,
            )
        except Exception as exc:  # noqa: BLE001 - datasets raises many types; report one line
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            offline = env_flag("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
            hint = (
                "offline mode is on (HF_HUB_OFFLINE/HF_DATASETS_OFFLINE): turn it off or cache the data set first"
                if offline
                else "check the data set id/split/config and the network, or use a local FolderSource"
            )
            raise StyleKernelError(f"{self.describe()} could not be loaded: {first}; {hint}") from None
        features = getattr(dataset, "features", None)
        if features is not None and self.image_column not in features:
            raise StyleKernelError(
                f"{self.describe()} has no column {self.image_column!r} (columns: "
                f"{', '.join(features)}); set image_column to one of them"
            )
        if self.key_column is not None and features is not None and self.key_column not in features:
            raise StyleKernelError(
                f"{self.describe()} has no key column {self.key_column!r} (columns: {', '.join(features)})"
            )
        if features is not None and isinstance(features[self.image_column], datasets.Image):
            dataset = dataset.cast_column(self.image_column, datasets.Image(decode=False))
        columns = [self.image_column] + ([self.key_column] if self.key_column else [])
        if features is not None and len(features) > len(columns):
            dataset = dataset.select_columns(columns)
        self._dataset = dataset
        return dataset

    def validate(self) -> None:
        dataset = self._load()
        if self.streaming:
            if getattr(dataset, "features", None) is None:
                # Unknown schema (e.g. JSON builders): look at one record to check the column.
                first = next(iter(dataset), None)
                if first is None:
                    raise StyleKernelError(f"{self.describe()} is empty")
                if self.image_column not in first:
                    raise StyleKernelError(
                        f"{self.describe()} has no column {self.image_column!r} (columns: "
                        f"{', '.join(first)}); set image_column to one of them"
                    )
        elif len(dataset) == 0:
            raise StyleKernelError(f"{self.describe()} is empty")

    def record_key(self, row: dict[str, Any], data: bytes, index: int | None = None) -> str:
        """Stable id of a row: the key column, else the row number (map-style) or the SHA-1
        of the encoded image (streams: the same on every machine, rank and worker)."""
        if self.key_column is not None:
            return str(row[self.key_column])
        if index is not None:
            return f"{self.split}/{index:08d}"
        return "sha1:" + hashlib.sha1(data).hexdigest()[:20]

    def _to_record(self, row: dict[str, Any], index: int | None) -> Record:
        label = f"{self.path}[{self.split}]" + (f"#{index}" if index is not None else "")
        try:
            data = _image_bytes(row.get(self.image_column), label)
        except ImageDecodeError as exc:
            return Record(label, b"", error=exc.reason)
        return Record(self.record_key(row, data, index), data)

    # map-style access (streaming=False)
    def keys(self) -> list[str]:
        if self.streaming:
            raise ConfigError(f"{self.describe()} is streaming; it has no index (set streaming: false)")
        if self._keys is None:
            dataset = self._load()
            if self.key_column is not None:
                self._keys = [str(k) for k in dataset[self.key_column]]
            else:
                self._keys = [f"{self.split}/{i:08d}" for i in range(len(dataset))]
        return self._keys

    def record(self, index: int) -> Record:
        row = self._load()[int(index)]
        return self._to_record(row, index)

    # streaming access
    def num_shards(self) -> int:
        dataset = self._load()
        return int(getattr(dataset, "num_shards", getattr(dataset, "n_shards", 1)))

    def open_stream(
        self, *, rank: int = 0, world_size: int = 1, state: dict[str, Any] | None = None
    ) -> RecordStream:
        if not self.streaming:
            raise ConfigError(f"{self.describe()} is not streaming; index it instead")
        from datasets.distributed import split_dataset_by_node

        dataset = self._load()
        if world_size > 1:
            # Whole shards per rank when num_shards % world_size == 0, else every
            # world_size-th record: disjoint parts that together cover the stream.
            dataset = split_dataset_by_node(dataset, rank=rank, world_size=world_size)
        if state is not None:
            dataset.load_state_dict(state)
        return _HFRecordStream(self, dataset)


class _HFRecordStream(RecordStream):
    """Iterates a (node-split) streaming ``datasets.IterableDataset``; inside a DataLoader worker
    ``datasets`` gives each worker its own shards (``num_shards`` should be a multiple of
    ``world_size * num_workers`` for an even load)."""

    def __init__(self, source: HFSource, dataset: Any) -> None:
        self.source = source
        self.dataset = dataset

    def __iter__(self) -> Iterator[Record]:
        for row in self.dataset:
            yield self.source._to_record(row, None)

    def state_dict(self) -> dict[str, Any]:
        return self.dataset.state_dict()  # type: ignore[no-any-return]
