"""Bad input fails before any network loads, as one line and exit status 2, in one process or many."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from stylekernel.cli import main as stylekernel_main

from stylekernel_eval import runner


@pytest.fixture
def no_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading any metric network (or stylizing) fails the test: the checks must come first."""

    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a network was loaded before the input checks")

    monkeypatch.setattr(runner, "build_metrics", forbidden)  # scoring.build_metrics, as the runner calls it
    monkeypatch.setattr(runner, "run_rank", forbidden)


def _one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    status = stylekernel_main(["evaluate", *argv, "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1, err
    return err


def _folders(tmp_path: Path, image_writer: Any, n: int) -> list[str]:
    x = image_writer(tmp_path / "x", [f"c{i}__s{i}.png" for i in range(n)], seed=1, size=(80, 80))[0].parent
    c = image_writer(tmp_path / "c", [f"c{i}.png" for i in range(n)], seed=2, size=(80, 80))[0].parent
    s = image_writer(tmp_path / "s", [f"s{i}.png" for i in range(n)], seed=3, size=(80, 80))[0].parent
    return ["--stylized-dir", str(x), "--content-dir", str(c), "--style-dir", str(s)]


def test_one_image_per_set_is_one_line(eval_weights: Path, no_networks: None, image_writer: Any, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_error(_folders(tmp_path, image_writer, 1) + ["--output", str(tmp_path / "o")], capsys)
    assert "FID needs at least 2 images per set, got 1 stylized and 1 style" in err
    assert not (tmp_path / "o").exists()


def test_fid_inf_minimum_is_one_line(eval_weights: Path, no_networks: None, image_writer: Any, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_error(_folders(tmp_path, image_writer, 3) + ["--output", str(tmp_path / "o"), "--fid-variant",
                                                                 "fid_inf", "--style-set", "per_pair"], capsys)
    assert "FID_inf needs more than fid_inf_min_size=5000 pairs, got 3" in err


def test_missing_vgg19_of_the_losses_is_one_line(eval_weights: Path, no_networks: None, image_writer: Any,
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STYLEKERNEL_OFFLINE", "1")
    os.unlink(eval_weights / "vgg19-dcbb9e9d.pth")
    err = _one_line_error(_folders(tmp_path, image_writer, 2) + ["--output", str(tmp_path / "o")], capsys)
    assert "vgg19" in err and "stylekernel weights download vgg19" in err


def test_unwritable_output_is_one_line(eval_weights: Path, no_networks: None, image_writer: Any, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    err = _one_line_error(_folders(tmp_path, image_writer, 2) + ["--output", str(blocker)], capsys)
    assert "is not a folder" in err
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        err = _one_line_error(_folders(tmp_path, image_writer, 2) + ["--output", str(locked / "out")], capsys)
        assert "not writable" in err


def test_bad_pairing_is_one_line(eval_weights: Path, no_networks: None, image_writer: Any, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    argv = _folders(tmp_path, image_writer, 2)
    image_writer(tmp_path / "x", ["unknown.png"], seed=4)
    err = _one_line_error(argv + ["--output", str(tmp_path / "o")], capsys)
    assert "unknown.png" in err and "do not match" in err


def _corrupt_run(tmp_path: Path, image_writer: Any, devices: int, capsys: pytest.CaptureFixture[str]) -> str:
    """The error line of a run with a corrupt style image (read inside the worker processes).

    With several processes, Lightning's "Initializing distributed" lines come before it; the
    error itself must be one line, the same as in one process, with exit status 2, no traceback.
    """
    argv = _folders(tmp_path / f"d{devices}", image_writer, 4)
    (Path(argv[5]) / "s3.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    status = stylekernel_main(["evaluate", *argv, "--output", str(tmp_path / f"o{devices}"), "--devices", str(devices),
                               "--accelerator", "cpu", "--no-ssim", "--no-progress"])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("stylekernel: error:")]
    assert status == 2 and len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


@pytest.mark.ddp
def test_corrupt_image_is_the_same_line_in_one_process_and_two(eval_weights: Path, image_writer: Any, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    one = _corrupt_run(tmp_path, image_writer, 1, capsys)
    two = _corrupt_run(tmp_path, image_writer, 2, capsys)
    assert "s3.png" in one and "cannot read image" in one
    assert two == one.replace(str(tmp_path / "d1"), str(tmp_path / "d2"))
    assert not (tmp_path / "o2").exists()
