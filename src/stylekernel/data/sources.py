"""Image sources: where images come from, chosen in YAML with ``class_path``.

Two access patterns, one base class:

* :class:`IndexedSource` (map-style): a known, ordered list of images with stable keys
  (``keys()``), loaded by index. :class:`FolderSource`, :class:`FileListSource`,
  :class:`~stylekernel.data.hf_source.HFSource` with ``streaming: false``, :class:`~stylekernel.data.demo.DemoSource`.
* :class:`StreamingSource`: records arrive in a fixed canonical order from sharded files and are
  split between ranks (``datasets.distributed.split_dataset_by_node``) and DataLoader workers
  (each worker iterates its own shards). :class:`~stylekernel.data.hf_source.HFSource` with ``streaming: true`` (default).

Keys are stable ids (relative file names, file-list entries, a Hub key column or the SHA-1 of the
encoded image): they name images in validation/test batches and decide the deterministic
held-out carve. Nothing here touches the disk or the network at construction time; call
:meth:`ImageSource.validate` (the datamodule does, at ``setup``) to fail early with one clear line.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from stylekernel.image_files import IMAGE_EXTENSIONS, load_image
from stylekernel.errors import ImageDecodeError, StyleKernelError

__all__ = [
    "Record",
    "ImageSource",
    "IndexedSource",
    "StreamingSource",
    "RecordStream",
    "FolderSource",
    "FileListSource",
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
    """Decode a :class:`Record` to RGB (see :func:`~stylekernel.image_files.load_image`)."""
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
        return Record(key, read_file_bytes(self.root / key, key))

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
        return Record(self.keys()[index], read_file_bytes(self.path(index), self.keys()[index]))

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


def read_file_bytes(path: Path, label: str) -> bytes:
    """The bytes of an image file, or :class:`ImageDecodeError` naming ``label`` and the reason."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageDecodeError(label, "file not found") from None
    except IsADirectoryError:
        raise ImageDecodeError(label, "is a directory, not an image file") from None
    except OSError as exc:
        raise ImageDecodeError(label, f"cannot read file ({exc.strerror or exc})") from None

