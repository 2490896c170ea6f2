"""Timing: the record names where it was taken; medians of timed runs; peak memory."""

from __future__ import annotations

import statistics
import time

import torch
from torch import Tensor, nn

from stylekernel_eval.timing import benchmark


class Sleeper(nn.Module):
    """A 'network' whose cost is known: sleeps 2 ms per image."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, ...]] = []

    def forward(self, content: Tensor, style: Tensor) -> Tensor:
        self.calls.append(tuple(content.shape))
        time.sleep(0.002 * content.shape[0])
        return content


def test_benchmark_protocol_and_record() -> None:
    net = Sleeper()
    rec = benchmark(net, sizes=(16, 32), batch_size=3, warmup=2, runs=4, progress=False)
    d = rec.to_dict()
    assert d["device"] == "cpu" and d["dtype"] == "float32"
    assert d["torch_version"] == torch.__version__ and d["num_threads"] == torch.get_num_threads()
    assert [s["size"] for s in d["sizes"]] == [16, 32]
    # per size and configuration: 2 warm-up + 4 timed calls, at batch 1 and at batch 3 alike
    assert net.calls[:6] == [(1, 3, 16, 16)] * 6 and net.calls[6:12] == [(3, 3, 16, 16)] * 6
    assert len(net.calls) == 24
    for s in d["sizes"]:
        assert len(s["ms_per_image_runs"]) == 4
        assert s["ms_per_image"] == statistics.median(s["ms_per_image_runs"])
        assert 2.0 <= s["ms_per_image"] < 200
        assert 3 / 0.2 < s["images_per_s"] <= 3 / 0.006
        assert s["peak_memory_mb"] > 0 and s["peak_memory_mb_batch"] > 0
        assert s["peak_memory_kind"].startswith("cpu_process_peak_rss")


def test_peak_memory_sees_a_large_allocation() -> None:
    class Hog(nn.Module):
        def forward(self, content: Tensor, style: Tensor) -> Tensor:
            big = torch.ones(64, 2**20)  # 256 MB
            return content + big[0, 0]

    rec = benchmark(Hog(), sizes=(8,), batch_size=1, warmup=1, runs=1, progress=False)
    small = benchmark(Sleeper(), sizes=(8,), batch_size=1, warmup=1, runs=1, progress=False)
    assert rec.sizes[0].peak_memory_mb > small.sizes[0].peak_memory_mb + 200
