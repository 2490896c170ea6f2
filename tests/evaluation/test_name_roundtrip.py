"""The one ``<content>__<style>`` name rule, end to end: the names every writer produces
(``stylekernel stylize`` folder mode, ``stylekernel predict``'s writer over folder sources,
``stylekernel evaluate --save-images``) are paired back by ``stylekernel evaluate --stylized-dir``.

The content stems hold a ``__``, dots and a space; the styles are a JPEG and a PNG (ids drop the
extension whatever it is). A folder whose names read two ways is one clear error line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning as L
import pytest

from stylekernel.checkpoint import load_net
from stylekernel.cli import main as stylekernel_main
from stylekernel.data import FolderSource, StyleTransferDataModule
from stylekernel.module import StyleTransferModule
from stylekernel.prediction_writer import StylizedImageWriter

from stylekernel_eval.pairing import PairingError, pair_stylized_dir
from stylekernel_eval.protocol import EvalConfig
from stylekernel_eval.runner import evaluate

from .conftest import write_images

CONTENTS = ["a__b.png", "my photo.png", "photo.v2.png"]
STYLES = ["oil on canvas.jpg", "paint.png"]
EVERY_PAIR = sorted((c, s) for c in CONTENTS for s in STYLES)


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    content, style = tmp_path / "content", tmp_path / "style"
    write_images(content, CONTENTS, seed=10, size=(80, 88))
    write_images(style, STYLES, seed=20, size=(88, 80))
    return content, style


def paired(stylized: Path, content: Path, style: Path) -> list[tuple[str, str]]:
    """(content file, style file) of every stylized file, by the rule evaluate --stylized-dir uses."""
    return sorted((p.content.name, p.style.name) for p in pair_stylized_dir(stylized, content, style))  # type: ignore[union-attr]


def test_stylize_folder_names_pair_back(folders: tuple[Path, Path], checkpoint_file: Path, tmp_path: Path) -> None:
    content, style = folders
    out = tmp_path / "stylize"
    assert stylekernel_main(["stylize", "--checkpoint", str(checkpoint_file), "--content", str(content), "--style", str(style),
                             "--output", str(out), "--style-size", "32", "--quiet"]) == 0
    assert "my photo__oil on canvas.png" in {p.name for p in out.iterdir()}
    assert paired(out, content, style) == EVERY_PAIR


def test_predict_writer_over_folder_sources_pairs_back(folders: tuple[Path, Path], checkpoint_file: Path, tmp_path: Path) -> None:
    content, style = folders
    dm = StyleTransferDataModule(FolderSource(content), FolderSource(style), test_content=FolderSource(content),
                                 test_style=FolderSource(style), batch_size=2, num_workers=0, test_size=32,
                                 test_batch_size=2, num_val_content=1, num_val_style=1, verify_heldout=False)
    out = tmp_path / "predict"
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, callbacks=[StylizedImageWriter(str(out))],
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(tmp_path))
    trainer.predict(StyleTransferModule(load_net(checkpoint_file)), datamodule=dm, return_predictions=False)
    names = sorted(p.name for p in out.iterdir())
    assert "photo.v2__paint.png" in names and not any(".png__" in n or ".jpg" in n for n in names)  # the old bug
    assert paired(out, content, style) == EVERY_PAIR


def test_evaluate_save_images_names_pair_back_through_the_cli(eval_weights: Path, folders: tuple[Path, Path], tiny_net: Any,
                                                              tmp_path: Path) -> None:
    content, style = folders
    config = EvalConfig(content_dir=str(content), style_dir=str(style), output=str(tmp_path / "run"), save_images=True,
                        batch_size=2, loss_encoder="random", progress=False, ssim=False, timing=False, fid_sqrtm="exact")
    first = evaluate(config, net=tiny_net)
    saved = tmp_path / "run" / "stylized"
    assert paired(saved, content, style) == EVERY_PAIR
    again = tmp_path / "again"
    assert stylekernel_main(["evaluate", "--stylized-dir", str(saved), "--content-dir", str(content), "--style-dir", str(style),
                             "--output", str(again), "--loss-encoder", "random", "--no-progress", "--no-timing", "--no-ssim",
                             "--fid-sqrtm", "exact"]) == 0
    summary = json.loads((again / "summary.json").read_text())
    assert summary["n_pairs"] == len(EVERY_PAIR)
    assert summary["metrics"]["lpips"]["value"] == pytest.approx(first["metrics"]["lpips"]["value"], abs=1e-6)


def test_names_that_read_two_ways_are_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    content = write_images(tmp_path / "c", ["a.png", "a__b.png"], seed=1, size=(16, 16))[0].parent
    style = write_images(tmp_path / "s", ["x.png", "b__x.png"], seed=2, size=(16, 16))[0].parent
    stylized = write_images(tmp_path / "x", ["a__b__x.png", "a__x.png"], seed=3, size=(16, 16))[0].parent
    with pytest.raises(PairingError) as err:
        pair_stylized_dir(stylized, content, style)
    message = str(err.value)
    assert "\n" not in message and message.startswith("1 of 2 stylized files")
    assert "a__b__x.png: ambiguous, reads as content 'a' + style 'b__x' or content 'a__b' + style 'x'" in message
    status = stylekernel_main(["evaluate", "--stylized-dir", str(stylized), "--content-dir", str(content), "--style-dir",
                               str(style), "--output", str(tmp_path / "o"), "--no-progress", "--no-timing"])
    err_lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert status == 2 and len(err_lines) == 1 and "ambiguous" in err_lines[0]
