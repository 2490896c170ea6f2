"""Running the evaluation in several processes without counting any pair twice.

Pairs are sharded round-robin (process r of W takes pairs r, r + W, r + 2W, ...): no padding, so
when the number of pairs does not divide by W some processes simply get one pair fewer
(distributed samplers pad by repeating pairs, which would count them twice). Metric states are
sums, reduced with ``all_reduce`` by torchmetrics; per-pair rows and other small records are
gathered with Fabric's ``broadcast`` (one per rank), so nothing is padded anywhere.

:func:`launch` runs ``fn(proc, *args)`` in W processes started by Lightning Fabric (strategy
``ddp_spawn``: gloo on CPU, NCCL on CUDA, one GPU per process), or in this process when W is 1,
and returns rank 0's return value. A :class:`~stylekernel.errors.StyleKernelError` raised in any
worker (a corrupt image, a missing file) is raised again here as the same class with the same
message, so ``--devices N`` fails with the same one line and exit status as one process.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import torch

from stylekernel.errors import StyleKernelError

T = TypeVar("T")


def shard(items: Sequence[T], rank: int, world_size: int) -> list[T]:
    """Round-robin shard of ``items`` for ``rank`` (no padding, no repetition)."""
    return list(items[rank::world_size])


@dataclass
class Proc:
    """This process's place in the run: rank, world size, device, and the collectives it needs."""

    rank: int
    world_size: int
    device: torch.device
    fabric: Any = None  # lightning.fabric.Fabric when world_size > 1

    def gather(self, obj: T) -> list[T]:
        """Every rank's ``obj`` (picklable), in rank order, on every rank; [obj] in one process."""
        if self.fabric is None or self.world_size == 1:
            return [obj]
        return [self.fabric.broadcast(obj, src=r) for r in range(self.world_size)]

    def barrier(self) -> None:
        if self.fabric is not None and self.world_size > 1:
            self.fabric.barrier()


def _error_file(folder: str, rank: int) -> Path:
    return Path(folder) / f"rank{rank}.json"


def _worker(fabric: Any, error_dir: str, payload: bytes) -> Any:
    fn, args = pickle.loads(payload)
    proc = Proc(rank=fabric.global_rank, world_size=fabric.world_size, device=fabric.device, fabric=fabric)
    try:
        return fn(proc, *args)
    except StyleKernelError as exc:
        cls = type(exc)
        _error_file(error_dir, proc.rank).write_text(json.dumps({"module": cls.__module__, "name": cls.__qualname__,
                                                                 "message": str(exc)}))
        raise


def _reraise_worker_error(error_dir: str) -> None:
    """Raise the first StyleKernelError a worker recorded (same class, same message), if any."""
    for f in sorted(Path(error_dir).glob("rank*.json")):
        record = json.loads(f.read_text())
        try:
            cls = getattr(import_module(record["module"]), record["name"])
        except (ImportError, AttributeError):
            cls = StyleKernelError
        if not (isinstance(cls, type) and issubclass(cls, StyleKernelError)):
            cls = StyleKernelError
        err = cls.__new__(cls)
        err.args = (record["message"],)  # str(err) is exactly the worker's message
        raise err from None


def launch(fn: Callable[..., T], *, devices: int, device: torch.device, args: tuple = ()) -> T:
    """Run ``fn(proc, *args)`` on ``devices`` processes (see the module docstring); rank 0's result.

    ``device`` is the device of a one-process run (``devices == 1``); with several processes its
    type picks the accelerator (cpu: gloo processes; cuda: one GPU each).
    """
    if devices == 1:
        return fn(Proc(rank=0, world_size=1, device=device), *args)
    from lightning.fabric import Fabric

    fabric = Fabric(accelerator="cuda" if device.type == "cuda" else "cpu", devices=devices, strategy="ddp_spawn")
    saved_port = os.environ.get("MASTER_PORT")
    with tempfile.TemporaryDirectory(prefix="stylekernel-eval-errors-") as error_dir:
        try:
            # pickled here: Fabric walks the arguments (to unshare module memory) and rejects frozen dataclasses
            return fabric.launch(_worker, error_dir, pickle.dumps((fn, args)))  # type: ignore[no-any-return]
        except Exception:
            _reraise_worker_error(error_dir)
            raise
        finally:
            if saved_port is None:
                os.environ.pop("MASTER_PORT", None)
            else:
                os.environ["MASTER_PORT"] = saved_port
