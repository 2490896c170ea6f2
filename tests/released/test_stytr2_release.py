"""StyTr-2's released files (diyiiyiii/StyTR-2) -> the suite: random weights in the authors'
file layout (key names and shapes as ``train.py`` saves ``transformer``, ``decoder`` and
``embedding``) are imported, and the suite's output is compared with a re-implementation of
the authors' forward pass written here from ``models/transformer.py`` and ``models/StyTR.py``
(multi-head attention, post-norm layers and LayerNorm spelled out as equations): float64,
<= 1e-5 relative to the output's largest magnitude."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stylekernel.checkpoint import load_net
from stylekernel.released import ReleaseImportError, import_release

from ._peers import assert_part_refused, peer_decoder, peer_vgg, randomise, rel, save

pytestmark = pytest.mark.usefixtures("single_thread")  # tiny tensors: threads only contend

D, HEADS, FFN = 512, 8, 2048
NAMES = {
    "vgg": "vgg_normalised.pth",
    "decoder": "decoder_iter_160000.pth",
    "transformer": "transformer_iter_160000.pth",
    "embedding": "embedding_iter_160000.pth",
}


# --- the authors' file layouts (the CNN decoder is AdaIN's list: _peers.peer_decoder) -------------
def transformer_layout() -> dict[str, tuple[int, ...]]:
    """transformer.Transformer() state dict: nn.MultiheadAttention's packed in_proj, post-norm
    layers (no encoder norm since normalize_before=False), the decoder's final norm, new_ps."""
    layout: dict[str, tuple[int, ...]] = {}

    def attn(prefix: str) -> None:
        layout.update({f"{prefix}.in_proj_weight": (3 * D, D), f"{prefix}.in_proj_bias": (3 * D,)})
        layout.update({f"{prefix}.out_proj.weight": (D, D), f"{prefix}.out_proj.bias": (D,)})

    def ffn_norms(prefix: str, norms: int) -> None:
        layout.update({f"{prefix}.linear1.weight": (FFN, D), f"{prefix}.linear1.bias": (FFN,)})
        layout.update({f"{prefix}.linear2.weight": (D, FFN), f"{prefix}.linear2.bias": (D,)})
        for n in range(1, norms + 1):
            layout.update({f"{prefix}.norm{n}.weight": (D,), f"{prefix}.norm{n}.bias": (D,)})

    for enc in ("encoder_c", "encoder_s"):
        for i in range(3):
            attn(f"{enc}.layers.{i}.self_attn")
            ffn_norms(f"{enc}.layers.{i}", 2)
    for i in range(3):
        attn(f"decoder.layers.{i}.self_attn")
        attn(f"decoder.layers.{i}.multihead_attn")
        ffn_norms(f"decoder.layers.{i}", 3)
    layout.update({"decoder.norm.weight": (D,), "decoder.norm.bias": (D,), "new_ps.weight": (D, D, 1, 1), "new_ps.bias": (D,)})
    return layout


