"""The import framework (stylekernel.released): registry, strict layouts, file resolution, the
atomic checkpoint, and `stylekernel weights list` showing every peer release."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from stylekernel.cli import main as cli
from stylekernel.errors import ConfigError
from stylekernel.released import (
    ReleaseImportError,
    check_layout,
    get_release,
    import_release,
    load_exact,
    load_mapped,
    read_peer_file,
    releases,
    resolve_files,
)


def test_every_method_has_a_release() -> None:
    assert {"adain", "sanet", "adaconv"} <= set(releases())
    for name, release in releases().items():
        assert release.method == name and release.parts and release.source.startswith("https://")
    with pytest.raises(ConfigError, match="known: .*adain"):
        get_release("cyclegan")


def test_read_peer_file_zip_legacy_and_bad_files(tmp_path: Path) -> None:
    state = {"0.weight": torch.randn(3, 3, 1, 1)}
    for legacy in (False, True):
        p = tmp_path / f"f{legacy}.pth"
        torch.save(state, p, _use_new_zipfile_serialization=not legacy)
        assert torch.equal(read_peer_file(p, "vgg")["0.weight"], state["0.weight"])
    (tmp_path / "empty.pth").write_bytes(b"")
    (tmp_path / "text.pth").write_text("not a pickle")
    torch.save([1, 2], tmp_path / "list.pth")
    for name, words in [("empty.pth", "empty"), ("text.pth", "not a readable"), ("list.pth", "not a state dict"), ("none.pth", "does not exist")]:
        with pytest.raises(ReleaseImportError, match=words) as info:
            read_peer_file(tmp_path / name, "decoder")
        assert f"{tmp_path / name} (decoder)" in str(info.value)


def test_layout_checks_name_the_first_mismatched_key() -> None:
    layout = {"a.weight": (2, 3), "b.weight": (4,)}
    ok = {"a.weight": torch.zeros(2, 3), "b.weight": torch.zeros(4)}
    check_layout(ok, layout, path=Path("f.pth"), part="p")
    cases = [
        ({"b.weight": torch.zeros(4)}, "missing key 'a.weight'"),
        ({**ok, "c": torch.zeros(1)}, "unexpected key 'c'"),
        ({**ok, "a.weight": torch.zeros(3, 2)}, r"'a.weight' has shape \(3, 2\), expected \(2, 3\)"),
        ({**ok, "b.weight": 3}, "not a tensor"),
    ]
    for state, words in cases:
        with pytest.raises(ReleaseImportError, match=words):
            check_layout(state, layout, path=Path("f.pth"), part="p")


def test_load_mapped_uses_the_peers_names_and_loads_everything() -> None:
    module = nn.Sequential(nn.Linear(2, 3))
    peer = {"fc.weight": torch.randn(3, 2), "fc.bias": torch.randn(3)}
    load_mapped(module, peer, path=Path("f"), part="p", to_peer=lambda k: k.replace("0.", "fc."))
    assert torch.equal(module[0].weight, peer["fc.weight"])
    with pytest.raises(ReleaseImportError, match="missing key '0.bias'"):
        load_exact(module, {"0.weight": torch.randn(3, 2)}, path=Path("f"), part="p")


def test_resolve_files_and_output_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing --decoder"):
        resolve_files("adain", {"vgg": tmp_path / "v.pth"})
    with pytest.raises(ConfigError, match="unknown part"):
        resolve_files("adain", {"vgg": "v", "decoder": "d", "transformer": "t"})
    with pytest.raises(ConfigError, match="--folder is not supported"):
        resolve_files("adain", {}, folder=tmp_path)
    with pytest.raises(ConfigError, match="is a directory"):
        import_release("adain", {"vgg": "v", "decoder": "d"}, tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        import_release("adain", {"vgg": "v", "decoder": "d"}, tmp_path / "no" / "x.ckpt")


def test_weights_list_shows_the_peer_releases(capsys: pytest.CaptureFixture[str], weights_cache: Path) -> None:
    assert cli(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert "peer releases" in out
    for name, release in releases().items():
        assert name in out and release.source in out
        for part, file_name in release.parts.items():
            assert f"--{part} {file_name}" in out


def test_import_requires_a_method_and_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["weights", "import", "adain", "--vgg", "v.pth"]) == 2  # one line (jsonargparse), no argparse usage block
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "output" in err and "required" in err
