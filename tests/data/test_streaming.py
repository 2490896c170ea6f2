"""Streaming sources (local parquet through the ``datasets`` streaming path a Hub set takes):
rank x worker sharding covers every record exactly once, held-out records never reach
training, and the training stream resumes exactly from its saved state."""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from stylekernel.data import HFSource, StyleTransferDataModule
from stylekernel.data.heldout import HoldoutFilter
from stylekernel.data.sampling import STYLE
from stylekernel.data.train_sides import StreamSide
from stylekernel.data.train_stream import TrainLoader
from stylekernel.errors import StyleKernelError


def parquet_source(files: list[str], **kwargs: Any) -> HFSource:
    return HFSource("parquet", data_files={"train": files}, key_column="id", **kwargs)


class OneDataEpoch(IterableDataset):  # type: ignore[type-arg]
    """Test harness: the keys one (rank, worker) trains on during data epoch 0, read through
    the training stream's own :class:`StreamSide` (same sharding, filtering and shuffling)."""

    def __init__(self, source: HFSource, rank: int, world_size: int, exclude: Callable[[str], bool] | None) -> None:
        self.source, self.rank, self.world_size, self.exclude = source, rank, world_size, exclude

    def __iter__(self) -> Iterator[tuple[int, int, str]]:
        info = get_worker_info()
        worker = info.id if info is not None else 0
        side = StreamSide(self.source, seed=7, tag=STYLE, rank=self.rank, world_size=self.world_size,
                          worker_id=worker, block_size=5, exclude=self.exclude)
        side.restore(None)
        while True:
            record = side.next_record()
            if side.epoch > 0:
                return
            yield self.rank, worker, record.key


def keys_seen(source: HFSource, *, world_size: int, num_workers: int,
              exclude: Callable[[str], bool] | None = None) -> list[tuple[int, int, str]]:
    seen = []
    for rank in range(world_size):  # the ranks, simulated; the workers are real processes
        loader = DataLoader(OneDataEpoch(source, rank, world_size, exclude), batch_size=None,
                            num_workers=num_workers)
        seen.extend((int(r), int(w), k) for r, w, k in loader)
    return seen


@pytest.mark.parametrize("shards", [4, 3])  # 4: whole shards per rank; 3: record-level node split
def test_two_ranks_two_workers_cover_every_record_once(make_parquet: Callable[..., list[str]], shards: int) -> None:
    files = make_parquet(shards=shards, per_shard=7)
    source = parquet_source(files)
    source.validate()
    all_keys = sorted(f"s{s}_{r}" for s in range(shards) for r in range(7))
    seen = keys_seen(source, world_size=2, num_workers=2)
    counts = collections.Counter(k for _, _, k in seen)
    assert sorted(counts) == all_keys  # none missed
    assert max(counts.values()) == 1  # none seen twice
    parts = {(r, w) for r, w, _ in seen}
    if shards == 4:
        assert parts == {(0, 0), (0, 1), (1, 0), (1, 1)}  # every rank x worker got work


def test_heldout_records_never_reach_training(make_parquet: Callable[..., list[str]]) -> None:
    files = make_parquet(shards=4, per_shard=10)
    dm = StyleTransferDataModule(parquet_source(files), parquet_source(files), num_workers=0, batch_size=2,
                                 load_size=32, crop_size=16, val_size=16, test_size=16, stream_holdout_fraction=0.3,
                                 num_val_content=2, num_val_style=2, num_test_content=3, num_test_style=4,
                                 split_seed=5)
    dm.setup("fit")
    heldout = set(dm.heldout_source("style", "val").keys()) | set(dm.heldout_source("style", "test").keys())
    assert len(heldout) == 2 + 4
    exclude = dm._train_exclude("style")
    assert exclude is not None and all(exclude(k) for k in heldout)
    seen = {k for _, _, k in keys_seen(parquet_source(files), world_size=2, num_workers=2, exclude=exclude)}
    assert not seen & heldout
    eligible = {f"s{s}_{r}" for s in range(4) for r in range(10) if HoldoutFilter(5, 0.3)(f"s{s}_{r}")}
    assert seen == {f"s{s}_{r}" for s in range(4) for r in range(10)} - eligible
    # the same held-out images on another "machine" (a fresh datamodule)
    dm2 = StyleTransferDataModule(parquet_source(files), parquet_source(files), num_workers=0,
                                  stream_holdout_fraction=0.3, num_val_content=2, num_val_style=2,
                                  num_test_content=3, num_test_style=4, split_seed=5)
    assert dm2.test_pairs() == dm.test_pairs()
    assert len(dm.test_pairs()) == 3 * 4


