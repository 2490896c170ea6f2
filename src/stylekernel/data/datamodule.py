"""``StyleTransferDataModule``: content + style sources -> train / val / test loaders.

* **Train**: an endless stream of random pairs: content and style images are sampled
  independently (a seeded permutation per pass over each source, or seeded shuffled blocks of a
  stream), resized so the shorter side is ``load_size`` and randomly cropped to ``crop_size``.
  Batches are ``{"content": (B, 3, S, S), "style": (B, 3, S, S)}``, float32 in ``[0, 1]``.
  Every sample is a function of ``(seed, global sample index, rank)`` (and, for streams, the
  saved stream position); the loader state is saved in checkpoints, so ``trainer.fit(...,
  ckpt_path=...)`` continues with exactly the batch an uninterrupted run would have seen.
  Under DDP rank ``r`` reads samples ``g = k * world_size + r``: within one pass over a source,
  ranks read disjoint images; streams are split with ``split_dataset_by_node`` and by worker.
* **Val / test**: fixed pairs, every content x every style (content-major, ids sorted) or a
  ``pairs_file`` for test; shorter side to ``val_size`` / ``test_size`` then a centre crop
  (test: or the whole image with ``test_crop: false``, then one image per batch). Batches add
  ``"content_id"`` and ``"style_id"`` (``list[str]``, the source keys, e.g. relative paths).
* **Held-out sets**: separate ``val_*`` / ``test_*`` sources, or carved deterministically from
  the training sources by the hash of each image's key (:mod:`stylekernel.data.heldout`); carved
  images never reach training, on any rank or worker.

Bad sources (missing or empty folder, Hub id unreachable, unknown column) fail at ``setup`` with
one :class:`~stylekernel.errors.StyleKernelError` line naming the source and what to do.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import lightning as L
import torch
from torch.utils.data import DataLoader

from stylekernel.data.heldout import HoldoutFilter, IndexedCarve, carve_indexed, scan_stream_heldout, take_first
from stylekernel.data.pairs import PairDataset, all_pairs, read_pairs_file
from stylekernel.data.sources import ImageSource, IndexedSource, StreamingSource
from stylekernel.data.train_stream import PairStream, TrainLoader
from stylekernel.data.transforms import EvalTransform, TrainTransform
from stylekernel.errors import ConfigError, check

__all__ = ["StyleTransferDataModule"]

log = logging.getLogger("stylekernel.data")

Side = Literal["content", "style"]
Stage = Literal["val", "test"]


def _is_streaming(source: ImageSource) -> bool:
    return isinstance(source, StreamingSource) and bool(source.streaming)


class StyleTransferDataModule(L.LightningDataModule):
    """Content and style images for training, validation and test (see the module docstring).

    Args:
        content: training content source (e.g. MS-COCO train2014).
        style: training style source (e.g. WikiArt).
        val_content: validation content source; ``None``: carve ``num_val_content`` images
            from ``content``.
        val_style: validation style source; ``None``: carve ``num_val_style`` from ``style``.
        test_content: test content source; ``None``: carve ``num_test_content`` from ``content``.
        test_style: test style source; ``None``: carve ``num_test_style`` from ``style``.
        batch_size: training batch size ``B`` (per process).
        num_workers: DataLoader worker processes per rank (0: load in the main process).
        load_size: training images are resized so their shorter side is ``load_size``.
        crop_size: side ``S`` of the random square training crop (``<= load_size``).
        val_size: validation shorter side and centre-crop size (``None``: ``crop_size``).
        test_size: test shorter side (and centre-crop size when ``test_crop``).
        test_crop: centre-crop test images to ``test_size`` squares (``True``) or keep the
            whole resized image (``False``; test batches then hold one pair).
        val_batch_size: validation batch size (``None``: ``batch_size``).
        test_batch_size: test batch size (``None``: ``batch_size``, or 1 without ``test_crop``).
        num_val_content: content images held out for validation (a cap for explicit sources:
            their first images in source order).
        num_val_style: style images held out for validation (same rule).
        num_test_content: content images held out for test (same rule; paper protocol: 20).
        num_test_style: style images held out for test (same rule; paper protocol: 40).
        split_seed: salt of the hash that carves held-out sets (independent of ``seed``, so
            changing the training seed never changes the test set).
        stream_holdout_fraction: for streaming sources, the fraction of records (by key hash)
            reserved for held-out sets and excluded from training.
        seed: sampling seed (pairs, crops, stream shuffles).
        steps_per_epoch: batches per training "epoch" (the stream itself is endless).
        max_decode_failure_fraction: stop training with a clear error when more than this
            fraction of image reads fail; below it, undecodable images are skipped and counted.
        pairs_file: a file of ``content_id,style_id`` test pairs (ids = test source keys);
            ``None``: every test content x every test style.
        draft: decode large JPEGs at a reduced scale when the target size allows.
        shuffle_block: records shuffled together by streaming sources (per worker and side;
            memory: this many encoded images).
        pin_memory: pin host memory of batches (faster copies to the GPU).
        prefetch_factor: batches prefetched per worker (``None``: PyTorch's default).
        verify_heldout: decode held-out candidates at setup and skip undecodable ones.
    """

    def __init__(
        self,
        content: ImageSource,
        style: ImageSource,
        val_content: ImageSource | None = None,
        val_style: ImageSource | None = None,
        test_content: ImageSource | None = None,
        test_style: ImageSource | None = None,
        batch_size: int = 8,
        num_workers: int = 4,
        load_size: int = 512,
        crop_size: int = 256,
        val_size: int | None = None,
        test_size: int = 512,
        test_crop: bool = True,
        val_batch_size: int | None = None,
        test_batch_size: int | None = None,
        num_val_content: int = 4,
        num_val_style: int = 4,
        num_test_content: int = 20,
        num_test_style: int = 40,
        split_seed: int = 0,
        stream_holdout_fraction: float = 0.02,
        seed: int = 0,
        steps_per_epoch: int = 1000,
        max_decode_failure_fraction: float = 0.01,
        pairs_file: str | None = None,
        draft: bool = True,
        shuffle_block: int = 256,
        pin_memory: bool = True,
        prefetch_factor: int | None = None,
        verify_heldout: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (("content", content), ("style", style)):
            check(isinstance(value, ImageSource), f"data.{name} must be an image source, got {type(value).__name__}")
        check(batch_size >= 1, f"data.batch_size must be >= 1, got {batch_size}")
        check(num_workers >= 0, f"data.num_workers must be >= 0, got {num_workers}")
        check(1 <= crop_size <= load_size, f"data.crop_size ({crop_size}) must be in 1..load_size ({load_size})")
        check(val_size is None or val_size >= 1, f"data.val_size must be >= 1, got {val_size}")
        check(test_size >= 1, f"data.test_size must be >= 1, got {test_size}")
        check(steps_per_epoch >= 1, f"data.steps_per_epoch must be >= 1, got {steps_per_epoch}")
        check(
            0.0 <= max_decode_failure_fraction <= 1.0,
            f"data.max_decode_failure_fraction must be in [0, 1], got {max_decode_failure_fraction}",
        )
        check(
            0.0 < stream_holdout_fraction < 1.0,
            f"data.stream_holdout_fraction must be in (0, 1), got {stream_holdout_fraction}",
        )
        check(shuffle_block >= 1, f"data.shuffle_block must be >= 1, got {shuffle_block}")
        for name, count in (
            ("num_val_content", num_val_content),
            ("num_val_style", num_val_style),
            ("num_test_content", num_test_content),
            ("num_test_style", num_test_style),
        ):
            check(count >= 1, f"data.{name} must be >= 1, got {count}")
        self.content = content
        self.style = style
        self.explicit: dict[tuple[Side, Stage], ImageSource | None] = {
            ("content", "val"): val_content,
            ("style", "val"): val_style,
            ("content", "test"): test_content,
            ("style", "test"): test_style,
        }
        self.counts: dict[tuple[Side, Stage], int] = {
            ("content", "val"): num_val_content,
            ("style", "val"): num_val_style,
            ("content", "test"): num_test_content,
            ("style", "test"): num_test_style,
        }
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.load_size = load_size
        self.crop_size = crop_size
        self.val_size = val_size if val_size is not None else crop_size
        self.test_size = test_size
        self.test_crop = test_crop
        self.val_batch_size = val_batch_size if val_batch_size is not None else batch_size
        self.test_batch_size = test_batch_size if test_batch_size is not None else (batch_size if test_crop else 1)
        check(self.test_crop or self.test_batch_size == 1, "data.test_batch_size must be 1 when test_crop is false")
        self.split_seed = split_seed
        self.stream_holdout_fraction = stream_holdout_fraction
        self.seed = seed
        self.steps_per_epoch = steps_per_epoch
        self.max_decode_failure_fraction = max_decode_failure_fraction
        self.pairs_file = pairs_file
        self.draft = draft
        self.shuffle_block = shuffle_block
        self.pin_memory = pin_memory
        self.prefetch_factor = prefetch_factor
        self.verify_heldout = verify_heldout

        self.train_transform = TrainTransform(load_size=load_size, crop_size=crop_size)
        self.val_transform = EvalTransform(size=self.val_size, crop=True)
        self.test_transform = EvalTransform(size=test_size, crop=test_crop)

        self._validated: set[int] = set()
        self._carves: dict[Side, IndexedCarve] = {}
        self._heldout: dict[tuple[Side, Stage], IndexedSource] = {}
        self._train_loader: TrainLoader | None = None
        self._train_loader_owner: int | None = None
        self._pending_loader_state: dict[str, Any] | None = None

    # ------------------------------------------------------------------ sources and held-out sets
    def _validate(self, source: ImageSource) -> None:
        if id(source) not in self._validated:
            source.validate()
            self._validated.add(id(source))

    def _carves_from(self, side: Side) -> bool:
        """Whether some held-out set of ``side`` is carved from its training source."""
        return self.explicit[(side, "val")] is None or self.explicit[(side, "test")] is None

    def _train_source(self, side: Side) -> ImageSource:
        source = self.content if side == "content" else self.style
        if _is_streaming(source) or not self._carves_from(side):
            return source
        return self._indexed_carve(side).train

    def _train_exclude(self, side: Side) -> HoldoutFilter | None:
        source = self.content if side == "content" else self.style
        if _is_streaming(source) and self._carves_from(side):
            return HoldoutFilter(self.split_seed, self.stream_holdout_fraction)
        return None

    def _indexed_carve(self, side: Side) -> IndexedCarve:
        if side not in self._carves:
            source = self.content if side == "content" else self.style
            assert isinstance(source, IndexedSource)
            self._validate(source)
            num_val = self.counts[(side, "val")] if self.explicit[(side, "val")] is None else 0
            num_test = self.counts[(side, "test")] if self.explicit[(side, "test")] is None else 0
            self._carves[side] = carve_indexed(
                source,
                num_val=num_val,
                num_test=num_test,
                split_seed=self.split_seed,
                min_side=self._min_side(max(self.val_size, self.test_size)),
                verify=self.verify_heldout,
            )
        return self._carves[side]

    def _min_side(self, size: int) -> int | None:
        return size if self.draft else None

    def heldout_source(self, side: Side, stage: Stage) -> IndexedSource:
        """The validation or test images of one side, as an indexed source sorted by key."""
        key = (side, stage)
        if key in self._heldout:
            return self._heldout[key]
        explicit = self.explicit[key]
        count = self.counts[key]
        what = f"{'validation' if stage == 'val' else 'test'} {side} images"
        min_side = self._min_side(self.val_size if stage == "val" else self.test_size)
        if explicit is not None:
            self._validate(explicit)
            if _is_streaming(explicit):
                assert isinstance(explicit, StreamingSource)
                (result,) = scan_stream_heldout(
                    explicit, counts=(count,), is_heldout=lambda _key: True, min_side=min_side,
                    verify=self.verify_heldout, names=(what,),
                )
            else:
                assert isinstance(explicit, IndexedSource)
                result = take_first(explicit, count=count, min_side=min_side, verify=self.verify_heldout, what=what)
        else:
            source = self.content if side == "content" else self.style
            if _is_streaming(source):
                assert isinstance(source, StreamingSource)
                self._validate(source)
                # Eligible records in stream order: the first go to validation, the next to test.
                stages: list[Stage] = []
                if self.explicit[(side, "val")] is None:
                    stages.append("val")
                if stage == "test":
                    stages.append("test")
                groups = scan_stream_heldout(
                    source,
                    counts=tuple(self.counts[(side, s)] for s in stages),
                    is_heldout=HoldoutFilter(self.split_seed, self.stream_holdout_fraction),
                    min_side=min_side,
                    verify=self.verify_heldout,
                    names=tuple(f"{'validation' if s == 'val' else 'test'} {side} images" for s in stages),
                )
                for s, group in zip(stages, groups):
                    self._heldout.setdefault((side, s), group)
                result = groups[-1]
            else:
                carve = self._indexed_carve(side)
                result = carve.val if stage == "val" else carve.test
        self._heldout[key] = result
        return result

    def val_pairs(self) -> list[tuple[str, str]]:
        """Validation pairs: every validation content x every validation style, sorted ids."""
        return all_pairs(self.heldout_source("content", "val").keys(), self.heldout_source("style", "val").keys())

    def test_pairs(self) -> list[tuple[str, str]]:
        """Ordered test pairs ``[(content_id, style_id), ...]``, reused by the evaluation package.

        Every test content x every test style (content-major, ids sorted), or the pairs of
        ``pairs_file`` in file order. Ids are keys of :meth:`heldout_source` ``(side, "test")``.
        """
        content = self.heldout_source("content", "test")
        style = self.heldout_source("style", "test")
        if self.pairs_file is None:
            return all_pairs(content.keys(), style.keys())
        pairs = read_pairs_file(self.pairs_file)
        content_keys, style_keys = set(content.keys()), set(style.keys())
        unknown = [c for c, _ in pairs if c not in content_keys] + [s for _, s in pairs if s not in style_keys]
        if unknown:
            raise ConfigError(
                f"pairs_file {self.pairs_file} names ids that are not test images: "
                f"{', '.join(map(repr, unknown[:5]))}; use keys such as {content.keys()[0]!r}"
            )
        return pairs

    # ------------------------------------------------------------------ Lightning hooks
    def setup(self, stage: str | None = None) -> None:
        """Validate the sources a stage needs and prepare held-out sets (fails with one line)."""
        if stage in (None, "fit"):
            for side in ("content", "style"):
                self._validate(self.content if side == "content" else self.style)
                self._train_source(side)  # type: ignore[arg-type]
        if stage in (None, "fit", "validate"):
            self.val_pairs()
        if stage in (None, "test", "predict"):
            self.test_pairs()

    def _rank_world(self) -> tuple[int, int]:
        trainer = self._trainer if hasattr(self, "_trainer") else None
        if trainer is not None:
            return int(trainer.global_rank), int(trainer.world_size)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_rank(), torch.distributed.get_world_size()
        return 0, 1

    def _loader_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "num_workers": self.num_workers,
            "pin_memory": self.pin_memory and torch.cuda.is_available(),
        }
        if self.num_workers > 0 and self.prefetch_factor is not None:
            kwargs["prefetch_factor"] = self.prefetch_factor
        return kwargs

    def make_train_loader(self, *, rank: int = 0, world_size: int = 1) -> TrainLoader:
        """A training loader for an explicit rank (used by tests and tools; Lightning calls
        :meth:`train_dataloader`, which takes rank and world size from the trainer)."""
        for side in ("content", "style"):
            self._validate(self.content if side == "content" else self.style)
        stream = PairStream(
            self._train_source("content"),
            self._train_source("style"),
            transform=self.train_transform,
            batch_size=self.batch_size,
            batches_per_iter=self.steps_per_epoch,
            seed=self.seed,
            rank=rank,
            world_size=world_size,
            draft=self.draft,
            shuffle_block=self.shuffle_block,
            exclude_content=self._train_exclude("content"),
            exclude_style=self._train_exclude("style"),
        )
        return TrainLoader(
            stream, max_decode_failure_fraction=self.max_decode_failure_fraction, **self._loader_kwargs()
        )

    def train_dataloader(self) -> TrainLoader:
        """The training loader for this rank; continues from a restored checkpoint state, or from
        the previous loader of the same trainer when Lightning reloads dataloaders mid-fit."""
        rank, world_size = self._rank_world()
        loader = self.make_train_loader(rank=rank, world_size=world_size)
        trainer = self._trainer if hasattr(self, "_trainer") else None
        state = self._pending_loader_state
        if state is None and self._train_loader is not None and trainer is not None:
            if self._train_loader_owner == id(trainer) and trainer.global_step > 0:
                state = self._train_loader.state_dict()
        if state is not None:
            loader.load_state_dict(state)
            self._pending_loader_state = None
        self._train_loader = loader
        self._train_loader_owner = id(trainer) if trainer is not None else None
        return loader

    def _pair_loader(self, stage: Stage) -> DataLoader:  # type: ignore[type-arg]
        content = self.heldout_source("content", stage)
        style = self.heldout_source("style", stage)
        pairs = self.val_pairs() if stage == "val" else self.test_pairs()
        dataset = PairDataset(
            content,
            style,
            pairs,
            transform=self.val_transform if stage == "val" else self.test_transform,
            draft=self.draft,
        )
        return DataLoader(
            dataset,
            batch_size=self.val_batch_size if stage == "val" else self.test_batch_size,
            shuffle=False,
            **self._loader_kwargs(),
        )

    def val_dataloader(self) -> DataLoader:  # type: ignore[type-arg]
        return self._pair_loader("val")

    def test_dataloader(self) -> DataLoader:  # type: ignore[type-arg]
        return self._pair_loader("test")

    def predict_dataloader(self) -> DataLoader:  # type: ignore[type-arg]
        """The test pairs, for ``stylekernel predict`` batch jobs (see configs/predict/)."""
        return self._pair_loader("test")

    # ------------------------------------------------------------------ checkpoint state
    def state_dict(self) -> dict[str, Any]:
        """The training loader's position (saved in every checkpoint by Lightning)."""
        if self._train_loader is not None:
            return {"train_loader": self._train_loader.state_dict()}
        if self._pending_loader_state is not None:
            return {"train_loader": self._pending_loader_state}
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the training loader's position (applied when the loader is created)."""
        state = state_dict.get("train_loader")
        if state is None:
            return
        if self._train_loader is not None:
            self._train_loader.load_state_dict(state)
        else:
            self._pending_loader_state = dict(state)
