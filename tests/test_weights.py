"""The weights module: cache location, offline errors, atomic verified download, safe loading."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from stylekernel import weights
from stylekernel.errors import CheckpointError, WeightsNotFoundError


def test_cache_dir_honours_env(weights_cache: Path, monkeypatch) -> None:
    assert weights.cache_dir() == weights_cache
    monkeypatch.delenv("STYLEKERNEL_CACHE")
    monkeypatch.setenv("TORCH_HOME", str(weights_cache / "th"))
    assert weights.cache_dir() == weights_cache / "th" / "hub" / "checkpoints"


def test_registry_knows_every_file_the_suite_uses() -> None:
    assert {"vgg19", "vgg_normalised", "alexnet", "vgg16", "squeezenet1_1", "art_inception"} <= set(weights.REGISTRY)
    for w in weights.REGISTRY.values():
        assert w.url.startswith("https://") and w.url.endswith(w.filename)


def test_offline_missing_file_is_one_clear_line(weights_cache: Path) -> None:
    with pytest.raises(WeightsNotFoundError) as info:
        weights.resolve("art_inception")
    msg = str(info.value)
    assert "\n" not in msg and "stylekernel weights download art_inception" in msg
    assert weights.REGISTRY["art_inception"].url in msg and str(weights_cache) in msg


def _online(monkeypatch) -> None:
    """Downloads are allowed (the session runs offline); URLs in these tests are local files."""
    for var in ("STYLEKERNEL_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(var, raising=False)


def _local_entry(tmp_path: Path, monkeypatch, payload: bytes, prefix: str | None) -> str:
    _online(monkeypatch)
    src = tmp_path / "remote" / "thing-1234.pth"
    src.parent.mkdir()
    src.write_bytes(payload)
    entry = weights.WeightFile("thing", "thing-1234.pth", src.as_uri(), used_by="test", sha256_prefix=prefix)
    monkeypatch.setitem(weights.REGISTRY, "thing", entry)
    return "thing"


def test_download_is_verified_and_atomic(tmp_path: Path, weights_cache: Path, monkeypatch) -> None:
    payload = b"x" * 5000
    good = hashlib.sha256(payload).hexdigest()[:8]
    name = _local_entry(tmp_path, monkeypatch, payload, good)
    path = weights.download(name, progress=False)
    assert path.read_bytes() == payload and path.parent == weights_cache
    assert [p.name for p in weights_cache.iterdir()] == [path.name]  # no temporary file left


def test_download_with_wrong_hash_leaves_nothing(tmp_path: Path, weights_cache: Path, monkeypatch) -> None:
    name = _local_entry(tmp_path, monkeypatch, b"tampered", "deadbeef")
    with pytest.raises(WeightsNotFoundError, match="sha256"):
        weights.download(name, progress=False)
    assert list(weights_cache.iterdir()) == []


def test_download_failure_names_the_command(tmp_path: Path, weights_cache: Path, monkeypatch) -> None:
    entry = weights.WeightFile("gone", "gone.pth", (tmp_path / "nope.pth").as_uri(), used_by="test")
    monkeypatch.setitem(weights.REGISTRY, "gone", entry)
    _online(monkeypatch)
    with pytest.raises(WeightsNotFoundError, match="stylekernel weights download gone"):
        weights.download("gone", progress=False)
    assert list(weights_cache.iterdir()) == []


def test_load_state_dict_rejects_non_weight_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pth"
    bad.write_text("<html>not a checkpoint</html>")
    with pytest.raises(CheckpointError, match="not a readable weight file"):
        weights.load_state_dict(bad)
    good = tmp_path / "good.pth"
    torch.save({"a": torch.ones(2)}, good)
    assert torch.equal(weights.load_state_dict(good)["a"], torch.ones(2))


def test_download_honours_offline_mode(tmp_path: Path, weights_cache: Path, monkeypatch) -> None:
    name = _local_entry(tmp_path, monkeypatch, b"x" * 10, None)
    monkeypatch.setenv("STYLEKERNEL_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError, match="offline mode") as info:
        weights.download(name, progress=False)
    assert info.value.reason == weights.OFFLINE_REASON
    assert list(weights_cache.iterdir()) == []


def test_weights_download_tries_every_name_and_ends_with_what_failed(tmp_path: Path, weights_cache: Path, monkeypatch, capsys) -> None:
    from stylekernel.cli import main

    _online(monkeypatch)
    tried: list[str] = []
    good = tmp_path / "good.pth"
    good.write_bytes(b"fine")
    for name in ("a_first", "b_second", "c_third"):
        url = good.as_uri() if name == "b_second" else (tmp_path / f"{name}-missing.pth").as_uri()
        monkeypatch.setitem(weights.REGISTRY, name, weights.WeightFile(name, f"{name}.pth", url, used_by="test"))
    original = weights._fetch

    def fetch(url: str, dst: Path, *, progress: bool) -> None:
        tried.append(url)
        original(url, dst, progress=progress)

    monkeypatch.setattr(weights, "_fetch", fetch)
    assert main(["weights", "download", "a_first", "b_second", "c_third"]) == 2
    out, err = capsys.readouterr()
    assert len(tried) == 3  # a failure does not stop the others
    assert (weights_cache / "b_second.pth").read_bytes() == b"fine" and "b_second:" in out
    lines = [ln for ln in err.replace("\r", "\n").splitlines() if "error:" in ln]  # (progress bars aside)
    assert len(lines) == 1 and "2 of 3" in lines[0] and "a_first" in lines[0] and "c_third" in lines[0]
    assert "download failed" in lines[0]
    assert sorted(p.name for p in weights_cache.iterdir()) == ["b_second.pth"]  # no temp files
