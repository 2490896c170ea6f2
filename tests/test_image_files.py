"""stylekernel.image_files beyond decoding (tests/data/test_decode.py): conversion, saving, listing,
ids, the ``<content>__<style>`` name rule and its parser, the pairs-file reader."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylekernel import image_files
from stylekernel.errors import ConfigError
from stylekernel.image_files import (
    IMAGE_EXTENSIONS,
    AmbiguousNameError,
    OutputWriteError,
    assign_ids,
    image_id,
    list_images,
    parse_stylized_name,
    pil_to_tensor,
    quantize,
    read_pairs_file,
    save_image,
    scan_images,
    stylized_name,
    tensor_to_pil,
    to_uint8,
)


def test_conversion_matches_the_naive_arithmetic() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 9, 11, generator=g) * 1.2 - 0.1  # values outside [0, 1] are clamped
    x[0, 0, :4] = torch.tensor([0.5 / 255, 1.5 / 255, 2.5 / 255, 254.5 / 255])  # ties: round half to even
    naive = np.clip(x.numpy(), np.float32(0), np.float32(1)) * np.float32(255)  # float32, as the files were written
    want = np.round(naive).astype(np.uint8)  # numpy rounds half to even too
    assert want[0, 0, :3].tolist() == [0, 2, 2]  # the ties went to even
    assert np.array_equal(to_uint8(x).numpy(), want)
    image = tensor_to_pil(x[None])
    assert image.mode == "RGB" and image.size == (11, 9)
    assert np.array_equal(np.asarray(image), want.transpose(1, 2, 0))
    back = pil_to_tensor(image)
    assert back.shape == (1, 3, 9, 11) and back.dtype == torch.float32
    assert torch.equal(back[0], torch.from_numpy(want.astype(np.float32)) / 255)
    assert torch.equal(quantize(x), to_uint8(x).float() / 255)
    with pytest.raises(ConfigError, match="shape"):
        tensor_to_pil(torch.rand(4, 3, 3))


def test_save_image_is_atomic_and_refuses_overwrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    x = torch.rand(3, 6, 5)
    path = save_image(x, tmp_path / "sub" / "a.png")
    with Image.open(path) as im:
        assert np.array_equal(np.asarray(im), to_uint8(x).permute(1, 2, 0).numpy())
    with pytest.raises(ConfigError, match="exists"):
        save_image(x, path)
    with pytest.raises(ConfigError, match="unknown image extension"):
        save_image(x, tmp_path / "a.gifx")
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(image_files.os, "fsync", lambda fd: (synced.append(os.fstat(fd).st_ino), real_fsync(fd)))
    save_image(tensor_to_pil(x), path, overwrite=True)
    assert synced == [path.stat().st_ino, path.parent.stat().st_ino]  # the new file, then the folder's entry
    monkeypatch.setattr(image_files.os, "replace", lambda *a: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(OutputWriteError, match="No space left"):
        save_image(x, tmp_path / "b.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]  # no temporary file left behind
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["a.png"]


def test_one_extension_list_and_one_listing(tmp_path: Path) -> None:
    assert len(IMAGE_EXTENSIONS) == len(set(IMAGE_EXTENSIONS)) == 11
    for name in ("b.PNG", "a.jpg", "c.gif", ".hidden.png", "notes.txt", "z.tiff"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "dir.jpg").mkdir()
    images, ignored = scan_images(tmp_path)
    assert [p.name for p in images] == ["a.jpg", "b.PNG", "c.gif", "dir.jpg", "z.tiff"] and ignored == 1
    assert list_images(tmp_path) == images
    with pytest.raises(ConfigError, match="holds no image files"):
        list_images(tmp_path / "dir.jpg")
    with pytest.raises(ConfigError, match="does not exist"):
        list_images(tmp_path / "missing", "content")


def test_ids_drop_the_image_extension_and_never_leave_the_folder() -> None:
    assert image_id("photo.jpg") == "photo" and image_id("photo.v2.JPEG") == "photo.v2"
    assert image_id("my photo.png") == "my photo" and image_id("notes.txt") == "notes.txt"
    assert image_id("sub/dir\\a.png") == "sub_dir_a" and image_id("../../etc/passwd") == "_.._etc_passwd"
    assert image_id(torch.tensor(7)) == "7" and image_id("") == "unnamed" and image_id(".png") == "png"
    paths = [Path("a.jpg"), Path("a.png"), Path("b.c.png")]
    assert assign_ids(paths) == {Path("a.jpg"): "a_jpg", Path("a.png"): "a_png", Path("b.c.png"): "b.c"}


def test_name_rule_and_its_parser() -> None:
    contents, styles = ["a", "a__b", "my photo", "x.y"], ["paint", "b__x", "x"]
    for c in contents:
        for s in styles:
            name = stylized_name(c, s, "jpg")
            assert name == f"{c}__{s}.jpg"
            if (c, s) not in (("a", "b__x"), ("a__b", "x")):
                assert parse_stylized_name(name, contents, styles) == (c, s)
    with pytest.raises(AmbiguousNameError) as err:  # a__b__x.png: (a, b__x) or (a__b, x)
        parse_stylized_name("a__b__x.png", contents, styles)
    message = str(err.value)
    assert "\n" not in message and "ambiguous" in message and "'a__b'" in message and "'b__x'" in message
    with pytest.raises(AmbiguousNameError, match="no <content>__<style> reading"):
        parse_stylized_name("zzz.png", contents, styles)


def test_one_pairs_reader_accepts_both_headers_and_formats(tmp_path: Path) -> None:
    file = tmp_path / "pairs.txt"
    for header in ("content,style", "Content_ID,style_id", "# a comment"):
        file.write_text(f"{header}\n\n# comment\nc 1.jpg, s#1.png  # trailing comment\nc2.jpg\ts2.png\n")
        assert read_pairs_file(file) == [("c 1.jpg", "s#1.png"), ("c2.jpg", "s2.png")]
    file.write_text("c1.jpg,s1.png\ncontent,style\n")  # a header only on the first line
    assert read_pairs_file(file) == [("c1.jpg", "s1.png"), ("content", "style")]
    file.write_text("c1.jpg,s1.png,extra\n")
    with pytest.raises(ConfigError, match="line 1: expected 'content,style'"):
        read_pairs_file(file)
    file.write_text("content,style\n# nothing\n")
    with pytest.raises(ConfigError, match="lists no pairs"):
        read_pairs_file(file)
    with pytest.raises(ConfigError, match="does not exist"):
        read_pairs_file(tmp_path / "missing.txt")
