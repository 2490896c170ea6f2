"""Loading images for evaluation, and batching tensors of equal size.

Decoding is :func:`stylekernel.image_files.load_image` at full resolution (no JPEG draft mode),
and resizing is the test transform of the data layer (:class:`stylekernel.data.transforms.
EvalTransform`: shorter side to ``size`` with PIL's antialiased bicubic, then a centre square
crop), so evaluation sees the pixels the test loop sees. Rounding to 8 bits and saving are
:mod:`stylekernel.image_files`'s (``to_uint8``, ``quantize``, ``save_image``), re-exported here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Hashable, Iterable, Iterator, TypeVar

from PIL import Image
from torch import Tensor

from stylekernel.data.transforms import EvalTransform, to_tensor
from stylekernel.image_files import load_image, quantize, save_image, to_uint8

__all__ = ["batches", "load_tensor", "quantize", "resize_to", "save_image", "to_uint8"]

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
