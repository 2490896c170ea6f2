"""Speed and memory of a style-transfer network: ms per image, images/s, peak memory.

Protocol (:func:`benchmark`): random content and style tensors already on the device (decode
and I/O are excluded). Two configurations per size: batch 1 (ms per image) and ``batch_size``
(images/s). Each configuration gets ``warmup`` untimed calls, then ``runs`` timed calls; the
median is reported. On CUDA each call is timed with CUDA events (recorded on the stream, read
after a synchronisation); elsewhere with ``perf_counter`` between device synchronisations.
Peak memory, per configuration, labelled as what it is:

* CUDA ``cuda_allocator_peak``: ``torch.cuda.max_memory_allocated`` (tensors only, not the
  allocator's cache or the CUDA context), reset before the configuration's warm-up;
* CPU ``cpu_process_peak_rss``: the whole process's high-water mark of resident memory (weights,
  metric networks, images: everything loaded), reset to the current RSS before the configuration
  through ``/proc/self/clear_refs`` (Linux); ``cpu_process_peak_rss_since_start`` where that
  reset is not allowed.

The record names the device, dtype (the precision of the stylization), torch version and threads.
"""

from __future__ import annotations

import platform
import resource
import statistics
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

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
    peak_memory_mb: float  # batch 1
    peak_memory_kind: str
    peak_memory_mb_batch: float = 0.0  # batch ``batch_size``


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
        return "cuda_allocator_peak"
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (peak RSS) of this process to its current RSS
        return "cpu_process_peak_rss"
    except OSError:
        return "cpu_process_peak_rss_since_start"


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
    """Milliseconds of one call of ``fn``: CUDA events on CUDA, else perf_counter between synchronisations."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        synchronize(device)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return float(start.elapsed_time(end))
    synchronize(device)
    t0 = time.perf_counter()
    fn()
    synchronize(device)
    return (time.perf_counter() - t0) * 1000.0


def _configuration(fn: Any, inputs: list[torch.Tensor], *, warmup: int, runs: int, device: torch.device) -> tuple[list[float], float, str]:
    """Warm-up, timed runs and the peak memory of one configuration: (ms per run, peak MB, peak kind)."""
    kind = _reset_peak(device)
    for _ in range(warmup):
        fn(*inputs)
    times = [_timed(lambda: fn(*inputs), device) for _ in range(runs)]
    return times, _peak_mb(device), kind


def benchmark(
    net: Callable[[torch.Tensor, torch.Tensor], Any],
    *,
    sizes: Sequence[int],
    batch_size: int,
    warmup: int,
    runs: int,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    precision: str | None = None,
    progress: bool = True,
) -> TimingRecord:
    """Time ``net(content, style)`` at each square size; see the module docstring for the protocol.

    ``net``: an ``nn.Module`` (moved to ``device``, eval mode) or any callable, e.g. the
    evaluation runner's Stylizer path, which applies its own precision (then pass ``precision``
    for the record and leave ``dtype``). ``dtype`` other than float32 runs ``net`` under
    ``torch.autocast``. The protocol's values live in :class:`~stylekernel_eval.protocol.EvalConfig`.
    """
    dev = torch.device(device)
    if isinstance(net, nn.Module):
        net = net.to(dev).eval()
    record = TimingRecord(
        device=str(dev),
        device_name=torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.machine(),
        dtype=precision if precision is not None else str(dtype).replace("torch.", ""),
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
        with torch.inference_mode(), autocast:
            single, peak_one, kind = _configuration(net, one, warmup=warmup, runs=runs, device=dev)
            del one
            batched, peak_many, _ = _configuration(net, many, warmup=warmup, runs=runs, device=dev)
        record.sizes.append(
            SizeTiming(
                size=size,
                ms_per_image=statistics.median(single),
                ms_per_image_runs=single,
                batch_size=batch_size,
                images_per_s=batch_size / (statistics.median(batched) / 1000.0),
                peak_memory_mb=peak_one,
                peak_memory_kind=kind,
                peak_memory_mb_batch=peak_many,
            )
        )
    return record
