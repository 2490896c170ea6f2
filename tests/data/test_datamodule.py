"""StyleTransferDataModule on indexed sources: batches, the sampling rule against a naive
reference, DDP disjointness, held-out carving, test pairs, decode failures, exact resume."""

from __future__ import annotations

import collections
import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from stylekernel.data import DemoSource, FileListSource, FolderSource, MemorySource, Record, StyleTransferDataModule
from stylekernel.data.train_stream import DecodeFailureError, TrainLoader
from stylekernel.errors import ConfigError, StyleKernelError

SMALL = dict(load_size=40, crop_size=32, val_size=24, test_size=28, steps_per_epoch=3)


def folder_dm(content: Path, style: Path, **kwargs: Any) -> StyleTransferDataModule:
    options: dict[str, Any] = dict(batch_size=4, num_workers=0, num_val_content=2, num_val_style=2,
                                   num_test_content=3, num_test_style=2, **SMALL)
    options.update(kwargs)
    return StyleTransferDataModule(FolderSource(content), FolderSource(style), **options)


def take(loader: TrainLoader, count: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while len(out) < count:
        for batch in loader:
            out.append(batch)
            if len(out) == count:
                break
    return out


def test_batches_shapes_ranges_and_ids(make_folder: Callable[..., Path]) -> None:
    dm = folder_dm(make_folder("c", 12), make_folder("s", 10, seed=1))
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"content", "style"}
    for key in ("content", "style"):
        assert batch[key].shape == (4, 3, 32, 32) and batch[key].dtype == torch.float32
        assert 0.0 <= float(batch[key].min()) and float(batch[key].max()) <= 1.0
    val = next(iter(dm.val_dataloader()))
    assert val["content"].shape[1:] == (3, 24, 24)
    assert isinstance(val["content_id"], list) and isinstance(val["content_id"][0], str)
    assert [tuple(p) for p in zip(val["content_id"], val["style_id"])] == dm.val_pairs()[:4]
    dm.setup("test")
    test = next(iter(dm.test_dataloader()))
    assert test["style"].shape[1:] == (3, 28, 28)
    assert len(dm.test_pairs()) == 3 * 2
    assert len(dm.train_dataloader()) == 3


