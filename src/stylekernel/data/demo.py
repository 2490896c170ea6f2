"""The embedded demo data set: built offline, in memory, from scikit-image's bundled images.

Content (photos): astronaut, chelsea, coffee, rocket, stereo_motorcycle (left view) and cat.
scikit-image's ``cat`` is the same picture as ``chelsea``, so it is mirrored left-right to make
it a distinct sample. Style (colourful images and textures): hubble_deep_field,
immunohistochemistry, colorwheel, retina, and the grayscale textures brick, grass and gravel,
tinted with a two-colour gradient so that they carry colour, plus ``num_patterns`` procedurally
generated patterns (stripes, rings, plasma, mosaic), drawn from ``seed``.

Everything is built lazily on first access (never at import) in well under a second, and is
identical on every machine. ``stylekernel data demo --output DIR`` writes the set to
``DIR/content`` and ``DIR/style`` as PNG files (:func:`write_demo`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from stylekernel.data.sources import IndexedSource, Record
from stylekernel.data.transforms import resize_shorter
from stylekernel.errors import ConfigError

__all__ = ["DemoSource", "CONTENT_NAMES", "STYLE_NAMES", "PATTERN_NAMES", "write_demo"]

CONTENT_NAMES: tuple[str, ...] = ("astronaut", "chelsea", "coffee", "rocket", "stereo_motorcycle", "cat")
STYLE_NAMES: tuple[str, ...] = (
    "hubble_deep_field",
    "immunohistochemistry",
    "colorwheel",
    "retina",
    "brick",
    "grass",
    "gravel",
)
PATTERN_NAMES: tuple[str, ...] = ("stripes", "rings", "plasma", "mosaic")

# Two-colour gradients (dark, light) that tint the grayscale textures.
_TINTS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "brick": ((70, 20, 10), (240, 150, 90)),
    "grass": ((10, 50, 20), (190, 230, 90)),
    "gravel": ((30, 30, 80), (220, 200, 160)),
}


def _skimage_array(name: str) -> np.ndarray:
    """``(H, W, 3)`` uint8 array of a bundled scikit-image picture (no download)."""
    import skimage.data

    array = getattr(skimage.data, name)()
    if name == "stereo_motorcycle":
        array = array[0]  # (left, right, disparity): keep the left view
    if name == "cat":
        array = array[:, ::-1]  # identical to chelsea in scikit-image: mirror it
    if array.ndim == 2:
        dark, light = _TINTS.get(name, ((0, 0, 0), (255, 255, 255)))
        t = array.astype(np.float32)[..., None] / 255.0
        array = (np.array(dark, np.float32) * (1 - t) + np.array(light, np.float32) * t).round()
    return np.ascontiguousarray(array[..., :3]).astype(np.uint8)


def _pattern(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A ``(size, size, 3)`` uint8 procedural pattern with random colours from ``rng``."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    palette = rng.integers(0, 256, size=(4, 3)).astype(np.float32)
    if kind == "stripes":
        angle = rng.uniform(0, np.pi)
        freq = rng.uniform(6, 14)
        u = (np.sin(2 * np.pi * freq * (x * np.cos(angle) + y * np.sin(angle))) > 0).astype(np.float32)
        t = u[..., None]
        out = palette[0] * (1 - t) + palette[1] * t
    elif kind == "rings":
        cx, cy = rng.uniform(0.2, 0.8, size=2)
        r = np.sqrt((x - cx) ** 2 + (y - cy) ** 2)
        t = (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(5, 10) * r))[..., None]
        out = palette[2] * (1 - t) + palette[3] * t
    elif kind == "plasma":
        f = rng.uniform(2, 6, size=3)
        chans = [
            0.5 + 0.5 * np.sin(2 * np.pi * (f[i] * x + f[(i + 1) % 3] * y) + rng.uniform(0, 2 * np.pi))
            for i in range(3)
        ]
        out = np.stack(chans, axis=-1) * 255.0
    elif kind == "mosaic":
        seeds = rng.uniform(0, 1, size=(24, 2)).astype(np.float32)
        colours = rng.integers(0, 256, size=(24, 3)).astype(np.float32)
        d = (x[..., None] - seeds[:, 0]) ** 2 + (y[..., None] - seeds[:, 1]) ** 2
        out = colours[np.argmin(d, axis=-1)]
    else:  # pragma: no cover - guarded by PATTERN_NAMES
        raise ValueError(kind)
    return np.clip(out, 0, 255).astype(np.uint8)


class DemoSource(IndexedSource):
    """The embedded demo set (see the module docstring), as an in-memory image source.

    Args:
        kind: ``"content"`` (6 photos) or ``"style"`` (7 pictures + ``num_patterns`` patterns).
        size: shorter side, in pixels, every image is resized to when built (``None``: keep
            the native sizes, 300 to 1411 pixels). Small sizes keep CPU training fast.
        num_patterns: procedural patterns added to the style set (0 to 4).
        seed: seed of the patterns' random colours and geometry.
    """

    def __init__(
        self,
        kind: Literal["content", "style"],
        size: int | None = 256,
        num_patterns: int = 4,
        seed: int = 0,
    ) -> None:
        if kind not in ("content", "style"):
            raise ConfigError(f"DemoSource kind must be 'content' or 'style', got {kind!r}")
        if size is not None and size < 1:
            raise ConfigError(f"DemoSource size must be >= 1 or null, got {size}")
        if not 0 <= num_patterns <= len(PATTERN_NAMES):
            raise ConfigError(f"DemoSource num_patterns must be in 0..{len(PATTERN_NAMES)}, got {num_patterns}")
        self.kind = kind
        self.size = size
        self.num_patterns = num_patterns
        self.seed = seed
        self._images: list[Image.Image] | None = None

    def describe(self) -> str:
        return f"embedded demo {self.kind} images"

    def validate(self) -> None:
        self._build()

    def _builders(self) -> list[tuple[str, Callable[[], np.ndarray]]]:
        if self.kind == "content":
            return [(n, lambda n=n: _skimage_array(n)) for n in CONTENT_NAMES]
        builders: list[tuple[str, Callable[[], np.ndarray]]] = [
            (n, lambda n=n: _skimage_array(n)) for n in STYLE_NAMES
        ]
        for i, name in enumerate(PATTERN_NAMES[: self.num_patterns]):
            side = self.size or 512
            builders.append(
                (f"pattern_{name}", lambda name=name, i=i, side=side: _pattern(
                    name, side, np.random.default_rng([self.seed, i])
                ))
            )
        return builders

    def names(self) -> list[str]:
        """Base names (without extension), in order."""
        return [name for name, _ in self._builders()]

    def _build(self) -> list[Image.Image]:
        if self._images is None:
            images = []
            for _, build in self._builders():
                image = Image.fromarray(build(), mode="RGB")
                if self.size is not None:
                    image = resize_shorter(image, self.size)
                images.append(image)
            self._images = images
        return self._images

    def keys(self) -> list[str]:
        return [f"{name}.png" for name in self.names()]

    def __len__(self) -> int:
        return len(self.names())

    def record(self, index: int) -> Record:
        return Record(self.keys()[index], self._build()[index])

    def load(self, index: int, *, min_side: int | None = None) -> Image.Image:
        return self._build()[index].copy()


def write_demo(output: str | os.PathLike[str], *, size: int | None = 256, num_patterns: int = 4, seed: int = 0) -> dict[str, list[Path]]:
    """Write the demo set to ``output/content/*.png`` and ``output/style/*.png``.

    Returns the written paths by kind. Existing files with the same names are overwritten.
    """
    root = Path(output).expanduser()
    written: dict[str, list[Path]] = {}
    for kind in ("content", "style"):
        source = DemoSource(kind, size=size, num_patterns=num_patterns, seed=seed)  # type: ignore[arg-type]
        folder = root / kind
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for index, key in enumerate(source.keys()):
            path = folder / key
            source.load(index).save(path, format="PNG")
            paths.append(path)
        written[kind] = paths
    return written
