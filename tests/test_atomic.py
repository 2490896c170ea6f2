"""stylekernel.atomic: the one atomic write. An exception inside the block (an interruption) leaves
the old file or folder as it was and no temporary path; success replaces it, fsynced first; a
missing folder is the caller's OSError; killed writers' leftovers are found by name. The callers
(checkpoints, weights, export, released, images) keep their one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from stylekernel.atomic import atomic_write, clean_stale_temp_files, temp_path


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


class Interrupted(Exception):
    pass


@pytest.mark.parametrize("exc", [Interrupted("boom"), KeyboardInterrupt()], ids=["exception", "ctrl-c"])
def test_interruption_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path, exc: BaseException) -> None:
    target = tmp_path / "result.json"
    target.write_text("old")
    with pytest.raises(type(exc)):
        with atomic_write(target) as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".result.json.") and not tmp.exists()
            tmp.write_text("half writ")
            raise exc
    assert target.read_text() == "old" and _names(tmp_path) == ["result.json"]


def test_success_replaces_after_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "w.bin"
    target.write_bytes(b"old")
    events: list[tuple[str, int | str]] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("fsync", os.fstat(fd).st_ino)), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("replace", Path(b).name)), real_replace(a, b))[1])
    with atomic_write(target) as tmp:
        with open(tmp, "wb") as f:
            f.write(b"new bytes")
    assert target.read_bytes() == b"new bytes" and _names(tmp_path) == ["w.bin"]
    # the new file's data, then the rename, then the folder's entry
    assert events == [("fsync", target.stat().st_ino), ("replace", "w.bin"), ("fsync", tmp_path.stat().st_ino)]


def test_a_folder_replaces_a_folder_only_when_complete(tmp_path: Path) -> None:
    target = tmp_path / "release"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(Interrupted):
        with atomic_write(target) as tmp:
            tmp.mkdir()
            (tmp / "model.safetensors").write_bytes(b"partial")
            raise Interrupted
    assert _names(tmp_path) == ["release"] and _names(target) == ["old.txt"]
    with atomic_write(target) as tmp:
        tmp.mkdir()
        (tmp / "sub").mkdir()
        (tmp / "sub" / "new.txt").write_text("new")
    assert _names(tmp_path) == ["release"] and _names(target) == ["sub"]
    assert (target / "sub" / "new.txt").read_text() == "new"


def test_failed_rename_of_a_folder_puts_the_old_one_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    real_replace = os.replace
    calls: list[str] = []

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls.append(Path(src).name)
        if len(calls) == 2:  # the old folder went aside; the new one cannot take its place
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="No space left"):
        with atomic_write(target) as tmp:
            tmp.mkdir()
            (tmp / "new.txt").write_text("new")
    assert len(calls) == 3 and calls[0] == "out" and calls[2] != calls[1]  # aside, failed, back
    assert _names(tmp_path) == ["out"] and _names(target) == ["keep.txt"]


def test_missing_folder_and_empty_block_raise_and_leave_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        with atomic_write(tmp_path / "missing" / "x.ckpt") as tmp:
            tmp.write_bytes(b"x")
    target = tmp_path / "x.txt"
    target.write_text("old")
    with pytest.raises(FileNotFoundError):  # a block that wrote nothing is a bug, not an empty file
        with atomic_write(target):
            pass
    assert _names(tmp_path) == ["x.txt"] and target.read_text() == "old"


def test_stale_temp_files_are_found_by_name(tmp_path: Path) -> None:
    live = temp_path(tmp_path / "last.ckpt")
    live.write_bytes(b"being written by this process")
    dead = tmp_path / live.name.replace(f".{os.getpid()}.", ".999999999.")
    dead.write_bytes(b"left by a kill")
    dead_image = tmp_path / temp_path(tmp_path / "a.png").name.replace(f".{os.getpid()}.", ".999999999.")
    dead_image.write_bytes(b"left by a kill")
    other_host = tmp_path / f".b.ckpt.elsewhere.{os.getpid()}.0123abcd.tmp"
    other_host.write_bytes(b"maybe still being written")
    (tmp_path / ".notes.tmp").write_text("not ours")
    assert clean_stale_temp_files(tmp_path, target_suffix=".ckpt") == [dead]
    assert sorted(clean_stale_temp_files(tmp_path)) == [dead_image]
    os.utime(other_host, (0, 0))  # old enough: its writer is taken as gone
    assert clean_stale_temp_files(tmp_path, target_suffix=".ckpt") == [other_host]
    assert _names(tmp_path) == sorted([live.name, ".notes.tmp"])


# --- the callers: interruption keeps the old file, their own one-line errors -------------------
def test_interrupted_checkpoint_save_keeps_the_old_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stylekernel import checkpoint_io

    path = tmp_path / "last.ckpt"
    checkpoint_io.save_atomically({"step": 1}, path)
    real_save = torch.save

    def dying(obj: object, f: object, *args: object, **kwargs: object) -> None:
        real_save({"partial": 1}, f)
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dying)
    with pytest.raises(KeyboardInterrupt):
        checkpoint_io.save_atomically({"step": 2}, path)
    monkeypatch.setattr(torch, "save", real_save)
    assert torch.load(path, weights_only=True) == {"step": 1} and _names(tmp_path) == ["last.ckpt"]


def test_interrupted_image_save_keeps_the_old_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    from stylekernel.errors import ConfigError
    from stylekernel.image_files import OutputWriteError, save_image

    path = save_image(torch.zeros(3, 4, 4), tmp_path / "a.png")
    before = path.read_bytes()

    def failing_save(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        fp.write(b"\x89PNG half")  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(OutputWriteError, match=r"^cannot write .*a\.png: No space left on device$"):
        save_image(torch.ones(3, 4, 4), path, overwrite=True)
    assert path.read_bytes() == before and _names(tmp_path) == ["a.png"]
    monkeypatch.undo()
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(OutputWriteError, match=r"^cannot write .*file/b\.png: "):  # the folder is a file
        save_image(torch.ones(3, 4, 4), tmp_path / "file" / "b.png")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(ConfigError, match="is a directory"):
        save_image(torch.ones(3, 4, 4), tmp_path / "dir.png")
    assert _names(tmp_path) == ["a.png", "dir.png", "file"]


def test_weights_download_failure_keeps_the_cache_clean(tmp_path: Path, weights_cache: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from stylekernel import weights
    from stylekernel.errors import WeightsNotFoundError

    for var in ("STYLEKERNEL_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    src = tmp_path / "remote.pth"
    src.write_bytes(b"x" * 3000)
    entry = weights.WeightFile("thing", "thing.pth", src.as_uri(), used_by="test")
    monkeypatch.setitem(weights.REGISTRY, "thing", entry)

    def cut(url: str, dst: Path, *, progress: bool) -> None:
        dst.write_bytes(b"x" * 10)
        raise OSError("connection reset")

    monkeypatch.setattr(weights, "_fetch", cut)
    with pytest.raises(WeightsNotFoundError, match="download failed: connection reset"):
        weights.download("thing", progress=False)
    assert _names(weights_cache) == []
