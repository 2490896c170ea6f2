"""Read an offline W&B run (``run-<id>.wandb``) with wandb's own protobuf ``Record`` class.

Offline, wandb 0.2x/0.3x writes no ``wandb-summary.json`` / ``config.yaml`` under ``files/``:
everything lives in the transaction log, a LevelDB-style log (a 7-byte file header ``:W&B``,
magic, version; then records ``crc32 (4) | length (2) | type (1) | data`` in 32 KiB blocks,
split FIRST/MIDDLE/LAST across block boundaries). Each record's data is a serialized
``wandb.proto.wandb_internal_pb2.Record``.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

_FILE_HEADER = struct.Struct("<4sHB")
_RECORD_HEADER = struct.Struct("<IHB")
_BLOCK = 32768
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def iter_records(path: Path) -> Iterator[Any]:
    """Every ``Record`` of a ``.wandb`` file, in order."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = Path(path).read_bytes()
    ident, _magic, _version = _FILE_HEADER.unpack_from(data, 0)
    assert ident == b":W&B", f"{path} is not a W&B transaction log"
    pos, pending = _FILE_HEADER.size, b""
    while pos + _RECORD_HEADER.size <= len(data):
        space = _BLOCK - pos % _BLOCK
        if space < _RECORD_HEADER.size:  # block trailer (zero padding)
            pos += space
            continue
        _crc, length, kind = _RECORD_HEADER.unpack_from(data, pos)
        if kind == 0:  # zero padding to the end of the block
            pos += space
            continue
        chunk = data[pos + _RECORD_HEADER.size : pos + _RECORD_HEADER.size + length]
        pos += _RECORD_HEADER.size + length
        if kind == _FULL:
            payload = chunk
        elif kind == _FIRST:
            pending = chunk
            continue
        elif kind == _MIDDLE:
            pending += chunk
            continue
        else:
            payload, pending = pending + chunk, b""
        record = pb.Record()
        record.ParseFromString(payload)
        yield record


def _key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


def _value(item: Any) -> Any:
    return json.loads(item.value_json) if item.value_json else None


@dataclass
class OfflineRun:
    """What an offline run recorded: config, history rows, summary."""

    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def history_keys(self) -> set[str]:
        return {k for row in self.history for k in row}


def _complete_records(log: Path, wait: float) -> list[Any]:
    """The records of ``log`` once its ``exit`` record is written (wandb-core writes
    asynchronously, even after ``run.finish()`` returns), or what is there after ``wait`` s."""
    deadline = time.monotonic() + wait
    while True:
        try:
            records = list(iter_records(log))
        except Exception:  # a record being written
            records = []
        if any(r.WhichOneof("record_type") == "exit" for r in records) or time.monotonic() > deadline:
            return records
        time.sleep(0.2)


def read_offline_run(run_dir: Path, wait: float = 30.0) -> OfflineRun:
    """Parse ``<run_dir>/run-*.wandb`` into config, history and summary."""
    (log,) = sorted(Path(run_dir).glob("run-*.wandb"))
    run = OfflineRun()
    for record in _complete_records(log, wait):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            for item in record.run.config.update:
                run.config[_key(item)] = _value(item)
        elif kind == "config":
            for item in record.config.update:
                run.config[_key(item)] = _value(item)
        elif kind == "history":
            run.history.append({_key(item): _value(item) for item in record.history.item})
        elif kind == "summary":
            for item in record.summary.update:
                run.summary[_key(item)] = _value(item)
    # config values are stored as {"value": ..., "desc": ...}
    run.config = {k: v.get("value", v) if isinstance(v, dict) else v for k, v in run.config.items()}
    return run
