"""Fixtures of the data tests: images, folders and parquet data sets made by the tests.

Nothing is downloaded: Hub-style sources are local parquet files read through the same
``datasets`` streaming code path a Hub data set takes.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def gradient_image(width: int, height: int, seed: int = 0) -> Image.Image:
    """A smooth, seeded RGB test picture (JPEG-friendly, every image distinct)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    freq = rng.uniform(1.0, 4.0, size=3)
    chans = [
        127.5 + 127.5 * np.sin(2 * np.pi * freq[c] * (x / width + 0.5 * y / height) + phase[c]) for c in range(3)
    ]
    return Image.fromarray(np.stack(chans, -1).clip(0, 255).astype(np.uint8), "RGB")


def encode(image: Image.Image, fmt: str = "JPEG", **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def _datasets_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep ``datasets`` cache and lock files out of the user's home during these tests."""
    import datasets.config

    cache = tmp_path_factory.getbasetemp() / "hf-datasets-cache"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))


@pytest.fixture
def make_folder(tmp_path: Path) -> Callable[..., Path]:
    """``make_folder(name, count, size=(w, h), nested=True)``: a folder of distinct JPEG/PNG files."""

    def make(name: str = "images", count: int = 10, size: tuple[int, int] = (80, 60), nested: bool = True,
             seed: int = 0) -> Path:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            folder = root / f"sub{i % 3}" if nested and i % 2 else root
            folder.mkdir(exist_ok=True)
            image = gradient_image(size[0] + i, size[1] + (i % 5), seed=seed * 1000 + i)
            if i % 4 == 3:
                image.save(folder / f"img{i:03d}.png")
            else:
                image.save(folder / f"img{i:03d}.jpg", quality=90)
        return root

    return make


@pytest.fixture
def make_parquet(tmp_path: Path) -> Callable[..., list[str]]:
    """``make_parquet(name, shards, per_shard)``: parquet files with an ``image`` column of PNG
    bytes (``datasets.Image`` feature, as on the Hub) and an ``id`` column ``s{shard}_{row}``."""

    def make(name: str = "pq", shards: int = 4, per_shard: int = 6, size: tuple[int, int] = (40, 32),
             broken: set[str] | None = None) -> list[str]:
        import datasets

        folder = tmp_path / name
        folder.mkdir(parents=True, exist_ok=True)
        features = datasets.Features({"image": datasets.Image(), "id": datasets.Value("string"),
                                      "label": datasets.Value("int64")})
        files = []
        for shard in range(shards):
            rows = []
            for row in range(per_shard):
                key = f"s{shard}_{row}"
                data = b"<html>not an image</html>" if broken and key in broken else encode(
                    gradient_image(size[0], size[1], seed=shard * 100 + row), "PNG"
                )
                rows.append({"image": {"bytes": data, "path": None}, "id": key, "label": row})
            path = folder / f"train-{shard:05d}.parquet"
            datasets.Dataset.from_list(rows, features=features).to_parquet(str(path), batch_size=4)
            files.append(str(path))
        return files

    return make
