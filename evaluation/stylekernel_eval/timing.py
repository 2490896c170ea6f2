"""Speed and memory of a style-transfer network: ms per image, images/s, peak memory.

Protocol (:func:`benchmark`): random content and style tensors already on the device (decode
and I/O are excluded), ``warmup`` untimed calls, then ``runs`` timed calls, each bracketed by a
device synchronisation; the median is reported. Per size: ms per image at batch 1 and images/s at
``batch_size``. Peak memory: the CUDA allocator's peak (``torch.cuda.max_memory_allocated``,
reset per size) on GPU; on CPU the process's peak resident set size, reset per size through
``/proc/self/clear_refs`` where Linux allows it (otherwise the process-lifetime peak, flagged as
such). The record names the device, dtype, torch version and thread count.
"""

from __future__ import annotations

import platform
import resource
import statistics
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import torch
from torch import nn
from tqdm.auto import tqdm


@dataclass
class SizeTiming:
    """Timing of one square input size."""

    size: int
    ms_per_image: float
    ms_per_image_runs: list[float]
    batch_size: int
    images_per_s: float
    peak_memory_mb: float
    peak_memory_kind: str


@dataclass
class TimingRecord:
    """Everything needed to read (and compare) a timing: the numbers and where they were taken."""

    device: str
    device_name: str
    dtype: str
    torch_version: str
    num_threads: int
    warmup: int
    runs: int
    sizes: list[SizeTiming] = field(default_factory=list)
    cpu: str = field(default_factory=platform.processor)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def synchronize(device: torch.device) -> None:
    """Wait for queued work on ``device`` (CUDA/MPS); a no-op on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _reset_peak(device: torch.device) -> str:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return "cuda_max_memory_allocated"
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (peak RSS) of this process
        return "cpu_peak_rss"
    except OSError:
        return "cpu_peak_rss_process_lifetime"


def peak_rss_mb() -> float:
    """Peak resident set size of this process, in MiB.

    Linux: ``VmHWM`` of /proc/self/status (this program's own high-water mark; ``ru_maxrss``
    survives fork + exec, so a child of a large parent would report the parent's peak).
    Elsewhere: ``ru_maxrss``.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return peak_rss_mb()


def _timed(fn: Any, device: torch.device) -> float:
    synchronize(device)
    t0 = time.perf_counter()
    fn()
    synchronize(device)
    return (time.perf_counter() - t0) * 1000.0


def benchmark(
    net: nn.Module,
    *,
    sizes: Sequence[int],
    batch_size: int,
    warmup: int,
    runs: int,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    progress: bool = True,
) -> TimingRecord:
    """Time ``net(content, style)`` at each square size; see the module docstring for the protocol.

    ``dtype`` other than float32 runs under ``torch.autocast`` (weights stay float32). The protocol's
    values (sizes, batch size, warm-up and timed runs) live in :class:`~stylekernel_eval.protocol.EvalConfig`.
    """
    dev = torch.device(device)
    net = net.to(dev).eval()
    record = TimingRecord(
        device=str(dev),
        device_name=torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.machine(),
        dtype=str(dtype).replace("torch.", ""),
        torch_version=torch.__version__,
        num_threads=torch.get_num_threads(),
        warmup=warmup,
        runs=runs,
    )
    autocast = torch.autocast(device_type=dev.type, dtype=dtype) if dtype != torch.float32 else nullcontext()
    for size in tqdm(list(sizes), desc="timing", disable=not progress):
        gen = torch.Generator().manual_seed(size)
        one = [torch.rand(1, 3, size, size, generator=gen).to(dev) for _ in range(2)]
        many = [torch.rand(batch_size, 3, size, size, generator=gen).to(dev) for _ in range(2)]
        kind = _reset_peak(dev)
        with torch.inference_mode(), autocast:
            for _ in range(warmup):
                net(*one)
            single = [_timed(lambda: net(*one), dev) for _ in range(runs)]
            for _ in range(min(warmup, 1)):
                net(*many)
            batched = [_timed(lambda: net(*many), dev) for _ in range(runs)]
        record.sizes.append(
            SizeTiming(
                size=size,
                ms_per_image=statistics.median(single),
                ms_per_image_runs=single,
                batch_size=batch_size,
                images_per_s=batch_size / (statistics.median(batched) / 1000.0),
                peak_memory_mb=_peak_mb(dev),
                peak_memory_kind=kind,
            )
        )
    return record

