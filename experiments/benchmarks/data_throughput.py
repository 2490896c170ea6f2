"""Data-loading throughput: images/s per DataLoader worker for decode + resize + random crop.

Measures, in one process (= one worker), the training pipeline of ``stylekernel.data`` at the
default sizes (shorter side 512, random crop 256) for

* a folder source (``FolderSource`` -> ``IndexedSide``) and a streaming source (local parquet
  read through ``HFSource(streaming=True)`` -> ``StreamSide``, the Hub code path),
* JPEGs of 512x384 (COCO-like) and 2400x1800 (large WikiArt scans),
* JPEG draft decoding on and off,

and prints how many workers one GPU needs to sustain ``--step-rate`` training steps/s with
batch ``--batch-size`` (each step reads ``2 x batch`` images: content and style).
Figures are printed and saved as JSON (``--output``). Test images are generated (seeded).

Usage::

    python experiments/benchmarks/data_throughput.py [--images 24] [--seconds 4] \
        [--step-rate 10] [--batch-size 8] [--output experiments/benchmarks/results/data_throughput.json]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from stylekernel.data.sampling import CONTENT, sample_rng
from stylekernel.data.hf_source import HFSource
from stylekernel.data.sources import FolderSource
from stylekernel.data.train_sides import DecodeReport, IndexedSide, StreamSide
from stylekernel.data.transforms import TrainTransform

SIZES = {"512x384": (512, 384), "2400x1800": (2400, 1800)}


def photo_like(width: int, height: int, seed: int) -> Image.Image:
    """A seeded picture with smooth gradients and texture (JPEG sizes close to real photos)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(max(2, height // 64), max(2, width // 64), 3), dtype=np.uint8)
    base = Image.fromarray(small, "RGB").resize((width, height), Image.Resampling.BICUBIC)
    noise = rng.normal(0, 12, size=(height, width, 3))
    return Image.fromarray(np.clip(np.asarray(base, np.float32) + noise, 0, 255).astype(np.uint8), "RGB")


def make_data(root: Path, name: str, size: tuple[int, int], count: int) -> tuple[Path, list[str], float]:
    """A folder of ``count`` JPEGs and the same JPEGs as 2 parquet shards; returns mean file size (MB)."""
    import datasets

    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    blobs = []
    for i in range(count):
        buffer = io.BytesIO()
        photo_like(*size, seed=i).save(buffer, "JPEG", quality=90)
        blobs.append(buffer.getvalue())
        (folder / f"{i:04d}.jpg").write_bytes(blobs[-1])
    features = datasets.Features({"image": datasets.Image(), "id": datasets.Value("string")})
    files = []
    for shard in range(2):
        rows = [{"image": {"bytes": b, "path": None}, "id": f"{name}-{i}"}
                for i, b in enumerate(blobs) if i % 2 == shard]
        path = root / f"{name}-{shard}.parquet"
        datasets.Dataset.from_list(rows, features=features).to_parquet(str(path))
        files.append(str(path))
    return folder, files, float(np.mean([len(b) for b in blobs]) / 1e6)


def measure(side: IndexedSide | StreamSide, transform: TrainTransform, *, draft: bool, seconds: float) -> float:
    """Images/s of ``side.draw`` + ``transform`` in this process, after one warm-up image."""
    report = DecodeReport()
    min_side = transform.min_side if draft else None
    g = 0

    def one() -> None:
        nonlocal g
        image = side.draw(g, min_side=min_side, report=report)
        transform.array(image, sample_rng(0, 3, g))
        g += 1

    one()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or done < 8:
        one()
        done += 1
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=24, help="images generated per size")
    parser.add_argument("--seconds", type=float, default=4.0, help="measuring time per configuration")
    parser.add_argument("--load-size", type=int, default=512)
    parser.add_argument("--crop-size", type=int, default=256)
    parser.add_argument("--step-rate", type=float, default=10.0, help="training steps/s of one GPU")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "data_throughput.json"))
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)  # like a DataLoader worker
    transform = TrainTransform(load_size=args.load_size, crop_size=args.crop_size)
    needed = args.step_rate * args.batch_size * 2
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for size_name, size in SIZES.items():
            folder, files, mb = make_data(Path(tmp), size_name, size, args.images)
            for source_kind in ("folder", "stream"):
                for draft in (True, False):
                    if source_kind == "folder":
                        side: IndexedSide | StreamSide = IndexedSide(FolderSource(folder), seed=0, tag=CONTENT)
                    else:
                        source = HFSource("parquet", data_files={"train": files}, key_column="id")
                        side = StreamSide(source, seed=0, tag=CONTENT, rank=0, world_size=1, worker_id=0,
                                          block_size=16)
                    rate = measure(side, transform, draft=draft, seconds=args.seconds)
                    row = {"source": source_kind, "jpeg": size_name, "mean_file_mb": round(mb, 3),
                           "draft": draft, "images_per_s_per_worker": round(rate, 1),
                           "workers_needed": math.ceil(needed / rate)}
                    rows.append(row)
                    print(f"{source_kind:6s} {size_name:9s} draft={'on ' if draft else 'off'} "
                          f"{rate:7.1f} img/s/worker -> {row['workers_needed']:3d} workers for "
                          f"{args.step_rate:g} steps/s x batch {args.batch_size} (x2 images)")
    result = {
        "settings": {"load_size": args.load_size, "crop_size": args.crop_size, "step_rate": args.step_rate,
                     "batch_size": args.batch_size, "images_needed_per_s": needed, "images": args.images,
                     "seconds": args.seconds},
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count(), "load_average": list(os.getloadavg()),
                    "pillow": Image.__version__},
        "results": rows,
    }
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"images needed per second: {needed:g}; saved {output}")


if __name__ == "__main__":
    main()
