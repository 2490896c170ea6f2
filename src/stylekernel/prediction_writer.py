"""Prediction writer for ``stylekernel predict``: every stylized image of a batch job as a file.

:class:`StyleTransferModule.predict_step` returns the batch dict plus ``"stylized"``. This
callback writes ``<output_dir>/<content id>__<style id>.<ext>`` for each item (the one name rule,
:func:`stylekernel.image_files.stylized_name`; ids through :func:`~stylekernel.image_files.image_id`,
so a folder source's key ``photo.jpg`` gives ``photo__paint.png``, the name ``stylekernel evaluate
--stylized-dir`` pairs back), so the predict dataloader must yield dict batches with

* ``content``: (B, 3, H, W) float in [0, 1] (padded to a common size within a batch if needed),
* ``style``: (B, 3, H', W') float in [0, 1],
* ``content_id``, ``style_id``: B strings (default collation gives lists of str),
* optionally ``content_size``: each item's true (H, W) before batch padding, as a (2,) tensor or an
  (h, w) tuple per item (collated to (B, 2)); the output is cropped to it (otherwise the whole
  (H, W) is written).

Rank safety: each rank writes only the items of its own batches; files are written atomically
(a per-process temporary name, then ``os.replace``), so two ranks that both receive a sample
(DistributedSampler pads by repeating samples) write the same bytes to the same name without a
partial or interleaved file. Ids lose path separators and leading dots, so a file cannot escape
``output_dir``. Existing
files are skipped unless ``overwrite`` (resumable jobs). Counts are logged per rank at the end.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal, Optional, Sequence

import lightning as L
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from torch import Tensor

from stylekernel.errors import check
from stylekernel.image_files import image_id, save_image, stylized_name

log = logging.getLogger(__name__)

IMAGE_FORMATS = ("png", "jpg", "webp", "tif")
#: Kept for older imports: the id rule is :func:`stylekernel.image_files.image_id`.
safe_id = image_id


class StylizedImageWriter(BasePredictionWriter):
    """Write the ``"stylized"`` images of ``predict_step`` as ``<content_id>__<style_id>.<ext>``.

    Args:
        output_dir: folder for the images (created on every rank; ``exist_ok``).
        overwrite: replace existing files (default: skip them, so a job can be resumed).
        image_format: png | jpg | webp | tif.
    """

    def __init__(self, output_dir: str, overwrite: bool = False, image_format: Literal["png", "jpg", "webp", "tif"] = "png") -> None:
        super().__init__(write_interval="batch")
        check(image_format in IMAGE_FORMATS, f"image_format must be one of {IMAGE_FORMATS}, got {image_format!r}")
        self.output_dir = Path(output_dir).expanduser()
        self.overwrite = overwrite
        self.image_format = image_format
        self.written = 0
        self.skipped = 0

    def on_predict_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.written = self.skipped = 0

    def output_path(self, content_id: Any, style_id: Any) -> Path:
        """Where the image of a (content, style) pair goes."""
        return self.output_dir / stylized_name(image_id(content_id), image_id(style_id), self.image_format)

    def write_on_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        prediction: Any,
        batch_indices: Optional[Sequence[int]],
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        stylized: Tensor = prediction["stylized"]
        content_ids, style_ids = prediction["content_id"], prediction["style_id"]
        sizes = prediction.get("content_size")
        if isinstance(sizes, (list, tuple)):  # items gave (h, w) tuples: default collation transposes them
            sizes = torch.stack([torch.as_tensor(v) for v in sizes], dim=1)
        check(
            len(content_ids) == len(stylized) == len(style_ids),
            f"predict batch: {len(stylized)} images but {len(content_ids)} content_id / {len(style_ids)} style_id",
        )
        images = stylized.detach().float().clamp(0, 1).cpu()
        for i in range(len(images)):
            path = self.output_path(content_ids[i], style_ids[i])
            if path.exists() and not self.overwrite:
                self.skipped += 1
                continue
            image = images[i]
            if sizes is not None:
                h, w = (int(v) for v in torch.as_tensor(sizes[i]).tolist())
                image = image[:, :h, :w]
            save_image(image, path, overwrite=True)
            self.written += 1

    def on_predict_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        log.info(
            "rank %d: wrote %d image(s), skipped %d existing, in %s",
            trainer.global_rank, self.written, self.skipped, self.output_dir,
        )  # fmt: skip


__all__ = ["StylizedImageWriter", "safe_id"]
