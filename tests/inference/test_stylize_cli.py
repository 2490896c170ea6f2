"""``stylekernel stylize``: single and folder modes, overwrite rules, one-line errors, atomic writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stylekernel.cli import main as cli_main


@pytest.fixture
def images(tmp_path: Path, rand_rgb) -> dict[str, Path]:
    """Small content/style files and folders."""
    (tmp_path / "contents").mkdir()
    (tmp_path / "styles").mkdir()
    rand_rgb(40, 24, seed=1).save(tmp_path / "contents" / "cat.png")
    rand_rgb(17, 33, seed=2).save(tmp_path / "contents" / "dog.jpg")
    rand_rgb(32, 32, seed=3).save(tmp_path / "styles" / "wave.png")
    rand_rgb(48, 24, seed=4).save(tmp_path / "styles" / "starry.jpg")
    return {
        "content": tmp_path / "contents" / "cat.png",
        "content2": tmp_path / "contents" / "dog.jpg",
        "style": tmp_path / "styles" / "wave.png",
        "style2": tmp_path / "styles" / "starry.jpg",
        "contents": tmp_path / "contents",
        "styles": tmp_path / "styles",
    }


def run(checkpoint: Path, *args: object) -> int:
    argv = ["stylize", "--checkpoint", str(checkpoint), "--style-size", "32", "--quiet", *map(str, args)]
    return cli_main(argv)


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.name.endswith(".tmp")]


def test_single_image(checkpoint, images, tmp_path, capsys):
    out = tmp_path / "out" / "result.png"
    assert run(checkpoint, "--content", images["content"], "--style", images["style"], "--output", out, "--alpha", "0.7") == 0
    with Image.open(out) as im:
        assert im.size == (40, 24) and im.mode == "RGB"
    assert "wrote" in capsys.readouterr().err


def test_single_image_into_existing_folder_and_blend(checkpoint, images, tmp_path):
    out = tmp_path / "outdir"
    out.mkdir()
    args = ["--content", images["content"], "--style", images["style"], "--style", images["style2"]]
    assert run(checkpoint, *args, "--style-weights", "0.7", "0.3", "--output", out) == 0
    assert (out / "cat__wave+starry.png").is_file()
    mask = tmp_path / "mask.png"
    Image.new("L", (40, 24), 255).save(mask)
    assert run(checkpoint, *args, "--mask", mask, "--output", tmp_path / "masked.png", "--preserve-color") == 0


def test_folder_mode_counts_failures_and_keeps_going(checkpoint, images, tmp_path, capsys):
    contents = images["contents"]
    (contents / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 20)  # truncated JPEG
    (contents / "notes.txt").write_text("not an image, ignored")
    (contents / "folder.png").mkdir()  # a directory named like an image
    out = tmp_path / "out"
    status = run(checkpoint, "--content", contents, "--style", images["styles"], "--output", out)
    err = capsys.readouterr().err
    assert status == 1
    written = sorted(p.name for p in out.iterdir())
    assert written == ["cat__starry.png", "cat__wave.png", "dog__starry.png", "dog__wave.png"]
    with Image.open(out / "dog__wave.png") as im:
        assert im.size == (17, 33)
    assert "4 written, 0 skipped (exist), 4 failed of 8" in err and "1 non-image file(s) ignored" in err
    assert err.count("failed: broken.jpg") == 2 and err.count("failed: folder.png") == 2
    assert "Traceback" not in err and leftovers(tmp_path) == []


def test_folder_mode_skips_existing_unless_overwrite(checkpoint, images, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["--content", images["content"], "--style", images["styles"], "--output", out]
    assert run(checkpoint, *args) == 0
    target = out / "cat__wave.png"
    Image.new("RGB", (3, 3)).save(target)  # a marker the next run must not touch
    (out / "cat__starry.png").unlink()  # a missing output the next run must (re)write
    capsys.readouterr()
    assert run(checkpoint, *args) == 0
    assert "1 written, 1 skipped" in capsys.readouterr().err
    with Image.open(target) as im:
        assert im.size == (3, 3)
    assert run(checkpoint, *args, "--overwrite") == 0
    with Image.open(target) as im:
        assert im.size == (40, 24)


def test_single_mode_refuses_to_overwrite(checkpoint, images, tmp_path, capsys):
    out = tmp_path / "result.png"
    Image.new("RGB", (3, 3)).save(out)
    before = out.read_bytes()
    assert run(checkpoint, "--content", images["content"], "--style", images["style"], "--output", out) == 2
    assert "exists" in capsys.readouterr().err and out.read_bytes() == before
    assert run(checkpoint, "--content", images["content"], "--style", images["style"], "--output", out, "--overwrite") == 0
    assert out.read_bytes() != before


def _bad_inputs(tmp_path: Path, good: Path) -> dict[str, Path]:
    bad = {}
    bad["empty.jpg"] = tmp_path / "empty.jpg"
    bad["empty.jpg"].write_bytes(b"")
    data = good.read_bytes()
    bad["truncated.png"] = tmp_path / "truncated.png"
    bad["truncated.png"].write_bytes(data[: len(data) // 2])
    bad["corrupt.png"] = tmp_path / "corrupt.png"
    bad["corrupt.png"].write_bytes(data[:40] + bytes(np.random.default_rng(0).integers(0, 256, 400, dtype=np.uint8)))
    bad["text.jpg"] = tmp_path / "text.jpg"
    bad["text.jpg"].write_text("hello, I am text")
    bad["page.jpg"] = tmp_path / "page.jpg"
    bad["page.jpg"].write_text("<html><body>Not found</body></html>")
    bad["dir.jpg"] = tmp_path / "dir.jpg"
    bad["dir.jpg"].mkdir()
    bad["missing.png"] = tmp_path / "missing.png"
    return bad


@pytest.mark.parametrize("role", ["content", "style"])
def test_invalid_images_fail_with_one_line(checkpoint, images, tmp_path, capsys, role):
    (tmp_path / role).mkdir()
    for name, path in _bad_inputs(tmp_path / role, images["content"]).items():
        out = tmp_path / f"out_{name}.png"
        content = path if role == "content" else images["content"]
        style = path if role == "style" else images["style"]
        status = run(checkpoint, "--content", content, "--style", style, "--output", out)
        err = capsys.readouterr().err.strip()
        assert status == 2, name
        assert err.startswith("stylekernel") and "error" in err and len(err.splitlines()) == 1, (name, err)
        assert "Traceback" not in err and not out.exists(), name
    assert leftovers(tmp_path) == []


def test_invalid_checkpoints_fail_with_one_line(images, tmp_path, capsys):
    text = tmp_path / "text.ckpt"
    text.write_text("this is not a checkpoint")
    empty = tmp_path / "empty.ckpt"
    empty.write_bytes(b"")
    import torch

    plain = tmp_path / "plain.ckpt"
    torch.save({"weights": torch.zeros(2)}, plain)
    for ckpt in (text, empty, plain, tmp_path / "missing.ckpt", tmp_path):
        out = tmp_path / "o.png"
        status = run(ckpt, "--content", images["content"], "--style", images["style"], "--output", out)
        err = capsys.readouterr().err.strip()
        assert status == 2 and len(err.splitlines()) == 1 and "checkpoint" in err, (ckpt, err)
        assert not out.exists()


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--style-weights", "1", "2", "3"], "--style-weights"),
        (["--output", "x.unknown"], "extension"),
        (["--mask", "missing_mask.png"], "does not exist"),
    ],
)
def test_option_errors(checkpoint, images, tmp_path, capsys, monkeypatch, extra, message):
    monkeypatch.chdir(tmp_path)
    args = ["--content", images["content"], "--style", images["style"], "--style", images["style2"]]
    if "--output" not in extra:
        args += ["--output", tmp_path / "o.png"]
    assert run(checkpoint, *args, *extra) == 2
    assert message in capsys.readouterr().err


def test_blending_folders_is_rejected(checkpoint, images, tmp_path, capsys):
    status = run(checkpoint, "--content", images["content"], "--style", images["styles"], "--style", images["style"], "--output", tmp_path / "o")
    assert status == 2 and "each must be a file" in capsys.readouterr().err


def test_failed_write_leaves_no_file(checkpoint, images, tmp_path, monkeypatch, capsys):
    def boom(self, fp, format=None, **params):  # noqa: A002
        fp.write(b"partial") if hasattr(fp, "write") else Path(fp).write_bytes(b"partial")  # save_image passes its open file
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", boom)
    out = tmp_path / "folder_out"
    status = run(checkpoint, "--content", images["content"], "--style", images["style"], "--output", out / "x.png")
    err = capsys.readouterr().err.strip()
    assert status == 2 and "disk full" in err and len(err.splitlines()) == 1
    assert not (out / "x.png").exists() and leftovers(tmp_path) == []


def test_console_entry_point_prints_no_traceback(checkpoint, tmp_path):
    page = tmp_path / "photo.jpg"
    page.write_text("<!DOCTYPE html><html></html>")
    proc = subprocess.run(
        [sys.executable, "-m", "stylekernel.cli", "stylize", "--checkpoint", str(checkpoint), "--content", str(page),
         "--style", str(page), "--output", str(tmp_path / "o.png")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "photo.jpg" in proc.stderr and "HTML" in proc.stderr
    assert not (tmp_path / "o.png").exists()


@pytest.mark.slow
def test_2048_content_stays_in_bounded_memory(checkpoint, tmp_path, rand_rgb):
    """The CLI on a 2048x2048 content image in a fresh process: peak RSS well under the 8 GB target.

    Untiled, the encoder's relu1_1/conv1_2 maps alone would be 2 x 1 GiB at this size; the whole
    tiled run (Python, torch, network, images) peaks around 2 GB.
    """
    content = tmp_path / "big.png"
    rand_rgb(2048, 2048, seed=11).save(content)
    rand_rgb(64, 64, seed=12).save(tmp_path / "style.png")
    log, peak_file = tmp_path / "stderr.txt", tmp_path / "vmhwm.txt"
    # The child reports its own high-water mark (VmHWM of its address space, fresh since exec) at exit.
    # Not ru_maxrss: Linux carries the forking parent's RSS into a child's maxrss across exec, so after
    # a few heavy tests in this pytest process the child would read as the parent's size.
    launcher = (
        "import atexit, re, sys\n"
        f"atexit.register(lambda: open({str(peak_file)!r}, 'w').write("
        "re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)))\n"
        "from stylekernel.cli import main\n"
        "sys.argv = ['stylekernel', *sys.argv[1:]]\n"
        "sys.exit(main())\n"
    )
    with open(log, "w") as err:
        proc = subprocess.run(
            [sys.executable, "-c", launcher, "stylize", "--checkpoint", str(checkpoint), "--content", str(content),
             "--style", str(tmp_path / "style.png"), "--style-size", "256", "--output", str(tmp_path / "out.png")],
            stdout=subprocess.DEVNULL, stderr=err, timeout=900,
        )  # fmt: skip
    assert proc.returncode == 0, log.read_text()[-2000:]
    peak_gb = int(peak_file.read_text()) / 2**20  # KiB -> GiB
    assert peak_gb < 4.0, peak_gb
    with Image.open(tmp_path / "out.png") as im:
        assert im.size == (2048, 2048)
