"""Running the evaluation in several processes without counting any pair twice.

Pairs are sharded round-robin (process r of W takes pairs r, r + W, r + 2W, ...): no padding, so
when the number of pairs does not divide by W some processes simply get one pair fewer
(distributed samplers pad by repeating pairs, which would count them twice). Metric states are
sums, reduced with ``all_reduce``; per-pair rows are gathered to rank 0.

:func:`launch` starts W processes with ``torch.multiprocessing`` (spawn), each joining a
process group on 127.0.0.1 (gloo on CPU, NCCL on CUDA, one GPU per process), and returns rank
nothing: rank 0 writes the reports, which the caller then reads.
"""

from __future__ import annotations

import os
import socket
from typing import Any, Callable, Sequence, TypeVar

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

T = TypeVar("T")


def shard(items: Sequence[T], rank: int, world_size: int) -> list[T]:
    """Round-robin shard of ``items`` for ``rank`` (no padding, no repetition)."""
    return list(items[rank::world_size])


def rank_and_world() -> tuple[int, int]:
    """(rank, world size) of the current process group, (0, 1) without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_to_rank0(obj: Any) -> list[Any] | None:
    """Every rank's ``obj`` on rank 0 (in rank order), None on other ranks; [obj] without a group."""
    rank, world = rank_and_world()
    if world == 1:
        return [obj]
    out: list[Any] | None = [None] * world if rank == 0 else None
    dist.gather_object(obj, out, dst=0)
    return out


def barrier() -> None:
    if rank_and_world()[1] > 1:
        dist.barrier()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, world_size: int, backend: str, port: int, fn: Callable[..., Any], args: tuple) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size),
                      LOCAL_RANK=str(rank))
    if backend == "nccl":
        torch.cuda.set_device(rank)
    dist.init_process_group(backend, rank=rank, world_size=world_size)
    try:
        fn(*args)
    finally:
        dist.destroy_process_group()


def launch(fn: Callable[..., Any], world_size: int, *, backend: str, args: tuple = ()) -> None:
    """Run ``fn(*args)`` in ``world_size`` spawned processes forming one process group.

    ``fn`` and ``args`` must be picklable (a module-level function, plain data, modules whose
    class is importable). Returns when every process has finished; a failure in any process
    raises ``torch.multiprocessing.ProcessRaisedException`` here.
    """
    mp.start_processes(_worker, args=(world_size, backend, _free_port(), fn, args), nprocs=world_size,
                       join=True, start_method="spawn")