def naive_train_sample(files: list[Path], seed: int, tag: int, g: int, crop_rng: np.random.Generator,
                       load: int, crop: int) -> np.ndarray:
    """The sampling rule of the docs, written independently: permutation per data epoch."""
    n = len(files)
    index = np.random.default_rng([seed, tag, g // n]).permutation(n)[g % n]
    image = Image.open(files[index]).convert("RGB")
    w, h = image.size
    size = (load, int(h * load / w + 0.5)) if w <= h else (int(w * load / h + 0.5), load)
    image = image.resize(size, Image.Resampling.BICUBIC)
    left = int(crop_rng.integers(0, image.width - crop + 1))
    top = int(crop_rng.integers(0, image.height - crop + 1))
    return np.asarray(image.crop((left, top, left + crop, top + crop)), np.float32).transpose(2, 0, 1) / 255.0


def test_sampling_matches_naive_reference(make_folder: Callable[..., Path]) -> None:
    content, style = make_folder("c", 7), make_folder("s", 5, seed=1)
    dm = StyleTransferDataModule(FolderSource(content), FolderSource(style), val_content=DemoSource("content"),
                                 val_style=DemoSource("style"), test_content=DemoSource("content"),
                                 test_style=DemoSource("style"), batch_size=3, num_workers=0, seed=42,
                                 draft=False, **SMALL)
    cfiles = sorted(p for p in content.rglob("*") if p.is_file())
    cfiles = sorted(cfiles, key=lambda p: p.relative_to(content).as_posix())
    sfiles = sorted((p for p in style.rglob("*") if p.is_file()), key=lambda p: p.relative_to(style).as_posix())
    world, rank = 3, 2
    got = take(dm.make_train_loader(rank=rank, world_size=world), 4)  # 12 samples: passes data epochs
    for b, batch in enumerate(got):
        for j in range(3):
            g = (b * 3 + j) * world + rank
            crop_rng = np.random.default_rng([42, 3, g])
            c = naive_train_sample(cfiles, 42, 1, g, crop_rng, 40, 32)
            s = naive_train_sample(sfiles, 42, 2, g, crop_rng, 40, 32)
            np.testing.assert_allclose(batch["content"][j].numpy(), c, atol=1e-6)
            np.testing.assert_allclose(batch["style"][j].numpy(), s, atol=1e-6)


def coloured(n: int) -> MemorySource:
    """n uniform images whose red value encodes their index (readable after resize/crop)."""
    return MemorySource([Record(f"{i:03d}.png", Image.new("RGB", (48, 40), (i * 4, 50, 100))) for i in range(n)])


def index_of(batch: torch.Tensor) -> list[int]:
    return [round(float(x) * 255 / 4) for x in batch[:, 0, 0, 0]]


def test_ranks_and_workers_read_disjoint_images_in_a_data_epoch() -> None:
    n_content, n_style = 24, 16
    dm = StyleTransferDataModule(coloured(n_content), coloured(n_style), val_content=coloured(2),
                                 val_style=coloured(2), test_content=coloured(2), test_style=coloured(2),
                                 batch_size=3, num_workers=2, **SMALL)
    seen: dict[int, list[int]] = {}
    for rank in range(2):
        loader = dm.make_train_loader(rank=rank, world_size=2)
        contents = [i for batch in take(loader, 4) for i in index_of(batch["content"])]
        seen[rank] = contents  # 12 samples per rank = one pass over 24 content images
    assert not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == list(range(n_content))
    # content and style are drawn independently (not the same permutation)
    loader = dm.make_train_loader(rank=0, world_size=1)
    batch = take(loader, 2)
    pairs = [(c, s) for b in batch for c, s in zip(index_of(b["content"]), index_of(b["style"]))]
    assert any(c != s for c, s in pairs)


def test_worker_count_does_not_change_batches(make_folder: Callable[..., Path]) -> None:
    content, style = make_folder("c", 8), make_folder("s", 6, seed=1)
    a = take(folder_dm(content, style, num_workers=0).make_train_loader(), 5)
    b = take(folder_dm(content, style, num_workers=2).make_train_loader(), 5)
    for x, y in zip(a, b):
        assert torch.equal(x["content"], y["content"]) and torch.equal(x["style"], y["style"])
    c = take(folder_dm(content, style, num_workers=0, seed=1).make_train_loader(), 1)
    assert not torch.equal(a[0]["content"], c[0]["content"])


def test_carve_is_deterministic_disjoint_and_path_independent(make_folder: Callable[..., Path], tmp_path: Path) -> None:
    content, style = make_folder("c", 15), make_folder("s", 9, seed=1)
    dm = folder_dm(content, style)
    dm.setup("fit")
    held = set(dm.heldout_source("content", "val").keys()) | set(dm.heldout_source("content", "test").keys())
    assert len(held) == 2 + 3
    train = dm._train_source("content")
    assert not held & set(train.keys()) and len(train.keys()) == 15 - 5
    # same ids from a copy of the folder elsewhere ("another machine") and another training seed
    copy = tmp_path / "elsewhere" / "content"
    shutil.copytree(content, copy)
    dm2 = folder_dm(copy, style, seed=123)
    assert dm2.test_pairs() == dm.test_pairs()
    assert dm2.val_pairs() == dm.val_pairs()
    # another split seed gives another split
    assert folder_dm(content, style, split_seed=9).test_pairs() != dm.test_pairs()
    # test pairs: every content x every style, content-major, ids sorted
    pairs = dm.test_pairs()
    contents = sorted({c for c, _ in pairs})
    styles = sorted({s for _, s in pairs})
    assert pairs == [(c, s) for c in contents for s in styles]


def test_training_never_sees_heldout_images() -> None:
    content = coloured(20)
    dm = StyleTransferDataModule(content, coloured(10), batch_size=5, num_workers=0, num_val_content=3,
                                 num_val_style=2, num_test_content=4, num_test_style=2, **SMALL)
    held = {int(k[:3]) for k in dm.heldout_source("content", "val").keys() + dm.heldout_source("content", "test").keys()}
    seen = {i for batch in take(dm.make_train_loader(), 12) for i in index_of(batch["content"])}
    assert seen and not seen & held
    assert seen == set(range(20)) - held


def test_pairs_file(make_folder: Callable[..., Path], tmp_path: Path) -> None:
    content, style = make_folder("c", 12), make_folder("s", 8, seed=1)
    pairs = folder_dm(content, style).test_pairs()
    chosen = [pairs[4], pairs[0]]
    file = tmp_path / "pairs.csv"
    file.write_text("content,style\n# comment\n" + "".join(f"{c},{s}\n" for c, s in chosen))
    dm = folder_dm(content, style, pairs_file=str(file))
    assert dm.test_pairs() == chosen
    dm.setup("test")
    batch = next(iter(dm.test_dataloader()))
    assert list(zip(batch["content_id"], batch["style_id"])) == chosen
    file.write_text("nope.jpg,also-nope.jpg\n")
    with pytest.raises(ConfigError, match="nope.jpg"):
        folder_dm(content, style, pairs_file=str(file)).test_pairs()


def test_explicit_sources_and_full_image_test(make_folder: Callable[..., Path]) -> None:
    content, style = make_folder("c", 6), make_folder("s", 4, seed=1)
    test = make_folder("t", 3, size=(50, 30), nested=False, seed=2)
    dm = StyleTransferDataModule(FolderSource(content), FolderSource(style), test_content=FolderSource(test),
                                 test_style=FolderSource(test), num_val_content=1, num_val_style=1,
                                 test_crop=False, num_workers=0, **SMALL)
    assert len(dm._train_source("content").keys()) == 5  # only the validation image was carved
    assert dm.test_pairs()[0] == ("img000.jpg", "img000.jpg") and len(dm.test_pairs()) == 9
    dm.setup("test")
    batch = next(iter(dm.test_dataloader()))
    assert batch["content"].shape[0] == 1 and min(batch["content"].shape[2:]) == 28
    assert batch["content"].shape[3] > batch["content"].shape[2]  # aspect ratio kept


def test_bad_sources_fail_at_setup_with_one_line(tmp_path: Path, make_folder: Callable[..., Path]) -> None:
    good = make_folder("good", 8)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images here")
    cases = {
        tmp_path / "missing": "does not exist",
        empty: "contains no files ending in",
    }
    for folder, message in cases.items():
        dm = folder_dm(folder, good)
        with pytest.raises(StyleKernelError, match=message) as info:
            dm.setup("fit")
        assert str(folder) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(StyleKernelError, match="does not exist"):
        StyleTransferDataModule(FileListSource(tmp_path / "list.txt"), FolderSource(good)).setup("fit")
    with pytest.raises(ConfigError, match="crop_size"):
        StyleTransferDataModule(FolderSource(good), FolderSource(good), load_size=100, crop_size=200)
    with pytest.raises(ConfigError, match="too few"):
        folder_dm(make_folder("tiny", 3), good).setup("fit")


def add_broken(folder: Path, count: int) -> list[str]:
    names = []
    for i in range(count):
        name = f"broken{i:02d}.jpg"
        (folder / name).write_bytes(b"<html>oops</html>" if i % 2 else b"")
        names.append(name)
    return names


def test_undecodable_images_are_skipped_and_counted(make_folder: Callable[..., Path],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    content = make_folder("c", 30)
    broken = add_broken(content, 2)
    dm = folder_dm(content, make_folder("s", 6, seed=1), max_decode_failure_fraction=0.2, verify_heldout=True)
    dm.setup("fit")
    assert not set(broken) & set(dm.heldout_source("content", "val").keys())
    loader = dm.make_train_loader()
    with caplog.at_level("WARNING", logger="stylekernel.data"):
        got = take(loader, 12)  # 48 samples: more than one pass over the 27 training images
    assert all(b["content"].shape == (4, 3, 32, 32) for b in got)
    assert loader.decode_failures >= 2
    messages = " ".join(r.message for r in caplog.records)
    assert all(name in messages for name in broken)
    assert "skipped in" in messages


def test_too_many_failures_stop_the_run_with_a_clear_message(make_folder: Callable[..., Path]) -> None:
    content = make_folder("c", 10)
    add_broken(content, 10)
    dm = folder_dm(content, make_folder("s", 6, seed=1), max_decode_failure_fraction=0.05, verify_heldout=True,
                   num_val_content=1, num_test_content=1, num_workers=2)
    loader = dm.make_train_loader()
    with pytest.raises(DecodeFailureError, match="max_decode_failure_fraction=0.05") as info:
        take(loader, 200)
    assert "\n" not in str(info.value) and "stylekernel data check" in str(info.value)


def test_all_broken_source_fails_cleanly_from_a_worker(tmp_path: Path, make_folder: Callable[..., Path]) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    add_broken(folder, 6)
    dm = StyleTransferDataModule(FolderSource(folder), FolderSource(make_folder("s", 4)), val_content=coloured(1),
                                 val_style=coloured(1), test_content=coloured(1), test_style=coloured(1),
                                 num_workers=2, max_decode_failure_fraction=1.0, **SMALL)
    with pytest.raises(StyleKernelError, match="none of 64 candidate images could be decoded") as info:
        take(dm.make_train_loader(), 1)
    assert "\n" not in str(info.value) and "Traceback" not in str(info.value)


def test_demo_source() -> None:
    content, style = DemoSource("content"), DemoSource("style")
    assert len(content) == 6 and len(style) == 7 + 4
    assert content.keys()[0] == "astronaut.png" and "pattern_mosaic.png" in style.keys()
    images = [content.load(i) for i in range(len(content))]
    assert all(min(im.size) == 256 and im.mode == "RGB" for im in images)
    digests = {hashlib.md5(im.tobytes()).hexdigest() for im in images}
    assert len(digests) == 6  # cat is mirrored, so not a copy of chelsea
    again = DemoSource("style").load(9)
    assert again.tobytes() == style.load(9).tobytes()  # deterministic patterns
    assert np.asarray(style.load(style.keys().index("brick.png"))).std(axis=(0, 1)).min() > 1  # tinted
    with pytest.raises(ConfigError):
        DemoSource("landscape")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- Lightning resume


class Recorder:
    @staticmethod
    def module() -> Any:
        import lightning as L

        class M(L.LightningModule):
            def __init__(self) -> None:
                super().__init__()
                self.w = torch.nn.Parameter(torch.zeros(1))
                self.seen: list[str] = []

            def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
                data = batch["content"].numpy().tobytes() + batch["style"].numpy().tobytes()
                self.seen.append(hashlib.md5(data).hexdigest())
                return (self.w * batch["content"].mean()).sum()

            def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
                assert "content_id" in batch

            def configure_optimizers(self) -> torch.optim.Optimizer:
                return torch.optim.SGD(self.parameters(), lr=0.1)

        return M()


@pytest.mark.parametrize("save_step", [4, 3])  # mid-epoch and at an epoch boundary (3 steps/epoch)
def test_fit_resumed_from_checkpoint_sees_the_same_batches(make_folder: Callable[..., Path], tmp_path: Path,
                                                           save_step: int) -> None:
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint

    content, style = make_folder("c", 10), make_folder("s", 8, seed=1)
    common = dict(logger=False, enable_progress_bar=False, enable_model_summary=False, limit_val_batches=1,
                  num_sanity_val_steps=0, accelerator="cpu", devices=1)

    def run(max_steps: int, ckpt_path: str | None = None, callbacks: list[Any] | None = None) -> list[str]:
        module = Recorder.module()
        trainer = L.Trainer(default_root_dir=tmp_path, max_steps=max_steps, callbacks=callbacks or [], **common)
        trainer.fit(module, datamodule=folder_dm(content, style), ckpt_path=ckpt_path)
        return module.seen

    full = run(8)
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_train_steps=save_step, save_top_k=-1,
                                 filename="{step}")
    head = run(save_step, callbacks=[checkpoint])
    tail = run(8, ckpt_path=str(tmp_path / "ckpt" / f"step={save_step}.ckpt"))
    assert len(set(full)) == 8
    assert head + tail == full


def test_datamodule_state_roundtrip(make_folder: Callable[..., Path]) -> None:
    content, style = make_folder("c", 8), make_folder("s", 6, seed=1)
    dm = folder_dm(content, style)
    loader = dm.train_dataloader()
    take(loader, 2)
    state = dm.state_dict()
    assert state["train_loader"]["next_batch"] == 2
    fresh = folder_dm(content, style)
    fresh.load_state_dict(state)
    expected = take(loader, 1)[0]["content"]
    assert torch.equal(take(fresh.train_dataloader(), 1)[0]["content"], expected)
    assert collections.Counter(state["train_loader"]).keys() >= {"seed", "world_size"}
