"""Data layer: image sources, robust decoding, transforms and the Lightning datamodule.

Import paths for configs: ``stylekernel.data.StyleTransferDataModule`` with sources
``stylekernel.data.FolderSource`` / ``FileListSource`` / ``HFSource`` / ``DemoSource``.
Exports are resolved lazily, so importing this package does not import Lightning or
``datasets``. Nothing is read or downloaded at import time. Decoding (``load_image``) lives in
:mod:`stylekernel.image_files`, the one home of image files (re-exported here).

Modules: ``transforms`` (resize/crop/to tensor), ``sources`` (folder,
file list, in memory), ``hf_source`` (Hugging Face), ``demo`` (embedded demo set), ``sampling``
(seeded sample arithmetic), ``heldout`` (deterministic val/test carving), ``train_sides`` (how
each side picks its images), ``train_stream`` (resumable training stream), ``pairs`` (val/test
pairs), ``datamodule`` (StyleTransferDataModule), ``cli`` (stylekernel data).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "StyleTransferDataModule": "stylekernel.data.datamodule",
    "ImageSource": "stylekernel.data.sources",
    "IndexedSource": "stylekernel.data.sources",
    "StreamingSource": "stylekernel.data.sources",
    "FolderSource": "stylekernel.data.sources",
    "FileListSource": "stylekernel.data.sources",
    "HFSource": "stylekernel.data.hf_source",
    "MemorySource": "stylekernel.data.sources",
    "Record": "stylekernel.data.sources",
    "DemoSource": "stylekernel.data.demo",
    "write_demo": "stylekernel.data.demo",
    "IMAGE_EXTENSIONS": "stylekernel.image_files",
    "load_image": "stylekernel.image_files",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from stylekernel.data.datamodule import StyleTransferDataModule
    from stylekernel.image_files import IMAGE_EXTENSIONS, load_image
    from stylekernel.data.demo import DemoSource, write_demo
    from stylekernel.data.hf_source import HFSource
    from stylekernel.data.sources import (
        FileListSource,
        FolderSource,
        ImageSource,
        IndexedSource,
        MemorySource,
        Record,
        StreamingSource,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stylekernel.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
