"""Each content and each style image decoded, resized and encoded once: the "sides" every metric reuses.

A pair's scores compare its stylized image with two fixed things: its content image and its
style image. What each metric reads of those is computed once per image (per process) and kept
while pairs need it, instead of once per pair:

* :class:`ContentSide`: the content image at the scoring size (SSIM), its LPIPS features, its
  VGG features at the content-loss layers, and (checkpoint mode) the network's encoding.
* :class:`StyleSide`: the channel mean/std (and Gram matrices) of its VGG features at the
  style-loss layers, its art-Inception features (FID's style set), and (checkpoint mode) the
  network's encoding.

Memory stays bounded by a two-pass plan (:func:`style_blocks`): style sides are prepared in
blocks of at most ``limit`` bytes; each block is used by every pair of its styles (pairs sorted by
content, so only the last ``batch_size`` content sides are alive), then freed. When every style
fits (the usual case: about 10 MB per style at 512), there is one block and every image is
prepared exactly once; otherwise each style still is, and each content once per block.

Which images were changed on the way (resized and/or cropped) is recorded in a
:class:`ResizeLog`, so the summary can say exactly what differs from "every image as stored".
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import torch
from torch import Tensor

from stylekernel.engine import tensor_bytes
from stylekernel_eval import images


@dataclass
class ContentSide:
    """What the metrics (and the network) read of one content image, batch dimension 1."""

    image: Tensor  # (1, 3, H, W) at the scoring size, on the device
    lpips: list[Tensor]  # LPIPS features per layer, (1, C_k, H_k, W_k)
    vgg: dict[str, Tensor] | None  # content-loss layers, (1, C, h, w)
    net: dict[str, Tensor] | None  # the network's encoding of the padded image (checkpoint mode)

    @property
    def nbytes(self) -> int:
        return tensor_bytes([self.image, self.lpips, self.vgg, self.net])


@dataclass
class StyleSide:
    """What the metrics (and the network) read of one style image, batch dimension 1."""

    shape: tuple[int, int]  # (H, W) of the style image as used
    losses: dict[str, Any] | None  # {"stats": {layer: (mean, std)}, "grams": {layer: gram}}
    inception: Tensor | None  # (1, 2048) art-Inception features
    net: dict[str, Tensor] | None

    @property
    def nbytes(self) -> int:
        return tensor_bytes([self.losses, self.inception, self.net])


@dataclass
class ResizeLog:
    """Files whose pixels were changed before scoring: {role: {file name: (stored (H, W), used (H, W))}}."""

    changed: dict[str, dict[str, tuple[tuple[int, int], tuple[int, int]]]] = field(default_factory=dict)
    seen: dict[str, set[str]] = field(default_factory=dict)

    def record(self, role: str, name: str, stored: tuple[int, int], used: tuple[int, int]) -> None:
        self.seen.setdefault(role, set()).add(name)
        if tuple(stored) != tuple(used):
            self.changed.setdefault(role, {})[name] = (tuple(stored), tuple(used))  # type: ignore[assignment]

    def merge(self, other: "ResizeLog") -> None:
        for role, names in other.seen.items():
            self.seen.setdefault(role, set()).update(names)
        for role, items in other.changed.items():
            self.changed.setdefault(role, {}).update(items)


def cat_sides(values: list[Any]) -> Any:
    """Concatenate per-image sides (tensors, lists, dicts, tuples of batch-1 tensors) along the batch."""
    first = values[0]
    if isinstance(first, Tensor):
        return torch.cat(values)
    if isinstance(first, dict):
        return {k: cat_sides([v[k] for v in values]) for k in first}
    if isinstance(first, (list, tuple)):
        return type(first)(cat_sides([v[i] for v in values]) for i in range(len(first)))
    raise TypeError(f"cannot concatenate {type(first).__name__}")


def style_blocks(paths: Iterable[Path], prepare: Callable[[Path], StyleSide], limit_bytes: int) -> Iterator[dict[Path, StyleSide]]:
    """Prepare each style once, in blocks of at most ``limit_bytes`` (a block holds at least one style)."""
    block: dict[Path, StyleSide] = {}
    used = 0
    for p in paths:
        side = prepare(p)
        block[p] = side
        used += side.nbytes
        if used >= limit_bytes:
            yield block
            block, used = {}, 0
    if block:
        yield block


class ContentCache:
    """The last ``maxsize`` content sides, keyed by (path, scoring (H, W)); decodes each file once per group.

    Pairs are visited sorted by content, so a content is not needed again once its pairs are done;
    the decoded tensor of the current file is kept for its other scoring sizes (mixed-size
    stylized sets).
    """

    def __init__(self, build: Callable[[Path, Tensor, tuple[int, int]], ContentSide], *, size: int | None, crop: bool,
                 log: ResizeLog, maxsize: int) -> None:
        self.build, self.size, self.crop, self.log, self.maxsize = build, size, crop, log, maxsize
        self._sides: OrderedDict[tuple[Path, tuple[int, int]], ContentSide] = OrderedDict()
        self._decoded: tuple[Path, Tensor] | None = None

    def decoded(self, path: Path) -> Tensor:
        """(3, H, W): the content file after the ``size`` rule (decoded once while it is current)."""
        if self._decoded is None or self._decoded[0] != path:
            x, stored = images.load_tensor(path, size=self.size, crop=self.crop)
            self.log.record("content", path.name, stored, tuple(x.shape[-2:]))  # type: ignore[arg-type]
            self._decoded = (path, x)
        return self._decoded[1]

    def __call__(self, path: Path, target: tuple[int, int] | None = None) -> ContentSide:
        """The side of ``path`` scored at ``target`` (H, W); None: at the size the ``size`` rule gives."""
        x = self.decoded(path) if target is None or (path, target) not in self._sides else None
        key = (path, target if target is not None else tuple(x.shape[-2:]))  # type: ignore[union-attr]
        if key in self._sides:
            self._sides.move_to_end(key)
            return self._sides[key]
        assert x is not None
        if target is not None and tuple(x.shape[-2:]) != target:
            self.log.record("content_to_stylized", path.name, tuple(x.shape[-2:]), target)  # type: ignore[arg-type]
            x = images.resize_to(x, target)
        side = self.build(path, x, key[1])  # type: ignore[arg-type]
        self._sides[key] = side  # type: ignore[index]
        while len(self._sides) > self.maxsize:
            self._sides.popitem(last=False)
        return side
