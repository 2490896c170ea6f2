"""Image sources: folder order and filters, file lists, Hugging Face map-style, transforms."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stylekernel.data import FileListSource, FolderSource, HFSource, StyleTransferDataModule
from stylekernel.data.transforms import EvalTransform, TrainTransform, center_crop, resize_shorter
from stylekernel.errors import ImageDecodeError, StyleKernelError

from .conftest import gradient_image


def test_folder_source_sorted_recursive_and_filtered(tmp_path: Path) -> None:
    root = tmp_path / "imgs"
    (root / "b").mkdir(parents=True)
    (root / "a" / "deep").mkdir(parents=True)
    for rel in ["z.jpg", "b/y.PNG", "a/deep/x.jpeg", "a/w.webp", "notes.txt", "b/skip.gif"]:
        gradient_image(8, 8).save(root / rel, format="PNG") if not rel.endswith(".txt") else (root / rel).write_text("x")
    (root / "folder.jpg").mkdir()  # a directory named like an image is not an image
    source = FolderSource(root, extensions=[".jpg", ".jpeg", "png", ".webp"])
    assert source.keys() == ["a/deep/x.jpeg", "a/w.webp", "b/y.PNG", "z.jpg"]
    assert FolderSource(root, extensions=[".jpg"], recursive=False).keys() == ["z.jpg"]
    assert source.load(2).size == (8, 8) and source.record(3).key == "z.jpg"
    source.validate()


def test_file_list_source(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    gradient_image(10, 6).save(tmp_path / "imgs" / "one.png")
    absolute = tmp_path / "two.png"
    gradient_image(6, 10).save(absolute)
    listing = tmp_path / "list.txt"
    listing.write_text(f"# comment\n\nimgs/one.png\n{absolute}\nimgs/missing.png\n")
    source = FileListSource(listing)
    assert source.keys() == ["imgs/one.png", str(absolute), "imgs/missing.png"]
    assert source.load(0).size == (10, 6) and source.load(1).size == (6, 10)
    with pytest.raises(ImageDecodeError, match="file not found"):
        source.load(2)
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    with pytest.raises(StyleKernelError, match="names no images"):
        FileListSource(empty).validate()


def test_hf_map_style_source_and_carve(make_parquet: Callable[..., list[str]], tmp_path: Path) -> None:
    files = make_parquet(shards=2, per_shard=6, broken={"s1_0"})
    source = HFSource("parquet", data_files={"train": files}, streaming=False, cache_dir=str(tmp_path / "cache"))
    source.validate()
    assert len(source) == 12 and source.keys()[0] == "train/00000000"
    assert source.load(1).size == (40, 32)
    with pytest.raises(ImageDecodeError, match="not an image"):
        source.load(6)
    keyed = HFSource("parquet", data_files={"train": files}, streaming=False, key_column="id",
                     cache_dir=str(tmp_path / "cache"))
    dm = StyleTransferDataModule(keyed, keyed, num_val_content=2, num_val_style=2, num_test_content=2,
                                 num_test_style=3, num_workers=0, load_size=32, crop_size=16, test_size=16)
    pairs = dm.test_pairs()
    assert len(pairs) == 6 and all(c.startswith("s") for c, _ in pairs)
    assert "s1_0" not in {c for c, _ in pairs} | {s for _, s in pairs}  # broken one skipped
    batch = next(iter(dm.make_train_loader()))
    assert batch["content"].shape == (8, 3, 16, 16)


def test_streaming_source_has_no_index(make_parquet: Callable[..., list[str]]) -> None:
    source = HFSource("parquet", data_files={"train": make_parquet(shards=1, per_shard=2)})
    assert source.num_shards() == 1
    assert len(list(source.iter_records())) == 2
    with pytest.raises(StyleKernelError, match="streaming"):
        source.keys()
    assert bool(source)


def naive_resize_shorter(image: Image.Image, size: int) -> tuple[int, int]:
    w, h = image.size
    return (size, int(h * size / w + 0.5)) if w <= h else (int(w * size / h + 0.5), size)


@pytest.mark.parametrize("wh", [(640, 480), (480, 640), (512, 512), (100, 37), (3, 2000)])
def test_resize_shorter_and_crops(wh: tuple[int, int]) -> None:
    image = gradient_image(*wh)
    out = resize_shorter(image, 64)
    assert out.size == naive_resize_shorter(image, 64) and min(out.size) == 64
    crop = center_crop(out, 64)
    left, top = (out.width - 64) // 2, (out.height - 64) // 2
    np.testing.assert_array_equal(np.asarray(crop), np.asarray(out)[top:top + 64, left:left + 64])
    rng = np.random.default_rng(0)
    tensor = TrainTransform(load_size=80, crop_size=64)(image, rng)
    assert tensor.shape == (3, 64, 64) and 0 <= float(tensor.min()) and float(tensor.max()) <= 1
    assert EvalTransform(size=48)(image).shape == (3, 48, 48)
    full = EvalTransform(size=48, crop=False)(image)
    assert min(full.shape[1:]) == 48


def test_train_transform_crop_position_is_uniform_and_seeded() -> None:
    image = Image.fromarray(np.arange(100, dtype=np.uint8)[None, :].repeat(40, 0), "L").convert("RGB")
    transform = TrainTransform(load_size=40, crop_size=40)
    lefts = [int(round(float(transform(image, np.random.default_rng(s))[0, 0, 0]) * 255)) for s in range(300)]
    assert min(lefts) == 0 and max(lefts) == 60  # every offset 0..60 reachable
    again = [int(round(float(transform(image, np.random.default_rng(s))[0, 0, 0]) * 255)) for s in range(300)]
    assert lefts == again
    with pytest.raises(ValueError):
        TrainTransform(load_size=10, crop_size=20)
