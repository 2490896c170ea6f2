"""``stylekernel evaluate --data ...``: score a DataModule's own held-out test pairs.

The DataModule is configured as in ``fit`` (``class_path`` / ``init_args``; the CLI also takes a
``configs/data/`` fragment or a run's saved ``config.yaml``). Its ``test_pairs()`` (every test
content x every test style, or its ``pairs_file``) are what gets scored, so a training run's test
set is evaluated without an export step: :func:`resolve_data` writes the test images that the
pairs use into ``<output>/test_set/{content,style}/`` and the pairs into
``<output>/test_set/pairs.txt``, and returns the config with ``content_dir``, ``style_dir`` and
``pairs_file`` pointing there; the runner then works as for any pairs file.

Files. A record that holds encoded bytes (folders, file lists, parquet / Hub rows) is written
byte for byte, so the scored pixels are those of the source file; one that holds decoded pixels
(the demo set, streamed Hub images) is written as a lossless PNG of its RGB pixels (as the
DataModule decodes it). File names are the ids with ``/`` as ``_`` (no ``__``, the stylized-name
separator), numbered if two ids collide. Sizes follow the evaluation's ``size`` option (default:
as stored), not the DataModule's ``test_size``.
"""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path
from typing import Any

from stylekernel.errors import ConfigError, capture_config_errors
from stylekernel_eval.protocol import EvalConfig

TEST_SET_DIR = "test_set"
PAIRS_FILE = "pairs.txt"
_FORMAT_EXT = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tif"}


def build_datamodule(data: dict[str, Any]) -> Any:
    """The LightningDataModule of a ``class_path`` / ``init_args`` mapping (ConfigError naming the key)."""
    from jsonargparse import ArgumentError, ArgumentParser
    from lightning.pytorch import LightningDataModule

    from stylekernel.config_errors import explain_argument_error

    parser = ArgumentParser(exit_on_error=False, default_env=False)
    parser.add_subclass_arguments(LightningDataModule, "data")
    try:
        cfg = parser.parse_object({"data": data})
    except ArgumentError as exc:
        raise ConfigError(f"--data: {explain_argument_error(exc, [])}") from None
    with capture_config_errors() as errors:
        try:
            return parser.instantiate(cfg).data
        except (ValueError, TypeError) as exc:
            if errors:
                raise errors[-1] from None
            raise ConfigError(f"--data: {str(exc).strip().splitlines()[0]}") from None


def _file_name(key: str, data: Any) -> str:
    stem = re.sub(r"_+", "_", re.sub(r"[\\/,#\s]", "_", key)).strip("_") or "image"
    if isinstance(data, bytes):
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as im:
                ext = _FORMAT_EXT.get(str(im.format), Path(key).suffix.lower() or ".img")
        except Exception:  # noqa: BLE001 - undecodable bytes: the runner's decoder names the file and reason
            ext = Path(key).suffix.lower() or ".img"
        return (stem[: -len(Path(key).suffix)] if Path(key).suffix.lower() == ext else stem) + ext
    return stem + ".png"


def _write_side(source: Any, keys: list[str], folder: Path) -> dict[str, Path]:
    """Write the images of ``keys`` (in first-use order) into ``folder``; {key: file}."""
    from stylekernel.data.sources import decode_record
    from stylekernel.errors import ImageDecodeError

    folder.mkdir(parents=True, exist_ok=True)
    index = {k: i for i, k in enumerate(source.keys())}
    files: dict[str, Path] = {}
    taken: set[str] = set()
    for key in keys:
        record = source.record(index[key])
        if record.error is not None:
            raise ImageDecodeError(key, record.error)
        name = _file_name(key, record.data)
        stem, ext = Path(name).stem, Path(name).suffix
        n = 1
        while name.lower() in taken:
            n += 1
            name = f"{stem}_{n}{ext}"
        taken.add(name.lower())
        path = folder / name
        if isinstance(record.data, bytes):
            path.write_bytes(record.data)
        else:
            decode_record(record).save(path, format="PNG")
        files[key] = path
    return files


def resolve_data(config: EvalConfig) -> EvalConfig:
    """``config`` with ``data`` turned into the content/style folders and pairs file it scores (unchanged without ``data``)."""
    if config.data is None:
        return config
    given = [f"--{n.replace('_', '-')}" for n in ("content_dir", "style_dir", "pairs_file") if getattr(config, n) is not None]
    if given:
        raise ConfigError(f"--data gives the test images and pairs; drop {', '.join(given)}")
    from stylekernel.paths import check_writable_dir

    dm = build_datamodule(config.data)
    for name in ("test_pairs", "heldout_source"):
        if not callable(getattr(dm, name, None)):
            raise ConfigError(f"--data: {type(dm).__name__} has no {name}() (use stylekernel.data.StyleTransferDataModule or a subclass)")
    pairs = dm.test_pairs()
    if not pairs:
        raise ConfigError(f"--data: {type(dm).__name__}.test_pairs() is empty")
    root = Path(config.output).expanduser() / TEST_SET_DIR
    check_writable_dir(root.parent, what="output")
    contents = _write_side(dm.heldout_source("content", "test"), list(dict.fromkeys(c for c, _ in pairs)), root / "content")
    styles = _write_side(dm.heldout_source("style", "test"), list(dict.fromkeys(s for _, s in pairs)), root / "style")
    lines = [f"# test_pairs() of {config.data.get('class_path', 'the DataModule')}: content,style (files in content/ and style/)"]
    lines += [f"{contents[c].name},{styles[s].name}" for c, s in pairs]
    (root / PAIRS_FILE).write_text("\n".join(lines) + "\n")
    return dataclasses.replace(config, content_dir=str(root / "content"), style_dir=str(root / "style"), pairs_file=str(root / PAIRS_FILE))
