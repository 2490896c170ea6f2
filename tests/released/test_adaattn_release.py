"""AdaAttN's released files (Huage001/AdaAttN) -> the suite: random weights in the authors' file
layout are imported, and the suite's output is compared with a re-implementation of the
authors' forward pass written here from their layer lists and equations (``models/networks.py``,
``models/adaattn_model.py``): float64, <= 1e-5 relative to the output's largest magnitude."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stylekernel.checkpoint import load_net
from stylekernel.released import ReleaseImportError, import_release, resolve_files

from ._peers import assert_part_refused, conv_block, mvn, peer_features, peer_vgg, randomise, rel, save


def peer_decoder() -> nn.Module:
    """networks.Decoder(skip_connection_3=True): decoder_layer_1, decoder_layer_2."""
    up = nn.Upsample(scale_factor=2, mode="nearest")
    d = nn.Module()
    d.decoder_layer_1 = nn.Sequential(*conv_block(512, 256), up)
    d.decoder_layer_2 = nn.Sequential(
        *conv_block(512, 256), *conv_block(256, 256), *conv_block(256, 256), *conv_block(256, 128), up,
        *conv_block(128, 128), *conv_block(128, 64), up, *conv_block(64, 64), *conv_block(64, 3, relu=False),
    )  # fmt: skip
    return d


def peer_adaattn(in_planes: int, key_planes: int) -> nn.Module:
    m = nn.Module()
    m.f, m.g, m.h = nn.Conv2d(key_planes, key_planes, 1), nn.Conv2d(key_planes, key_planes, 1), nn.Conv2d(in_planes, in_planes, 1)
    return m


def peer_transformer() -> nn.Module:
    t = nn.Module()
    t.attn_adain_4_1 = peer_adaattn(512, 960)
    t.attn_adain_5_1 = peer_adaattn(512, 1472)
    t.merge_conv = nn.Conv2d(512, 512, 3)
    return t


def get_key(feats: list[Tensor], last: int) -> Tensor:
    h, w = feats[last].shape[-2:]
    parts = [mvn(F.interpolate(feats[i], (h, w))) for i in range(last)]
    return torch.cat(parts + [mvn(feats[last])], dim=1)


def adaattn(m: nn.Module, content: Tensor, style: Tensor, ckey: Tensor, skey: Tensor, max_sample: int, seed: int = 6666) -> Tensor:
    """networks.AdaAttN.forward: attention-weighted mean and std, S = sqrt(relu(E[v²] - M²))."""
    fq, gk, hv = m.f(ckey), m.g(skey), m.h(style)
    b, _, hs, ws = gk.shape
    gk = gk.reshape(b, -1, hs * ws)
    hv = hv.reshape(b, -1, hs * ws)
    if hs * ws > max_sample:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            index = torch.randperm(hs * ws)[:max_sample]
        gk, hv = gk[:, :, index], hv[:, :, index]
    _, _, h, w = fq.shape
    s = torch.softmax(torch.bmm(fq.reshape(b, -1, h * w).transpose(1, 2), gk), dim=-1)  # (b, n_c, n_s)
    mean = torch.bmm(s, hv.transpose(1, 2))
    std = torch.sqrt(torch.relu(torch.bmm(s, hv.transpose(1, 2) ** 2) - mean**2))
    mean = mean.reshape(b, h, w, -1).permute(0, 3, 1, 2)
    std = std.reshape(b, h, w, -1).permute(0, 3, 1, 2)
    return std * mvn(content) + mean


def peer_forward(parts: dict[str, nn.Module], c: Tensor, s: Tensor, max_sample_3: int = 64 * 64) -> Tensor:
    cf, sf = peer_features(parts["vgg"], c), peer_features(parts["vgg"], s)
    t = parts["transformer"]
    c3 = adaattn(parts["adaattn_3"], cf[2], sf[2], get_key(cf, 2), get_key(sf, 2), max_sample_3)
    a4 = adaattn(t.attn_adain_4_1, cf[3], sf[3], get_key(cf, 3), get_key(sf, 3), 256 * 256)
    a5 = adaattn(t.attn_adain_5_1, cf[4], sf[4], get_key(cf, 4), get_key(sf, 4), 256 * 256)
    cs = t.merge_conv(F.pad(a4 + F.interpolate(a5, scale_factor=2, mode="nearest"), (1, 1, 1, 1), mode="reflect"))
    d = parts["decoder"]
    return d.decoder_layer_2(torch.cat([d.decoder_layer_1(cs), c3], dim=1))


# --- fixtures -------------------------------------------------------------------------------------
pytestmark = pytest.mark.usefixtures("single_thread")  # tiny tensors: threads only contend

NAMES = {"vgg": "vgg_normalised.pth", "decoder": "latest_net_decoder.pth", "transformer": "latest_net_transformer.pth", "adaattn_3": "latest_net_adaattn_3.pth"}


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, nn.Module], dict[str, Path]]:
    """The authors' networks with random weights and their files (checkpoints/ layout)."""
    root = tmp_path_factory.mktemp("adaattn_release")
    (root / "AdaAttN").mkdir()
    parts = {
        "vgg": randomise(peer_vgg(), 1),
        "decoder": randomise(peer_decoder(), 2),
        "transformer": randomise(peer_transformer(), 3),
        "adaattn_3": randomise(peer_adaattn(256, 448), 4),
    }
    files = {"vgg": root / NAMES["vgg"]}
    torch.save(parts["vgg"].state_dict(), files["vgg"], _use_new_zipfile_serialization=False)  # legacy format, as released
    for part in ("decoder", "transformer", "adaattn_3"):
        files[part] = root / "AdaAttN" / NAMES[part]
        torch.save(parts[part].state_dict(), files[part])
    for m in parts.values():
        m.double().eval()
    return parts, files


