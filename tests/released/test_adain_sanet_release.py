"""AdaIN's and SANet's released files -> the suite.

Random weights are written in each peer's exact file layout (the state dicts of the peers'
``nn.Sequential`` / ``Transform`` modules, ``vgg_normalised.pth`` in the legacy format), imported
with ``stylekernel weights import`` / :func:`import_release`, read back with ``load_net`` and
compared in float64 with the peers' forward pass re-implemented in ``_adain_family.py``:
<= 1e-5 relative to the output's largest magnitude, at sizes that are and are not multiples of 16.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylekernel.checkpoint import load_net, read_checkpoint
from stylekernel.cli import main as cli
from stylekernel.released import import_release

from . import _adain_family as peer

REL = 1e-5


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Random peer modules and their files: vgg_normalised.pth (legacy format), the AdaIN decoder,
    SANet's decoder and transformer."""
    root = tmp_path_factory.mktemp("peer-files")
    torch.manual_seed(0)
    vgg, adain_decoder, sanet_decoder, transform = peer.peer_vgg(), peer.peer_decoder(), peer.peer_decoder(), peer.PeerTransform()
    return {
        "modules": {"vgg": vgg, "adain_decoder": adain_decoder, "sanet_decoder": sanet_decoder, "transform": transform},
        "vgg": peer.save_state(vgg, root / "vgg_normalised.pth", legacy=True),
        "adain_decoder": peer.save_state(adain_decoder, root / "decoder.pth"),
        "sanet_decoder": peer.save_state(sanet_decoder, root / "decoder_iter_500000.pth"),
        "transformer": peer.save_state(transform, root / "transformer_iter_500000.pth"),
    }


def _rel_err(out: torch.Tensor, ref: torch.Tensor) -> float:
    assert out.shape == ref.shape, (out.shape, ref.shape)
    return float((out - ref).abs().max() / ref.abs().max())


