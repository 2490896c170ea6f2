"""Image sources: where images come from, chosen in YAML with ``class_path``.

Two access patterns, one base class:

* :class:`IndexedSource` (map-style): a known, ordered list of images with stable keys
  (``keys()``), loaded by index. :class:`FolderSource`, :class:`FileListSource`,
  :class:`HFSource` with ``streaming: false``, :class:`~stylekernel.data.demo.DemoSource`.
* :class:`StreamingSource`: records arrive in a fixed canonical order from sharded files and are
  split between ranks (``datasets.distributed.split_dataset_by_node``) and DataLoader workers
  (each worker iterates its own shards). :class:`HFSource` with ``streaming: true`` (default).

Keys are stable ids (relative file names, file-list entries, a Hub key column or the SHA-1 of the
encoded image): they name images in validation/test batches and decide the deterministic
held-out carve. Nothing here touches the disk or the network at construction time; call
:meth:`ImageSource.validate` (the datamodule does, at ``setup``) to fail early with one clear line.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from stylekernel.data.decode import IMAGE_EXTENSIONS, load_image
from stylekernel.errors import ConfigError, ImageDecodeError, StyleKernelError

__all__ = [
    "Record",
    "ImageSource",
    "IndexedSource",
    "StreamingSource",
    "RecordStream",
    "FolderSource",
    "FileListSource",
    "HFSource",
    "MemorySource",
    "SubsetSource",
    "decode_record",
]


@dataclass(frozen=True)
class Record:
    """One image as it comes out of a source: a stable key and its encoded bytes or pixels."""

    key: str
    data: bytes | Image.Image
    #: why the record could not even be read (decoding it raises :class:`ImageDecodeError`).
    error: str | None = None


def decode_record(record: Record, *, min_side: int | None = None) -> Image.Image:
    """Decode a :class:`Record` to RGB (see :func:`~stylekernel.data.decode.load_image`)."""
    if record.error is not None:
        raise ImageDecodeError(record.key, record.error)
    if isinstance(record.data, Image.Image):
        return record.data.convert("RGB")
    return load_image(record.data, min_side=min_side, name=record.key)


class ImageSource(ABC):
    """Base class of every image source (see the module docstring)."""

    #: ``True`` for sources read as a sharded stream, ``False`` for indexable ones.
    streaming: bool = False

    @abstractmethod
    def describe(self) -> str:
        """A short human description used in messages, e.g. ``folder /data/coco``."""

    @abstractmethod
    def validate(self) -> None:
        """Check that the source is usable; raise :class:`StyleKernelError` naming it if not."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"

    def __bool__(self) -> bool:  # a source is never "false", even when it defines __len__
        return True


class IndexedSource(ImageSource):
    """A finite, ordered image collection addressed by index (map-style)."""

    streaming = False

    @abstractmethod
    def keys(self) -> list[str]:
        """Stable ids of all images, in the source's canonical order."""

    def __len__(self) -> int:
        return len(self.keys())

    @abstractmethod
    def record(self, index: int) -> Record:
        """The raw record at ``index`` (bytes are read, not decoded)."""

    def load(self, index: int, *, min_side: int | None = None) -> Image.Image:
        """Decode image ``index`` to RGB; raises :class:`ImageDecodeError` if undecodable."""
        return decode_record(self.record(index), min_side=min_side)


class RecordStream(ABC):
    """One pass over a rank's part of a stream, with a resumable position."""

    @abstractmethod
    def __iter__(self) -> Iterator[Record]:
        """Records in canonical order (split by DataLoader worker when inside a worker)."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Position after the last record yielded; pass it to ``open_stream(state=...)``."""


class StreamingSource(ImageSource):
    """A sharded stream of records, read in a fixed canonical order."""

    streaming = True

    @abstractmethod
    def open_stream(
        self, *, rank: int = 0, world_size: int = 1, state: dict[str, Any] | None = None
    ) -> RecordStream:
        """This rank's part of the stream (disjoint from the other ranks' parts, together
        covering it; inside a DataLoader worker further split between workers by shard),
        starting at ``state`` (a :meth:`RecordStream.state_dict`) or at the beginning."""

    @abstractmethod
    def num_shards(self) -> int:
        """Number of files/shards the stream is made of (the unit of worker sharding)."""

    def iter_records(self, *, rank: int = 0, world_size: int = 1) -> Iterator[Record]:
        """Iterate this rank's part of the stream once, from the beginning."""
        yield from self.open_stream(rank=rank, world_size=world_size)


