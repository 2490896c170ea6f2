"""Run by test_ddp.py (not collected): a real 2-process gloo DDP fit on CPU.

Content: 24 uniform images (indexed source, red value = index); style: 4 local parquet shards of
6 uniform images each (streaming source, green value = index). Each rank records the indices of
the images in every training batch and writes them to OUT/rank{r}.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import lightning as L
import torch
from PIL import Image

from stylekernel.data import HFSource, MemorySource, Record, StyleTransferDataModule


class Recorder(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.content: list[int] = []
        self.style: list[int] = []

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        self.content += [round(float(x) * 255 / 4) for x in batch["content"][:, 0, 0, 0]]
        self.style += [round(float(x) * 255 / 4) for x in batch["style"][:, 1, 0, 0]]
        return (self.w * batch["content"].mean()).sum()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.0)


def main() -> None:
    out = Path(sys.argv[1])
    files = sys.argv[2:]
    content = MemorySource([Record(f"{i:03d}", Image.new("RGB", (40, 40), (4 * i, 0, 0))) for i in range(24)])
    style = HFSource("parquet", data_files={"train": files}, key_column="id")
    held = MemorySource([Record("h", Image.new("RGB", (40, 40)))])
    dm = StyleTransferDataModule(content, style, val_content=held, val_style=held, test_content=held,
                                 test_style=held, batch_size=3, num_workers=2, load_size=32, crop_size=16,
                                 steps_per_epoch=4, shuffle_block=4)
    module = Recorder()
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_steps=4, logger=False,
                        enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
                        limit_val_batches=0, default_root_dir=str(out))
    trainer.fit(module, datamodule=dm)
    (out / f"rank{trainer.global_rank}.json").write_text(json.dumps({"content": module.content, "style": module.style}))


if __name__ == "__main__":
    main()