def _images(hc: int, wc: int, hs: int, ws: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(hc * 1000 + wc)
    return torch.rand(1, 3, hc, wc, generator=g, dtype=torch.float64), torch.rand(1, 3, hs, ws, generator=g, dtype=torch.float64)


def test_adain_file_layouts_are_the_peers() -> None:
    keys = list(peer.peer_vgg().state_dict())
    assert keys[0] == "0.weight" and keys[-1] == "51.bias" and len(keys) == 34
    assert list(peer.peer_decoder().state_dict())[:2] == ["1.weight", "1.bias"]


@pytest.mark.parametrize("sizes", [(64, 80, 48, 64), (100, 76, 50, 70)], ids=["multiple-of-16", "odd-sizes"])
def test_imported_adain_matches_the_peer(files: dict, tmp_path: Path, sizes: tuple[int, int, int, int], capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = tmp_path / "adain.ckpt"
    rc = cli(["weights", "import", "adain", "--output", str(ckpt), "--vgg", str(files["vgg"]), "--decoder", str(files["adain_decoder"])])
    assert rc == 0 and ckpt.is_file(), capsys.readouterr().err
    net = load_net(ckpt).double()
    mods = files["modules"]
    content, style = _images(*sizes)
    with torch.no_grad():
        out = net(content, style)
        ref = peer.adain_forward(mods["vgg"].double(), mods["adain_decoder"].double(), content, style)
    assert _rel_err(out, ref) <= REL
    if sizes[0] % 8:  # ceil-mode pools: the output is 8 * ceil(H / 8), as the peer's
        assert out.shape[-2:] == (104, 80)


@pytest.mark.parametrize("sizes", [(64, 96, 48, 64), (90, 106, 50, 70)], ids=["multiple-of-16", "not-multiple-of-16"])
def test_imported_sanet_matches_the_peer(files: dict, tmp_path: Path, sizes: tuple[int, int, int, int]) -> None:
    paths = {"vgg": files["vgg"], "decoder": files["sanet_decoder"], "transformer": files["transformer"]}
    ckpt = import_release("sanet", paths, tmp_path / "sanet.ckpt")
    net = load_net(ckpt).double()
    mods = files["modules"]
    content, style = _images(*sizes)
    with torch.no_grad():
        out = net(content, style)
        ref = peer.sanet_forward(mods["vgg"].double(), mods["sanet_decoder"].double(), mods["transform"].double(), content, style)
    assert _rel_err(out, ref) <= REL


def test_checkpoint_record(files: dict, tmp_path: Path) -> None:
    from stylekernel.weights import sha256_file

    ckpt = import_release("adain", {"vgg": files["vgg"], "decoder": files["adain_decoder"]}, tmp_path / "a.ckpt")
    record = read_checkpoint(ckpt)["stylekernel"]
    assert record["encoder_source"] == "released:adain"
    assert record["net"]["class_path"] == "stylekernel.baselines.adain.AdaINNet"
    assert record["net"]["init_args"]["encoder_weights"] == "vgg_normalised" and record["net"]["init_args"]["ceil_mode"] is True
    assert record["release"]["files"]["decoder"] == {"name": "decoder.pth", "sha256": sha256_file(files["adain_decoder"])}
    assert load_net(ckpt).encoder.source == "released:adain"


def _import_fails(capsys: pytest.CaptureFixture[str], out: Path, *argv: str) -> str:
    rc = cli(["weights", "import", *argv, "--output", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert not out.exists() and not list(out.parent.glob(f".{out.name}*")), "nothing may be written on an error"
    return err


def test_wrong_file_for_a_part(files: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _import_fails(capsys, tmp_path / "x.ckpt", "adain", "--vgg", str(files["adain_decoder"]), "--decoder", str(files["vgg"]))
    assert str(files["adain_decoder"]) in err and "(vgg)" in err and "'0.weight'" in err


def test_another_methods_file(files: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _import_fails(capsys, tmp_path / "x.ckpt", "adain", "--vgg", str(files["vgg"]), "--decoder", str(files["transformer"]))
    assert str(files["transformer"]) in err and "(decoder)" in err and "'1.weight'" in err
    err = _import_fails(
        capsys, tmp_path / "y.ckpt", "sanet", "--vgg", str(files["vgg"]), "--decoder", str(files["sanet_decoder"]),
        "--transformer", str(files["adain_decoder"]),
    )  # fmt: skip
    assert "(transformer)" in err and "'sanet4_1.f.weight'" in err


def test_truncated_and_missing_files(files: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cut = tmp_path / "decoder.pth"
    data = Path(files["adain_decoder"]).read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    err = _import_fails(capsys, tmp_path / "x.ckpt", "adain", "--vgg", str(files["vgg"]), "--decoder", str(cut))
    assert str(cut) in err and "(decoder)" in err
    err = _import_fails(capsys, tmp_path / "x.ckpt", "adain", "--vgg", str(files["vgg"]), "--decoder", str(tmp_path / "nope.pth"))
    assert "nope.pth (decoder): file does not exist" in err
    err = _import_fails(capsys, tmp_path / "x.ckpt", "sanet", "--vgg", str(files["vgg"]), "--decoder", str(files["sanet_decoder"]))
    assert "--transformer" in err


def test_shape_mismatch_names_the_key(files: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = torch.load(files["adain_decoder"], weights_only=True)
    state["5.weight"] = state["5.weight"][:, :128]
    bad = tmp_path / "decoder.pth"
    torch.save(state, bad)
    err = _import_fails(capsys, tmp_path / "x.ckpt", "adain", "--vgg", str(files["vgg"]), "--decoder", str(bad))
    assert "'5.weight'" in err and "(256, 128, 3, 3)" in err


def test_stylize_reads_an_imported_checkpoint(files: dict, tmp_path: Path) -> None:
    """``stylekernel stylize --checkpoint imported.ckpt`` writes the peer's output (to 1/255)."""
    ckpt = import_release("adain", {"vgg": files["vgg"], "decoder": files["adain_decoder"]}, tmp_path / "adain.ckpt")
    rng = np.random.default_rng(0)
    content_u8, style_u8 = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8), rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    Image.fromarray(content_u8).save(tmp_path / "c.png")
    Image.fromarray(style_u8).save(tmp_path / "s.png")
    out = tmp_path / "out.png"
    argv = ["stylize", "--checkpoint", str(ckpt), "--content", str(tmp_path / "c.png"), "--style", str(tmp_path / "s.png"),
            "--style-size", "0", "--output", str(out), "--quiet"]  # fmt: skip
    assert cli(argv) == 0 and out.is_file()
    got = np.asarray(Image.open(out).convert("RGB")).astype(np.int64)
    to_t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].double() / 255  # noqa: E731
    mods = files["modules"]
    with torch.no_grad():
        ref = peer.adain_forward(mods["vgg"].double(), mods["adain_decoder"].double(), to_t(content_u8), to_t(style_u8))
    expected = (ref.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.int64)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1