class FolderSource(IndexedSource):
    """Every image file under a folder, sorted by relative path so runs are reproducible.

    Args:
        root: the folder.
        extensions: file name endings counted as images (case-insensitive).
        recursive: also look in sub-folders.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        extensions: Sequence[str] = IMAGE_EXTENSIONS,
        recursive: bool = True,
    ) -> None:
        self.root = Path(root).expanduser()
        self.extensions = tuple(e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions)
        self.recursive = recursive
        self._keys: list[str] | None = None

    def describe(self) -> str:
        return f"folder {self.root}"

    def validate(self) -> None:
        if not self.root.exists():
            raise StyleKernelError(f"image folder {self.root} does not exist; fix the path in the config")
        if not self.root.is_dir():
            raise StyleKernelError(f"image folder {self.root} is a file, not a folder; fix the path")
        if not self.keys():
            how = "or its sub-folders " if self.recursive else ""
            raise StyleKernelError(
                f"image folder {self.root} {how}contains no files ending in "
                f"{', '.join(self.extensions)}; point it at a folder of images"
            )

    def keys(self) -> list[str]:
        if self._keys is None:
            pattern = "**/*" if self.recursive else "*"
            found = (
                p.relative_to(self.root).as_posix()
                for p in self.root.glob(pattern)
                if p.suffix.lower() in self.extensions and not p.is_dir()
            )
            self._keys = sorted(found) if self.root.is_dir() else []
        return self._keys

    def path(self, index: int) -> Path:
        """Absolute path of image ``index``."""
        return self.root / self.keys()[index]

    def record(self, index: int) -> Record:
        key = self.keys()[index]
        return Record(key, _read_bytes(self.root / key, key))

    def load(self, index: int, *, min_side: int | None = None) -> Image.Image:
        return load_image(self.path(index), min_side=min_side)


class FileListSource(IndexedSource):
    """Images named in a text file, one path per line (blank lines and ``#`` comments skipped).

    Args:
        file: the list file.
        root: folder that relative entries are relative to (default: the list file's folder).
    """

    def __init__(self, file: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> None:
        self.file = Path(file).expanduser()
        self.root = Path(root).expanduser() if root is not None else None
        self._keys: list[str] | None = None

    def describe(self) -> str:
        return f"file list {self.file}"

    def validate(self) -> None:
        if not self.file.is_file():
            raise StyleKernelError(f"file list {self.file} does not exist; fix the path in the config")
        if not self.keys():
            raise StyleKernelError(f"file list {self.file} names no images; add one path per line")

    def keys(self) -> list[str]:
        if self._keys is None:
            try:
                lines = self.file.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise StyleKernelError(f"cannot read file list {self.file}: {exc}") from None
            self._keys = [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]
        return self._keys

    def path(self, index: int) -> Path:
        """Resolved path of entry ``index``."""
        entry = Path(self.keys()[index]).expanduser()
        if entry.is_absolute():
            return entry
        return (self.root if self.root is not None else self.file.parent) / entry

    def record(self, index: int) -> Record:
        return Record(self.keys()[index], _read_bytes(self.path(index), self.keys()[index]))

    def load(self, index: int, *, min_side: int | None = None) -> Image.Image:
        return load_image(self.path(index), min_side=min_side, name=str(self.path(index)))


class MemorySource(IndexedSource):
    """Records held in memory (used for held-out sets carved from a stream, and in tests)."""

    def __init__(self, records: Sequence[Record], description: str = "in-memory images") -> None:
        self.records = list(records)
        self.description = description

    def describe(self) -> str:
        return self.description

    def validate(self) -> None:
        if not self.records:
            raise StyleKernelError(f"{self.description}: no images")

    def keys(self) -> list[str]:
        return [r.key for r in self.records]

    def record(self, index: int) -> Record:
        return self.records[index]


class SubsetSource(IndexedSource):
    """The images of ``base`` at ``indices`` (in that order); keys are the base's keys."""

    def __init__(self, base: IndexedSource, indices: Sequence[int], description: str | None = None) -> None:
        self.base = base
        self.indices = list(indices)
        self.description = description or f"subset of {base.describe()}"

    def describe(self) -> str:
        return self.description

    def validate(self) -> None:
        self.base.validate()

    def keys(self) -> list[str]:
        base_keys = self.base.keys()
        return [base_keys[i] for i in self.indices]

    def __len__(self) -> int:
        return len(self.indices)

    def record(self, index: int) -> Record:
        return self.base.record(self.indices[index])

    def load(self, index: int, *, min_side: int | None = None) -> Image.Image:
        return self.base.load(self.indices[index], min_side=min_side)


def _read_bytes(path: Path, label: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageDecodeError(label, "file not found") from None
    except IsADirectoryError:
        raise ImageDecodeError(label, "is a directory, not an image file") from None
    except OSError as exc:
        raise ImageDecodeError(label, f"cannot read file ({exc.strerror or exc})") from None


# --------------------------------------------------------------------------- Hugging Face


def _image_bytes(value: Any, label: str) -> bytes:
    """Extract encoded bytes from a ``datasets`` image cell (``Image(decode=False)``), bytes or a path."""
    if isinstance(value, dict):
        data = value.get("bytes")
        if data:
            return bytes(data)
        path = value.get("path")
        if path:
            return _read_bytes(Path(path), label)
        raise ImageDecodeError(label, "image cell has neither bytes nor a path")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return _read_bytes(Path(value), label)
    if value is None:
        raise ImageDecodeError(label, "image cell is empty (null)")
    raise ImageDecodeError(label, f"image cell has unsupported type {type(value).__name__}")


class HFSource(IndexedSource, StreamingSource):
    """A Hugging Face ``datasets`` data set (Hub id, local folder, or ``parquet`` + ``data_files``).

    Images are read undecoded (``datasets.Image(decode=False)``) and decoded by
    :func:`~stylekernel.data.decode.load_image`, so broken files are skipped and counted and JPEG
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
            offline = any(os.environ.get(v, "0") not in ("", "0") for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))
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
