"""StylizedImageWriter with a real ``Trainer.predict`` loop, and the predict config that uses it."""

from __future__ import annotations

import importlib
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from stylekernel.errors import ConfigError
from stylekernel.module import StyleTransferModule
from stylekernel.prediction_writer import StylizedImageWriter, safe_id

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "predict" / "stylize_folder.yaml"


class Pairs(Dataset):
    """What the predict dataloader must yield: content, style, ids, and the true content size."""

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.items = []
        for i, (h, w) in enumerate([(32, 40), (24, 40), (32, 16)]):
            content = torch.zeros(3, 32, 40)  # batch padding to 32 x 40
            content[:, :h, :w] = torch.rand(3, h, w, generator=g)
            self.items.append({
                "content": content, "style": torch.rand(3, 32, 32, generator=g),
                "content_id": f"photo {i}", "style_id": "../escape" if i == 2 else "monet",
                "content_size": torch.tensor([h, w]),
            })  # fmt: skip

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]


def predict(module: StyleTransferModule, writer: StylizedImageWriter, tmp_path: Path) -> None:
    trainer = L.Trainer(
        accelerator="cpu", devices=1, logger=False, callbacks=[writer], enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=str(tmp_path),
    )  # fmt: skip
    trainer.predict(module, dataloaders=DataLoader(Pairs(), batch_size=2), return_predictions=False)


def test_writer_writes_every_pair_cropped_and_named(net, tmp_path):
    module = StyleTransferModule(net)
    out = tmp_path / "stylized"
    writer = StylizedImageWriter(str(out))
    predict(module, writer, tmp_path)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["photo 0__monet.png", "photo 1__monet.png", "photo 2___escape.png"]  # ids keep spaces (evaluate pairs them back)
    assert writer.written == 3 and writer.skipped == 0
    data = Pairs()
    with Image.open(out / "photo 1__monet.png") as im:
        assert im.size == (40, 24)
        got = np.asarray(im, dtype=np.int16)
    with torch.no_grad():
        ref = module(data[1]["content"][None], data[1]["style"][None])[0, :, :24, :40]
    expected = ref.mul(255).round().permute(1, 2, 0).numpy().astype(np.int16)
    assert np.abs(got - expected).max() <= 1
    with Image.open(out / "photo 2___escape.png") as im:
        assert im.size == (16, 32)


def test_writer_skips_existing_unless_overwrite(net, tmp_path):
    module = StyleTransferModule(net)
    out = tmp_path / "stylized"
    out.mkdir()
    Image.new("RGB", (2, 2)).save(out / "photo 0__monet.png")
    writer = StylizedImageWriter(str(out))
    predict(module, writer, tmp_path)
    assert writer.skipped == 1 and writer.written == 2
    with Image.open(out / "photo 0__monet.png") as im:
        assert im.size == (2, 2)
    writer = StylizedImageWriter(str(out), overwrite=True, image_format="jpg")
    assert writer.output_path("a", "b").name == "a__b.jpg"
    assert writer.output_path("photo.jpg", "paint.PNG").name == "photo__paint.jpg"  # folder-source keys lose their extension
    with pytest.raises(ConfigError):
        StylizedImageWriter(str(out), image_format="gif")  # type: ignore[arg-type]


def test_safe_id_is_the_image_id_rule():
    assert safe_id("a/b\\c d.e") == "a_b_c d.e"
    assert safe_id("../../etc/passwd") == "_.._etc_passwd"
    assert safe_id(torch.tensor(7)) == "7"
    assert safe_id("") == "unnamed"


def test_predict_config_builds_the_writer():
    config = yaml.safe_load(CONFIG.read_text())
    assert config["return_predictions"] is False
    (entry,) = config["trainer"]["callbacks"]
    module_name, _, cls_name = entry["class_path"].rpartition(".")
    cls = getattr(importlib.import_module(module_name), cls_name)
    writer = cls(**entry["init_args"])
    assert isinstance(writer, StylizedImageWriter)


def test_tuple_sizes_collated_by_default_are_understood(tmp_path):
    writer = StylizedImageWriter(str(tmp_path))
    batch = [{"stylized": torch.rand(3, 8, 8), "content_id": f"c{i}", "style_id": "s", "content_size": (5 + i, 8 - i)} for i in range(2)]
    prediction = torch.utils.data.default_collate(batch)  # content_size -> [tensor(h0, h1), tensor(w0, w1)]
    writer.write_on_batch_end(None, None, prediction, None, prediction, 0, 0)  # type: ignore[arg-type]
    for i in range(2):
        with Image.open(tmp_path / f"c{i}__s.png") as im:
            assert im.size == (8 - i, 5 + i)
