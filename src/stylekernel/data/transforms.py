"""Image transforms of the training recipe (METHOD.md): resize the shorter side, crop, to tensor.

Training: shorter side to ``load_size`` (512), random ``crop_size`` x ``crop_size`` crop (256).
Validation / test: shorter side to ``size``, centre crop ``size`` x ``size`` (or, for test with
``crop=False``, the whole resized image). Randomness comes from an explicit
``numpy.random.Generator`` so that every crop is a function of the sample's seed.
All functions take and return ``PIL.Image.Image`` in RGB, except :func:`to_tensor`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

__all__ = [
    "resize_shorter",
    "center_crop",
    "random_crop",
    "to_array",
    "to_tensor",
    "TrainTransform",
    "EvalTransform",
]

_RESAMPLE = Image.Resampling.BICUBIC


def resize_shorter(image: Image.Image, size: int) -> Image.Image:
    """Resize so that the shorter side is exactly ``size`` pixels, keeping the aspect ratio.

    Uses PIL's antialiased bicubic filter (correct for both down- and up-scaling). The longer
    side is rounded half up to a whole pixel (at least 1).
    """
    width, height = image.size
    if min(width, height) == size:
        return image
    if width <= height:
        new = (size, max(1, int(height * size / width + 0.5)))
    else:
        new = (max(1, int(width * size / height + 0.5)), size)
    return image.resize(new, _RESAMPLE)


def center_crop(image: Image.Image, size: int) -> Image.Image:
    """Crop the central ``size`` x ``size`` square (the image must be at least that large)."""
    width, height = image.size
    if width < size or height < size:
        raise ValueError(f"cannot centre-crop {size}x{size} from a {width}x{height} image")
    left = (width - size) // 2
    top = (height - size) // 2
    return image.crop((left, top, left + size, top + size))


def random_crop(image: Image.Image, size: int, rng: np.random.Generator) -> Image.Image:
    """Crop a ``size`` x ``size`` square at a position drawn uniformly from ``rng``."""
    width, height = image.size
    if width < size or height < size:
        raise ValueError(f"cannot crop {size}x{size} from a {width}x{height} image")
    left = int(rng.integers(0, width - size + 1))
    top = int(rng.integers(0, height - size + 1))
    return image.crop((left, top, left + size, top + size))


def to_array(image: Image.Image) -> np.ndarray:
    """RGB ``PIL`` image -> contiguous float32 array ``(3, H, W)`` with values in ``[0, 1]``.

    Done in numpy (single-threaded) on purpose: tiny torch ops in a busy main process suffer
    from intra-op thread oversubscription.
    """
    array = np.asarray(image.convert("RGB"), dtype=np.uint8)
    out = np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32)
    out /= np.float32(255.0)
    return out


def to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB ``PIL`` image -> float32 tensor of shape ``(3, H, W)`` with values in ``[0, 1]``."""
    return torch.from_numpy(to_array(image))


@dataclass(frozen=True)
class TrainTransform:
    """Shorter side to ``load_size``, random ``crop_size`` square crop, to a ``(3, S, S)`` tensor.

    Attributes:
        load_size: shorter side after resizing (pixels); must be ``>= crop_size``.
        crop_size: side ``S`` of the square crop (pixels).
    """

    load_size: int
    crop_size: int

    def __post_init__(self) -> None:
        if self.crop_size < 1 or self.load_size < self.crop_size:
            raise ValueError(
                f"need 1 <= crop_size <= load_size, got crop_size={self.crop_size}, "
                f"load_size={self.load_size}"
            )

    @property
    def min_side(self) -> int:
        """Shorter side the decoder must deliver (used for JPEG draft decoding)."""
        return self.load_size

    def array(self, image: Image.Image, rng: np.random.Generator) -> np.ndarray:
        """Returns a float32 array ``(3, crop_size, crop_size)`` in ``[0, 1]``."""
        return to_array(random_crop(resize_shorter(image, self.load_size), self.crop_size, rng))

    def __call__(self, image: Image.Image, rng: np.random.Generator) -> torch.Tensor:
        """Returns a float tensor ``(3, crop_size, crop_size)`` in ``[0, 1]``."""
        return torch.from_numpy(self.array(image, rng))


@dataclass(frozen=True)
class EvalTransform:
    """Shorter side to ``size``, then a centre ``size`` square crop (or no crop), to a tensor.

    Attributes:
        size: shorter side after resizing (pixels).
        crop: centre-crop to ``size`` x ``size`` (``True``) or keep the whole resized image.
    """

    size: int
    crop: bool = True

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"size must be >= 1, got {self.size}")

    @property
    def min_side(self) -> int:
        """Shorter side the decoder must deliver (used for JPEG draft decoding)."""
        return self.size

    def __call__(self, image: Image.Image) -> torch.Tensor:
        """Returns ``(3, size, size)`` when cropping, else ``(3, H, W)`` with ``min(H, W) == size``."""
        image = resize_shorter(image, self.size)
        if self.crop:
            image = center_crop(image, self.size)
        return to_tensor(image)
