"""Images too small for the art Inception (75x75 after any resizing) are one line before any work starts."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from stylekernel.cli import main as stylekernel_main


@pytest.fixture
def folders(tmp_path: Path, image_writer: Callable[..., list[Path]]) -> dict[str, Path]:
    content, style, stylized = tmp_path / "content", tmp_path / "style", tmp_path / "stylized"
    image_writer(content, ["c0.png", "c1.png"], seed=1)
    image_writer(style, ["s0.png", "s1.png"], seed=2, size=(104, 96))
    image_writer(stylized, ["c0__s0.png", "c0__s1.png", "c1__s1.png"], seed=3)
    image_writer(stylized, ["c1__s0.png"], seed=4, size=(80, 64))  # H x W: too small for Inception
    return {"content": content, "style": style, "stylized": stylized}


def _evaluate(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str]:
    status = stylekernel_main(["evaluate", *map(str, args), "--no-progress"])
    return status, capsys.readouterr().err.strip()


def test_a_small_stylized_image_is_named_before_any_work(weights_cache: Path, folders: dict[str, Path], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    # weights_cache is empty: the size check comes before the weight files are even looked for
    base = ["--stylized-dir", folders["stylized"], "--content-dir", folders["content"], "--style-dir", folders["style"],
            "--output", tmp_path / "out"]
    status, err = _evaluate(capsys, *base)
    assert status == 2 and len(err.splitlines()) == 1, err
    assert str(folders["stylized"] / "c1__s0.png") in err and "64x80" in err and "--fid-resize" in err and "75x75" in err
    assert not (tmp_path / "out").exists()
    # the flag it names gets past the check (to the next one: the missing weight files, offline)
    status, err = _evaluate(capsys, *base, "--fid-resize", "80")
    assert status == 2 and "FID:" not in err and "stylekernel weights download" in err, err
    status, err = _evaluate(capsys, *base, "--fid-resize", "64")
    assert status == 2 and "fid_resize 64" in err and "75" in err, err


def test_checkpoint_mode_checks_content_and_style_sizes(weights_cache: Path, folders: dict[str, Path], checkpoint_file: Path,
                                                        tmp_path: Path, image_writer: Callable[..., list[Path]],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    small_style = tmp_path / "small_style"
    image_writer(small_style, ["s1.png"], seed=5)
    image_writer(small_style, ["tiny.png"], seed=6, size=(70, 120))
    status, err = _evaluate(capsys, "--checkpoint", checkpoint_file, "--content-dir", folders["content"], "--style-dir", small_style,
                            "--output", tmp_path / "o")
    assert status == 2 and len(err.splitlines()) == 1 and "tiny.png (style image) is 120x70" in err, err
    # --size resizes content and style images: too small a size is named too
    status, err = _evaluate(capsys, "--checkpoint", checkpoint_file, "--content-dir", folders["content"], "--style-dir", folders["style"],
                            "--size", "64", "--output", tmp_path / "o")
    assert status == 2 and "--size 64" in err and "c0.png" in err and "--fid-resize" in err, err
    # and --size 80 makes even the small style image big enough (shorter side 80): past the check
    status, err = _evaluate(capsys, "--checkpoint", checkpoint_file, "--content-dir", folders["content"], "--style-dir", small_style,
                            "--size", "80", "--output", tmp_path / "o")
    assert status == 2 and "FID:" not in err and "stylekernel weights download" in err, err