def stream_dm(files: list[str], num_workers: int, **kwargs: Any) -> StyleTransferDataModule:
    val = parquet_source(files)
    return StyleTransferDataModule(
        parquet_source(files), parquet_source(files), val_content=val, val_style=val, test_content=val,
        test_style=val, batch_size=3, num_workers=num_workers, load_size=24, crop_size=16, val_size=16,
        test_size=16, steps_per_epoch=4, shuffle_block=5, seed=11, **kwargs)


def batches(loader: TrainLoader, count: int) -> list[torch.Tensor]:
    out: list[torch.Tensor] = []
    while len(out) < count:
        for batch in loader:
            out.append(torch.cat([batch["content"], batch["style"]]))
            if len(out) == count:
                break
    return out


@pytest.mark.parametrize("num_workers", [0, 2])
def test_streaming_resume_is_exact(make_parquet: Callable[..., list[str]], num_workers: int) -> None:
    files = make_parquet(shards=4, per_shard=6)
    reference = batches(stream_dm(files, num_workers).make_train_loader(rank=1, world_size=2), 11)
    first = stream_dm(files, num_workers).make_train_loader(rank=1, world_size=2)
    head = batches(first, 5)  # stops mid-"epoch" (steps_per_epoch=4), across a data epoch too
    state = first.state_dict()
    resumed = stream_dm(files, num_workers).make_train_loader(rank=1, world_size=2)
    resumed.load_state_dict(state)
    tail = batches(resumed, 6)
    for expected, got in zip(reference, head + tail):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
    # and the stream is not trivially constant
    assert not torch.equal(reference[0], reference[1])


def test_too_many_workers_for_shards_is_a_clear_error(make_parquet: Callable[..., list[str]]) -> None:
    files = make_parquet(shards=2, per_shard=3)
    loader = stream_dm(files, num_workers=2).make_train_loader(rank=0, world_size=2)  # 1 shard per rank
    with pytest.raises(StyleKernelError, match="received no training records") as info:
        batches(loader, 2)
    assert "\n" not in str(info.value)


def test_unknown_image_column_fails_at_setup(make_parquet: Callable[..., list[str]]) -> None:
    files = make_parquet(shards=1, per_shard=2)
    dm = StyleTransferDataModule(parquet_source(files, image_column="img"), parquet_source(files))
    with pytest.raises(StyleKernelError, match="no column 'img'.*image, id, label"):
        dm.setup("fit")


def test_hub_id_without_network_fails_at_setup() -> None:
    source = HFSource("huggan/wikiart")  # offline in tests: HF_HUB_OFFLINE=1
    dm = StyleTransferDataModule(source, source)
    with pytest.raises(StyleKernelError, match="huggan/wikiart.*could not be loaded") as info:
        dm.setup("fit")
    assert "\n" not in str(info.value)


def test_undecodable_stream_records_are_skipped(make_parquet: Callable[..., list[str]],
                                                caplog: pytest.LogCaptureFixture) -> None:
    files = make_parquet(shards=2, per_shard=8, broken={"s0_1", "s1_4"})
    dm = stream_dm(files, 0, max_decode_failure_fraction=0.5)
    loader = dm.make_train_loader()
    with caplog.at_level("WARNING", logger="stylekernel.data"):
        got = batches(loader, 6)
    assert len(got) == 6 and loader.decode_failures >= 2
    assert any("s0_1" in r.message or "s1_4" in r.message for r in caplog.records)
    assert any("not an image" in r.message for r in caplog.records)
