"""``stylekernel data check|demo`` and the presets in configs/data/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from stylekernel.cli import main as stylekernel_main
from stylekernel.data import DemoSource, FolderSource, HFSource, StyleTransferDataModule
from stylekernel.data.cli import main as data_main

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs" / "data").glob("*.yaml"))


def test_check_lists_every_undecodable_file(make_folder: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_folder("imgs", 6)
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "sub1" / "page.png").write_text("<!doctype html><html></html>")
    (folder / "notes.txt").write_text("ignored: not an image extension")
    status = stylekernel_main(["data", "check", str(folder), "--workers", "2"])
    out, err = capsys.readouterr()
    assert status == 1
    lines = out.strip().splitlines()
    assert lines[0].startswith("empty.jpg: empty file")
    assert lines[1].startswith("sub1/page.png: not an image")
    assert lines[-1] == f"checked 8 images in folder {folder}: 2 undecodable"
    assert "8/8" in err  # tqdm progress bar


def test_check_clean_folder_and_parquet(make_folder: Callable[..., Path], make_parquet: Callable[..., list[str]],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert data_main(["check", str(make_folder("ok", 4)), "--quiet"]) == 0
    files = make_parquet(shards=2, per_shard=3, broken={"s1_2"})
    assert data_main(["check", *files, "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "checked 6 images" in out and "1 undecodable" in out and "not an image" in out


def test_check_file_list(make_folder: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_folder("imgs", 3, nested=False)
    listing = tmp_path / "list.txt"
    listing.write_text(f"# my images\n{folder}/img000.jpg\n{folder}/missing.jpg\n")
    assert data_main(["check", str(listing), "--quiet"]) == 1
    assert "missing.jpg: file not found" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["data", "check", "/no/such/folder"], "does not exist"),
    (["data", "check"], "required"),
    (["data", "frobnicate"], "invalid choice"),
    (["data", "check", "hf:huggan/wikiart", "--quiet"], "could not be loaded"),
])
def test_bad_usage_is_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert stylekernel_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("stylekernel: error:") and message in err


def test_demo_writes_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert stylekernel_main(["data", "demo", "--output", str(tmp_path / "demo"), "--size", "64"]) == 0
    content = sorted(p.name for p in (tmp_path / "demo" / "content").iterdir())
    style = sorted(p.name for p in (tmp_path / "demo" / "style").iterdir())
    assert content == sorted(DemoSource("content").keys()) and len(style) == 11
    # the written folder is a valid training source
    assert FolderSource(tmp_path / "demo" / "style").keys() == sorted(DemoSource("style").keys())
    assert data_main(["check", str(tmp_path / "demo"), "--quiet"]) == 0


def instantiate(config: Path) -> StyleTransferDataModule:
    import lightning as L
    from jsonargparse import ActionConfigFile, ArgumentParser

    parser = ArgumentParser()
    parser.add_argument("--config", action=ActionConfigFile)
    parser.add_subclass_arguments(L.LightningDataModule, "data")
    cfg = parser.parse_args(["--config", str(config)])
    return parser.instantiate(cfg).data  # type: ignore[no-any-return]


def test_presets_exist() -> None:
    assert {p.name for p in CONFIGS} >= {"demo.yaml", "coco_wikiart_local.yaml", "coco_wikiart_hub.yaml"}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_preset_parses_and_holds_no_default_values(config: Path) -> None:
    import inspect

    raw = yaml.safe_load(config.read_text())
    assert raw["data"]["class_path"] == "stylekernel.data.StyleTransferDataModule"
    defaults = {name: p.default for name, p in inspect.signature(StyleTransferDataModule).parameters.items()}
    for key, value in raw["data"]["init_args"].items():
        assert key in defaults, key
        assert value != defaults[key], f"{config.name}: {key} repeats the code default"
    dm = instantiate(config)  # nothing is read or downloaded here
    assert isinstance(dm, StyleTransferDataModule)


def test_demo_preset_trains_a_batch() -> None:
    dm = instantiate(REPO / "configs" / "data" / "demo.yaml")
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["content"].shape == (4, 3, 128, 128)
    assert len(dm.test_pairs()) == 6 * 11


def test_hub_preset_names_the_paper_datasets() -> None:
    dm = instantiate(REPO / "configs" / "data" / "coco_wikiart_hub.yaml")
    assert isinstance(dm.style, HFSource) and dm.style.path == "huggan/wikiart" and dm.style.streaming
    assert isinstance(dm.content, HFSource) and dm.content.path == "justram/COCO2014-Images"