def random_state(layout: dict[str, tuple[int, ...]], seed: int) -> dict[str, Tensor]:
    """Random tensors of healthy scale: weights ~ N(0, 1/fan_in), norm gains ~ 1, biases small."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in layout.items():
        x = torch.randn(shape, generator=g)
        if ".norm" in key and key.endswith("weight"):
            state[key] = 1.0 + 0.1 * x
        elif key.endswith("bias"):
            state[key] = 0.05 * x
        else:
            state[key] = x / math.sqrt(math.prod(shape[1:]))
    return state


# --- the authors' forward pass, as equations ------------------------------------------------------
def layer_norm(x: Tensor, sd: dict[str, Tensor], prefix: str) -> Tensor:
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + 1e-5) * sd[f"{prefix}.weight"] + sd[f"{prefix}.bias"]


def linear(x: Tensor, sd: dict[str, Tensor], prefix: str) -> Tensor:
    return x @ sd[f"{prefix}.weight"].T + sd[f"{prefix}.bias"]


def multihead(q: Tensor, k: Tensor, v: Tensor, sd: dict[str, Tensor], prefix: str) -> Tensor:
    """(B, Nq, D), (B, Nk, D), (B, Nk, D): softmax(Q_h K_hᵀ / sqrt(D/8)) V_h per head, out_proj."""
    w, b = sd[f"{prefix}.in_proj_weight"], sd[f"{prefix}.in_proj_bias"]
    qp, kp, vp = (x @ w[i * D : (i + 1) * D].T + b[i * D : (i + 1) * D] for i, x in enumerate((q, k, v)))
    dh = D // HEADS
    outs = []
    for h in range(HEADS):
        s = slice(h * dh, (h + 1) * dh)
        a = torch.softmax(qp[..., s] @ kp[..., s].transpose(1, 2) / math.sqrt(dh), dim=-1)
        outs.append(a @ vp[..., s])
    return linear(torch.cat(outs, dim=-1), sd, f"{prefix}.out_proj")


def ffn(x: Tensor, sd: dict[str, Tensor], prefix: str) -> Tensor:
    return linear(torch.relu(linear(x, sd, f"{prefix}.linear1")), sd, f"{prefix}.linear2")


def encoder_layer(x: Tensor, pos: Tensor | None, sd: dict[str, Tensor], p: str) -> Tensor:
    qk = x if pos is None else x + pos
    x = layer_norm(x + multihead(qk, qk, x, sd, f"{p}.self_attn"), sd, f"{p}.norm1")
    return layer_norm(x + ffn(x, sd, p), sd, f"{p}.norm2")


def decoder_layer(t: Tensor, m: Tensor, qpos: Tensor, sd: dict[str, Tensor], p: str) -> Tensor:
    """forward_post: both attention blocks take q = tgt + query_pos and k = v = memory."""
    t = layer_norm(t + multihead(t + qpos, m, m, sd, f"{p}.self_attn"), sd, f"{p}.norm1")
    t = layer_norm(t + multihead(t + qpos, m, m, sd, f"{p}.multihead_attn"), sd, f"{p}.norm2")
    return layer_norm(t + ffn(t, sd, p), sd, f"{p}.norm3")


def peer_forward(sd: dict[str, Tensor], emb: dict[str, Tensor], decoder: nn.Module | None, c: Tensor, s: Tensor, *, literal: bool) -> Tensor:
    """StyTrans.forward at test time. ``literal``: the CAPE map resized to the style grid and
    the output tokens viewed as (N / int(sqrt(N)), int(sqrt(N))), exactly as the authors' code
    (defined for square content and style of one size); otherwise both use the content grid
    (the suite's documented generalisation). ``decoder=None`` returns the transformer's output."""
    ce = F.conv2d(c, emb["proj.weight"], emb["proj.bias"], stride=8)
    se = F.conv2d(s, emb["proj.weight"], emb["proj.bias"], stride=8)
    b, _, h, w = ce.shape
    pooled = F.adaptive_avg_pool2d(ce, 18)
    pos = F.conv2d(pooled, sd["new_ps.weight"], sd["new_ps.bias"])
    pos = F.interpolate(pos, size=se.shape[-2:] if literal else (h, w), mode="bilinear", align_corners=False)
    tokens = lambda x: x.flatten(2).transpose(1, 2)  # noqa: E731  (B, C, H, W) -> (B, HW, C)
    pos_t, ct, st = tokens(pos), tokens(ce), tokens(se)
    for i in range(3):
        st = encoder_layer(st, None, sd, f"encoder_s.layers.{i}")
        ct = encoder_layer(ct, pos_t, sd, f"encoder_c.layers.{i}")
    out = ct
    for i in range(3):
        out = decoder_layer(out, st, pos_t, sd, f"decoder.layers.{i}")
    out = layer_norm(out, sd, "decoder.norm")
    n = out.shape[1]
    grid = (n // int(math.sqrt(n)), int(math.sqrt(n))) if literal else (h, w)
    hs = out.transpose(1, 2).reshape(b, D, *grid)
    return hs if decoder is None else decoder(hs)


# --- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory):
    """The authors' four files with random weights, and the reference's float64 copies."""
    root = tmp_path_factory.mktemp("stytr2_release")
    vgg, decoder = randomise(peer_vgg(), 1), randomise(peer_decoder(), 2)
    transformer = random_state(transformer_layout(), 3)
    g = torch.Generator().manual_seed(4)
    embedding = {"proj.weight": torch.randn(D, 3, 8, 8, generator=g) / math.sqrt(3 * 64), "proj.bias": 0.05 * torch.randn(D, generator=g)}
    files = {part: root / name for part, name in NAMES.items()}
    torch.save(vgg.state_dict(), files["vgg"], _use_new_zipfile_serialization=False)
    torch.save(decoder.state_dict(), files["decoder"])
    torch.save(transformer, files["transformer"])
    torch.save(embedding, files["embedding"])
    ref = {
        "sd": {k: v.double() for k, v in transformer.items()},
        "emb": {k: v.double() for k, v in embedding.items()},
        "decoder": decoder.double().eval(),
    }
    return ref, files


@pytest.fixture(scope="module")
def imported(release, tmp_path_factory: pytest.TempPathFactory) -> Path:
    _, files = release
    return import_release("stytr2", files, tmp_path_factory.mktemp("stytr2_ckpt") / "stytr2.ckpt")


@pytest.fixture(scope="module")
def net64(imported: Path) -> nn.Module:
    return load_net(imported).double()


@pytest.mark.parametrize("size", [48, 40])  # a multiple of 16 and one that is not
def test_imported_release_matches_the_authors_forward(release, net64, size: int) -> None:
    """Square content and style of one size: the authors' code exactly as written."""
    ref, _ = release
    torch.manual_seed(5)
    c, s = torch.rand(2, 3, size, size, dtype=torch.float64), torch.rand(2, 3, size, size, dtype=torch.float64)
    with torch.no_grad():
        expected = peer_forward(ref["sd"], ref["emb"], ref["decoder"], c, s, literal=True)
        out = net64(c, s)
    assert out.shape == expected.shape == c.shape
    assert rel(out, expected) <= 1e-5


def test_cape_pools_token_grids_larger_than_18(release, net64) -> None:
    """At 160 px (20 x 20 tokens) CAPE's 18 x 18 average pooling really averages (below 18 it
    only repeats); compared at the transformer's output (the decoder is checked above), and the
    VGG features are not needed for that, so none are encoded."""
    ref, _ = release
    torch.manual_seed(7)
    c, s = torch.rand(1, 3, 160, 160, dtype=torch.float64), torch.rand(1, 3, 160, 160, dtype=torch.float64)
    with torch.no_grad():
        expected = peer_forward(ref["sd"], ref["emb"], None, c, s, literal=True)
        out = net64.transform(net64.encode(c, []), net64.encode(s, []))
    assert rel(out, expected) <= 1e-5


@pytest.mark.parametrize(("content_size", "style_size"), [((40, 64), (56, 24)), ((32, 48), (48, 48))])
def test_other_shapes_use_the_content_grid(release, net64, content_size, style_size) -> None:
    """Non-square content and a style of another size, where the authors' code cannot run:
    CAPE and the output reshape on the content grid (documented in baselines/stytr2.py)."""
    ref, _ = release
    torch.manual_seed(6)
    c, s = torch.rand(1, 3, *content_size, dtype=torch.float64), torch.rand(1, 3, *style_size, dtype=torch.float64)
    with torch.no_grad():
        expected = peer_forward(ref["sd"], ref["emb"], ref["decoder"], c, s, literal=False)
        out = net64(c, s)
    assert out.shape == c.shape
    assert rel(out, expected) <= 1e-5


def test_imported_network_is_the_released_configuration(imported: Path) -> None:
    net = load_net(imported)
    assert net.encoder.source == "released:stytr2" and net.encoder.ceil_mode and net.encoder.preprocess is not None
    assert len(net.transformer.encoder_c.layers) == 3 and len(net.transformer.decoder.layers) == 3
    assert net.transformer.encoder_c.layers[0].self_attn.heads == HEADS
    assert not net.training


@pytest.mark.parametrize(
    ("part", "corrupt", "message"),
    [
        ("transformer", lambda sd: {k: v for k, v in sd.items() if k != "new_ps.bias"}, "missing key 'new_ps.bias'"),
        ("embedding", lambda sd: {"proj.weight": sd["proj.weight"][:, :, :4, :4], "proj.bias": sd["proj.bias"]}, "'proj.weight' has shape"),
        ("decoder", lambda sd: {f"body.{k}": v for k, v in sd.items()}, "missing key '1.weight'"),
    ],
)
def test_a_wrong_file_for_a_part_is_one_line_and_writes_nothing(release, tmp_path: Path, part, corrupt, message) -> None:
    _, files = release
    bad = save(corrupt(torch.load(files[part], weights_only=True)), tmp_path / f"bad_{part}.pth")
    assert_part_refused("stytr2", files, part, bad, tmp_path / "out.ckpt", message)
    assert list(tmp_path.iterdir()) == [bad]


def test_other_methods_files_and_truncated_files_are_refused(release, tmp_path: Path) -> None:
    _, files = release
    out = tmp_path / "out.ckpt"
    # SANet's transformer file (sanet4_1.*, merge_conv.*) given as StyTr-2's
    sanet = save({"sanet4_1.f.weight": torch.zeros(512, 512, 1, 1), "merge_conv.weight": torch.zeros(512, 512, 3, 3)}, tmp_path / "transformer.pth")
    with pytest.raises(ReleaseImportError, match=r"\(transformer\): (missing|unexpected) key"):
        import_release("stytr2", {**files, "transformer": sanet}, out)
    # the embedding given as the decoder, parts swapped
    with pytest.raises(ReleaseImportError, match=r"\(decoder\): missing key '1.weight'"):
        import_release("stytr2", {**files, "decoder": files["embedding"]}, out)
    raw = files["transformer"].read_bytes()
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(ReleaseImportError, match=r"truncated.pth \(transformer\): not a readable weight file"):
        import_release("stytr2", {**files, "transformer": truncated}, out)
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_cli_import_and_a_missing_part(release, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from stylekernel.cli import main as cli

    _, files = release
    out = tmp_path / "s.ckpt"
    flags = [a for part, path in files.items() for a in (f"--{part}", str(path))]
    assert cli(["weights", "import", "stytr2", *flags, "--output", str(out)]) == 0 and out.is_file()
    rc = cli(["weights", "import", "stytr2", *flags[:-2], "--output", str(tmp_path / "t.ckpt")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "--embedding" in err
    assert not (tmp_path / "t.ckpt").exists()
