"""Loading images for evaluation, saving stylisations, and batching tensors of equal size.

Decoding is :func:`stylekernel.data.decode.load_image` at full resolution (no JPEG draft mode),
and resizing is the test transform of the data layer (:class:`stylekernel.data.transforms.
EvalTransform`: shorter side to ``size`` with PIL's antialiased bicubic, then a centre square
crop), so evaluation sees the pixels the test loop sees.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Hashable, Iterable, Iterator, TypeVar

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from stylekernel.data.decode import load_image
from stylekernel.data.transforms import EvalTransform, to_tensor

T = TypeVar("T")


def load_tensor(path: Path, *, size: int | None = None, crop: bool = True) -> tuple[Tensor, tuple[int, int]]:
    """Decode ``path`` -> ((3, H, W) float32 in [0, 1], the stored (H, W)).

    ``size`` None keeps the file's size; otherwise the shorter side goes to ``size`` and, with
    ``crop``, the centre ``size`` x ``size`` square is kept.
    """
    image = load_image(path)
    stored = (image.height, image.width)
    x = EvalTransform(size, crop)(image) if size is not None else to_tensor(image)
    return x, stored


def resize_to(x: Tensor, size: tuple[int, int]) -> Tensor:
    """(3, H, W) in [0, 1] -> (3, size[0], size[1]) with PIL bicubic on the 8-bit image (as a file would be)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    image = Image.fromarray(to_uint8(x).permute(1, 2, 0).numpy())
    return to_tensor(image.resize((size[1], size[0]), Image.Resampling.BICUBIC))


def to_uint8(x: Tensor) -> Tensor:
    """(..., H, W) in [0, 1] -> uint8 with round-half-to-even of x * 255 after clamping."""
    return (x.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu()


def quantize(x: Tensor) -> Tensor:
    """Round images in [0, 1] to the 256 levels an 8-bit file holds (same dtype and device)."""
    return (x.clamp(0, 1) * 255).round() / 255


def save_png(x: Tensor, path: Path) -> None:
    """Write (3, H, W) in [0, 1] as an 8-bit RGB PNG (lossless)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(to_uint8(x).permute(1, 2, 0).numpy())).save(path)


def batches(items: Iterable[T], batch_size: int, key: Callable[[T], Hashable]) -> Iterator[list[T]]:
    """Consecutive runs of at most ``batch_size`` items with equal ``key`` (e.g. tensor shapes)."""
    run: list[T] = []
    for item in items:
        if run and (len(run) == batch_size or key(item) != key(run[0])):
            yield run
            run = []
        run.append(item)
    if run:
        yield run