def test_folder_layout_is_the_checkpoints_directory(release, tmp_path: Path) -> None:
    _, files = release
    resolved = resolve_files("adaattn", {}, folder=files["vgg"].parent)
    assert resolved == files


@pytest.fixture(scope="module")
def imported(release, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release imported once into a suite checkpoint."""
    _, files = release
    return import_release("adaattn", files, tmp_path_factory.mktemp("adaattn_ckpt") / "adaattn.ckpt")


@pytest.fixture(scope="module")
def net64(imported: Path) -> nn.Module:
    return load_net(imported).double()


@pytest.mark.parametrize(
    ("content_size", "style_size"),
    [((32, 48), (40, 56)), ((32, 32), (48, 32))],  # a style of 40x56: not a multiple of 16 (ceil-mode pools matter)
)
def test_imported_release_matches_the_authors_forward(release, net64, content_size, style_size) -> None:
    parts, _ = release
    torch.manual_seed(5)
    c, s = torch.rand(1, 3, *content_size, dtype=torch.float64), torch.rand(1, 3, *style_size, dtype=torch.float64)
    with torch.no_grad():
        expected = peer_forward(parts, c, s)
        out = net64(c, s)
    assert out.shape == expected.shape == c.shape
    assert rel(out, expected) <= 1e-5


def test_evaluation_style_subset_is_the_authors_seeded_one(release, net64) -> None:
    """More style positions than ``max_sample`` at relu3_1: both keep randperm(n)[:k] after seed 6666."""
    parts, _ = release
    torch.manual_seed(6)
    c, s = torch.rand(1, 3, 32, 32, dtype=torch.float64), torch.rand(1, 3, 48, 48, dtype=torch.float64)
    net64.adaattn3_1.max_style_tokens = 40  # of 12 x 12 = 144 style positions at relu3_1
    try:
        with torch.no_grad():
            out = net64(c, s)
            expected = peer_forward(parts, c, s, max_sample_3=40)
            full = peer_forward(parts, c, s)
    finally:
        net64.adaattn3_1.max_style_tokens = 64 * 64
    assert rel(out, expected) <= 1e-5
    assert rel(full, expected) > 1e-4, "the subset must matter for this test to mean anything"


def test_content_not_a_multiple_of_16_is_padded_like_the_authors_input(release, imported: Path) -> None:
    """The authors' network needs content sizes that are multiples of 16; the suite's Stylizer
    pads (reflection, bottom/right) and crops back, so it equals their forward on the padded
    image, cropped (float32 here: the Stylizer's working precision)."""
    from stylekernel.inference import Stylizer, pad_to_multiple

    parts, _ = release
    torch.manual_seed(7)
    c, s = torch.rand(1, 3, 40, 56), torch.rand(1, 3, 32, 48)
    out = Stylizer(load_net(imported), style_size=None, tile_size=None, feature_cache_bytes=0).stylize_tensor(c, [s])
    with torch.no_grad():
        parts32 = {k: copy.deepcopy(m).float() for k, m in parts.items()}
        expected = peer_forward(parts32, pad_to_multiple(c, 16, min_size=32), s)[..., :40, :56].clamp(0, 1)
    assert out.shape == c.shape
    assert float((out - expected).abs().max()) <= 1e-4 * float(expected.abs().max()) + 1e-6


@pytest.mark.parametrize(
    ("part", "corrupt", "message"),
    [
        ("decoder", lambda sd: {k.replace("decoder_layer_1", "layer_1"): v for k, v in sd.items()}, "missing key 'decoder_layer_1.1.weight'"),
        ("adaattn_3", lambda sd: {k: v[:1] if k == "f.weight" else v for k, v in sd.items()}, "'f.weight' has shape"),
        ("transformer", lambda sd: {**sd, "extra.weight": torch.zeros(1)}, "unexpected key 'extra.weight'"),
    ],
)
def test_a_wrong_file_for_a_part_is_one_line_and_writes_nothing(release, tmp_path: Path, part, corrupt, message) -> None:
    _, files = release
    bad = save(corrupt(torch.load(files[part], weights_only=True)), tmp_path / f"bad_{part}.pth")
    assert_part_refused("adaattn", files, part, bad, tmp_path / "out.ckpt", message)
    assert list(tmp_path.iterdir()) == [bad]


def test_other_methods_files_and_truncated_files_are_refused(release, tmp_path: Path) -> None:
    _, files = release
    out = tmp_path / "out.ckpt"
    # the decoder of AdaIN / SANet / StyTr-2 (an nn.Sequential with keys 1.weight ...) as AdaAttN's
    adain_decoder = save({"1.weight": torch.zeros(256, 512, 3, 3), "1.bias": torch.zeros(256)}, tmp_path / "decoder.pth")
    with pytest.raises(ReleaseImportError, match=r"\(decoder\): missing key 'decoder_layer_1.1.weight'"):
        import_release("adaattn", {**files, "decoder": adain_decoder}, out)
    # the transformer file given as the relu3_1 module
    with pytest.raises(ReleaseImportError, match=r"\(adaattn_3\): missing key 'f.weight'"):
        import_release("adaattn", {**files, "adaattn_3": files["transformer"]}, out)
    raw = files["transformer"].read_bytes()
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ReleaseImportError, match=r"truncated.pth \(transformer\): not a readable weight file"):
        import_release("adaattn", {**files, "transformer": truncated}, out)
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_cli_imports_the_release_folder_and_refuses_a_wrong_part(release, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``stylekernel weights import adaattn --folder checkpoints`` (the README's unzip layout);
    a wrong file is one line on stderr, exit 2, nothing written."""
    from stylekernel.cli import main as cli

    _, files = release
    out = tmp_path / "a.ckpt"
    assert cli(["weights", "import", "adaattn", "--folder", str(files["vgg"].parent), "--output", str(out)]) == 0
    assert load_net(out).relu3_1_skip
    bad = tmp_path / "b.ckpt"
    rc = cli(["weights", "import", "adaattn", "--folder", str(files["vgg"].parent), "--adaattn_3", str(files["decoder"]), "--output", str(bad)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "(adaattn_3)" in err and "latest_net_decoder.pth" in err
    assert not bad.exists()
