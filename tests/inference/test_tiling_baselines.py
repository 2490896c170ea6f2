"""Exact tiling of the baselines that opt in (SANet, AdaConv, AdaAttN): tiled == untiled.

Two levels: the tiling functions on feature maps (``tiled_transform`` / ``tiled_decode`` against
``transform`` / ``decode`` on the whole map, unclamped), and the engine ``stylekernel stylize
--tile-size`` runs (:class:`~stylekernel.inference.Stylizer` with 64 px tiles against one pass),
at content sizes that are and are not multiples of the tile and of 16. Each test also checks that
the work really ran in several tiles, and the halo tests that a shorter halo shows seams.

Tolerances. Float64 separates the algorithm from rounding: there tiles equal one pass to 1e-10
(features) / 1e-6 (the engine's float32 image). In float32, SANet's transform meets 1e-5 of its
range (measured 8e-7); at the image, and for AdaConv's decoder throughout, float32 rounding of
convs that run on maps of other sizes is amplified by the random test networks (AdaConv's
instance norms divide channels of tiny variance by sqrt(var + 1e-5)): there the test asks that
the tiled float32 result be no further from the float64 one than the one-pass float32 result is.

The tests run single-threaded (as the baseline tests): with two threads oneDNN splits a conv
differently for a tile than for the whole map, which moves float32 results by ~1e-6 of their range
whatever the tiling (measured: a 1x1 conv on a 10x10 crop vs the same cells of a 24x16 map, 2e-6
with 2 threads, 0 with 1).
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import Iterator

import pytest
import torch
from torch import Tensor, nn

from stylekernel.inference import Stylizer
from stylekernel.tiling import tiled_decode, tiled_transform


@torch.no_grad()
def _calibrate(net: nn.Module, content: Tensor, style: Tensor, skip: tuple[type, ...] = ()) -> None:
    """Rescale each decoder conv (in execution order, modules of a ``skip`` type left alone) so its
    output varies over space with std 1 (the last: 0.15 around 0.5): a random decoder otherwise
    shrinks its input to a flat, clamped image."""
    convs = [m for m in net.decoder.modules() if isinstance(m, nn.Conv2d)]
    skipped = {id(c) for m in net.decoder.modules() if isinstance(m, skip) for c in m.modules()}
    convs = [c for c in convs if id(c) not in skipped]

    def hook(module: nn.Conv2d, _inp: tuple[Tensor, ...], out: Tensor) -> Tensor:
        last = module is convs[-1]
        gain = (0.15 if last else 1.0) / out.std(dim=(2, 3)).mean()  # variation over space
        module.weight.mul_(gain)
        module.bias.mul_(gain)
        out = out * gain
        if last:
            shift = 0.5 - out.mean(dim=(0, 2, 3))
            module.bias.add_(shift)
            out = out + shift.view(1, -1, 1, 1)
        return out

    handles = [c.register_forward_hook(hook) for c in convs]
    try:
        net(content, style)
    finally:
        for h in handles:
            h.remove()


def _calibrated(cls: type, skip: tuple[type, ...] = ()) -> nn.Module:
    """``cls(encoder_weights="random")`` in eval mode, seeded, its decoder calibrated on 64x64 images."""
    torch.manual_seed(0)
    net = cls(encoder_weights="random").eval()
    gen = torch.Generator().manual_seed(1)
    _calibrate(net, torch.rand(1, 3, 64, 64, generator=gen), torch.rand(1, 3, 64, 64, generator=gen), skip=skip)
    return net


@contextmanager
def _halo(net: nn.Module, cells: int) -> Iterator[None]:
    """``net.transform_halo = cells`` inside the block, restored after."""
    saved = net.transform_halo
    net.transform_halo = cells
    try:
        yield
    finally:
        net.transform_halo = saved


@pytest.fixture(autouse=True)
def _single_thread(single_thread: None) -> None:
    """One torch thread (``single_thread`` in tests/conftest.py): see the module docstring."""


def _feats(net, h: int, w: int, seed: int) -> dict[str, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    out = {"relu4_1": torch.randn(1, 512, h, w, generator=gen).relu_()}
    if "relu5_1" in net.feature_layers:
        out["relu5_1"] = torch.randn(1, 512, h // 2, w // 2, generator=gen).relu_()
    return out


@contextmanager
def _counting(obj: object, name: str) -> Iterator[list]:
    """Count the calls of ``obj.name`` (an instance attribute wrapping it) inside the block."""
    calls: list = []
    had, before = name in obj.__dict__, obj.__dict__.get(name)
    original = getattr(obj, name)
    setattr(obj, name, lambda *a, **k: calls.append(1) or original(*a, **k))
    try:
        yield calls
    finally:
        if had:
            obj.__dict__[name] = before
        else:
            del obj.__dict__[name]


def _float64(net: nn.Module) -> nn.Module:
    """A float64 copy of ``net`` that takes the engine's float32 images and codes (its encode /
    decode cast their input), so the engine path runs in float64 from the pixels on."""
    net64 = copy.deepcopy(net).double()
    for name in ("encode", "decode", "decode_tiled"):
        f = getattr(net64, name, None)
        if f is not None:
            setattr(net64, name, lambda x, *a, _f=f, **k: _f(x.double(), *a, **k))
    return net64


def _engine_tiled_vs_whole(net, size: tuple[int, int], tile_size: int, *, count: str) -> tuple[Tensor, Tensor, int]:
    """(tiled, one pass, calls of ``net.count`` while tiling) of ``Stylizer.stylize_tensor``."""
    gen = torch.Generator().manual_seed(7)
    content, style = torch.rand(1, 3, *size, generator=gen), torch.rand(1, 3, 48, 64, generator=gen)
    whole = Stylizer(net, style_size=None, tile_size=None, feature_cache_bytes=0).stylize_tensor(content, [style])
    with _counting(net, count) as calls:
        tiled = Stylizer(net, style_size=None, tile_size=tile_size, feature_cache_bytes=0).stylize_tensor(content, [style])
    return tiled, whole, len(calls)


def _check_engine(net, size: tuple[int, int], *, count: str, min_calls: int) -> dict[str, float]:
    """The engine path of ``stylize --tile-size 64`` against one pass, in float32 and float64.

    float64: tiled == one pass to 1e-6 (the output is cast to float32 at the end). float32: the
    tiled image is no further from the float64 one than the one-pass float32 image is (+1e-5),
    i.e. tiling adds nothing measurable to float32 rounding. Returns the measured errors.
    """
    tiled, whole, n = _engine_tiled_vs_whole(net, size, 64, count=count)
    assert n >= min_calls, f"{count} ran {n} times: not tiled"
    assert tiled.shape == whole.shape == (1, 3, *size)
    assert whole.std() > 0.05  # a real image, not a clamped flat colour
    tiled64, whole64, _ = _engine_tiled_vs_whole(_float64(net), size, 64, count=count)
    err = {
        "float64 tiled vs one pass": float((tiled64 - whole64).abs().max()),
        "float32 tiled vs one pass": float((tiled - whole).abs().max()),
        "float32 one pass vs float64": float((whole - whole64).abs().max()),
        "float32 tiled vs float64": float((tiled - whole64).abs().max()),
    }
    assert err["float64 tiled vs one pass"] <= 1e-6, err
    assert err["float32 tiled vs float64"] <= 1.5 * err["float32 one pass vs float64"] + 1e-5, err
    return err


# --- SANet ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sanet():
    from stylekernel.baselines.sanet import SANet

    return _calibrated(SANet)


def _sanet_naive(net, content: dict[str, Tensor], style: dict[str, Tensor]) -> Tensor:
    """SANet's transform from the peer's equations, whole map, float64."""

    def block(b, zc, zs):
        def mvn(x):
            x = x.double()
            return (x - x.mean((2, 3), keepdim=True)) / (x.var((2, 3), unbiased=True, keepdim=True) + 1e-5).sqrt()

        conv = lambda m, x: nn.functional.conv2d(x.double(), m.weight.double(), m.bias.double())  # noqa: E731
        q, k, v = conv(b.f, mvn(zc)).flatten(2), conv(b.g, mvn(zs)).flatten(2), conv(b.h, zs).flatten(2)
        a = torch.softmax(q.transpose(1, 2) @ k, dim=-1)  # (B, Nc, Ns), unscaled
        o = (v @ a.transpose(1, 2)).view_as(zc)
        return conv(b.out_conv, o) + zc.double()

    z = block(net.sanet4_1, content["relu4_1"], style["relu4_1"])
    z5 = block(net.sanet5_1, content["relu5_1"], style["relu5_1"]).repeat_interleave(2, -2).repeat_interleave(2, -1)
    m = net.merge[1]
    x = nn.functional.pad(z + z5, (1, 1, 1, 1), mode="reflect")
    return nn.functional.conv2d(x, m.weight.double(), m.bias.double())


@pytest.mark.parametrize("hw", [(28, 22), (16, 16), (30, 12)])
def test_sanet_tiled_transform_equals_untiled_and_the_equations(sanet, hw):
    """Tiles of 8 relu4_1 cells (64 px): whole-map transform, to 1e-5 of its range (float32)."""
    content, style = _feats(sanet, *hw, seed=0), _feats(sanet, 8, 10, seed=1)
    with torch.no_grad():
        ref = sanet.transform(content, style)
        state = sanet.transform_global(content, sanet.style_state(style))
        with _counting(sanet, "transform_local") as calls:
            tiled = tiled_transform(sanet, content, state, tile_size=64)
    assert len(calls) == -(-hw[0] // 8) * -(-hw[1] // 8)  # really tiled
    assert tiled.shape == ref.shape
    torch.testing.assert_close(tiled, ref, rtol=0, atol=1e-5 * ref.abs().max().item())
    torch.testing.assert_close(ref.double(), _sanet_naive(sanet, content, style), rtol=1e-4, atol=1e-4 * ref.abs().max().item())


def test_sanet_transform_halo_is_needed(sanet):
    """The test can fail: without the merge conv's halo the tiles show seams."""
    assert sanet.transform_halo == 2
    content, style = _feats(sanet, 24, 24, seed=0), _feats(sanet, 8, 8, seed=1)
    with torch.no_grad():
        ref = sanet.transform(content, style)
        state = sanet.transform_global(content, sanet.style_state(style))
        with _halo(sanet, 0):
            short = tiled_transform(sanet, content, state, tile_size=64)
    assert (short - ref).abs().max() > 1e-3 * ref.abs().max()


@pytest.mark.parametrize("size", [(192, 128), (200, 136), (72, 150)])
def test_sanet_stylize_tiled_equals_one_pass(sanet, size):
    """The engine path of ``stylize --tile-size 64``: sizes multiple of 64 and 16, of neither, mixed."""
    err = _check_engine(sanet, size, count="transform_local", min_calls=2)
    assert err["float32 tiled vs one pass"] <= 3e-5, err  # measured 1.3e-5 (see the module docstring)
    with _halo(sanet, 0):
        short, whole, _ = _engine_tiled_vs_whole(sanet, size, 64, count="transform_local")
    assert (short - whole).abs().max() > 1e-2  # the comparison can see a seam


# --- AdaConv ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def adaconv():
    from stylekernel.baselines.adaconv import AdaConvNet, KernelPredictor

    return _calibrated(AdaConvNet, skip=(KernelPredictor,))


def _adaconv_state(net, h: int, w: int) -> tuple[Tensor, list]:
    dtype = next(net.parameters()).dtype
    content, style = _feats(net, h, w, seed=0), _feats(net, 6, 7, seed=1)
    content, style = {k: v.to(dtype) for k, v in content.items()}, {k: v.to(dtype) for k, v in style.items()}
    with torch.no_grad():
        kernels = net.style_state(style)
    return content["relu4_1"], kernels


def test_adaconv_halos_follow_the_layers(adaconv):
    """Per pass, relu4_1 cells of context: stage 1's input is z itself (0); stage 1 (predicted 3x3 +
    static 3x3) reads 2 cells; stage 2 adds 5 convs at 2x (2.5 cells), stage 3 3 at 4x, stage 4 3 at 8x."""
    from stylekernel.tiling import halo

    halos = [halo(adaconv.decoder.local_layers(upto=i)) for i in range(4)] + [halo(adaconv.decoder.local_layers())]
    assert halos == [0, 2, 5, 6, 6]


def _tiled_decode_counted(net, z: Tensor, kernels: list, tile_size: int) -> tuple[Tensor, Tensor, int]:
    """(tiled_decode, decode, calls of the decoder's run) of z with the style's ``kernels``."""
    with torch.no_grad():
        net.transform_global({"relu4_1": z}, kernels)  # what the engine calls once per style
        ref = net.decode(z)
        net.transform_global({"relu4_1": z}, kernels)
        with _counting(net.decoder, "run") as calls:
            tiled = tiled_decode(net, z, tile_size=tile_size)
    return tiled, ref, len(calls)


@pytest.mark.parametrize("hw", [(20, 14), (16, 16), (9, 23)])
def test_adaconv_tiled_decode_equals_untiled(adaconv, hw):
    """Five tiled passes (four norms' statistics, then the output) give the one-pass decode: to
    1e-10 in float64; in float32 no further from the float64 result than the one pass is.

    (The random decoder's instance norms amplify float32 rounding in channels of tiny variance by
    1/sqrt(var + 1e-5): one pass in float32 is 2e-5 .. 6e-5 of the range from float64, measured.)"""
    z, kernels = _adaconv_state(adaconv, *hw)
    tiled, ref, n = _tiled_decode_counted(adaconv, z, kernels, 64)
    assert n == 5 * -(-hw[0] // 8) * -(-hw[1] // 8)  # really tiled, in five passes
    assert tiled.shape == ref.shape == (1, 3, 8 * hw[0], 8 * hw[1])
    net64 = copy.deepcopy(adaconv).double()
    z64, k64 = _adaconv_state(net64, *hw)
    tiled64, ref64, _ = _tiled_decode_counted(net64, z64, k64, 64)
    scale = ref64.abs().max()
    assert (tiled64 - ref64).abs().max() <= 1e-10 * scale
    assert (tiled.double() - ref64).abs().max() <= 1.5 * (ref.double() - ref64).abs().max() + 1e-6 * scale


def test_adaconv_tiles_need_the_whole_map_statistics_and_the_halos(adaconv):
    """The test can fail: per-tile instance norms, or one cell less halo in any pass, show. In
    float64, where the tiles are exact to 1e-12 (a shorter halo in the statistics passes moves the
    statistics only a little: 9e-5 for pass 3, measured)."""
    from stylekernel.tiling import halo, tiled_normalized_decode

    net64 = copy.deepcopy(adaconv).double()
    z, kernels = _adaconv_state(net64, 24, 16)
    dec = net64.decoder
    halos = [halo(dec.local_layers(upto=i)) for i in range(4)] + [halo(dec.local_layers())]
    with torch.no_grad():
        ref = dec.run(z, kernels)
        scale = ref.abs().max()

        def run(tile, stats, upto):
            return dec.run(tile, kernels, stats=stats, upto=None if upto == 4 else upto)

        def err(fn, hs) -> float:
            return float((tiled_normalized_decode(fn, z, norms=4, halos=hs, tile_size=64) - ref).abs().max() / scale)

        assert err(run, halos) <= 1e-10
        assert err(lambda t, s, u: dec.run(t, kernels, upto=None if u == 4 else u), halos) > 1e-2  # per-tile norms
        for i in range(1, 5):
            assert err(run, [h - (j == i) for j, h in enumerate(halos)]) > 1e-6, f"pass {i}: halo not needed"


@pytest.mark.parametrize("size", [(192, 128), (200, 136), (72, 150)])
def test_adaconv_stylize_tiled_equals_one_pass(adaconv, size):
    """The engine path of ``stylize --tile-size 64``: sizes multiple of 64 and 16, of neither, mixed."""
    _check_engine(adaconv, size, count="decode_tiled", min_calls=1)


# --- AdaAttN ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def adaattn():
    from stylekernel.baselines.adaattn import AdaAttN

    return _calibrated(AdaAttN)


def _adaattn_feats(h: int, w: int, seed: int) -> dict[str, Tensor]:
    """Random relu1_1 .. relu5_1 maps of a (8h, 8w) image: (B, C_n, 8h / s_n, 8w / s_n)."""
    from stylekernel.nn.encoder import CHANNELS, LAYERS

    gen = torch.Generator().manual_seed(seed)
    return {n: torch.randn(1, CHANNELS[n], 8 * h // 2**i, 8 * w // 2**i, generator=gen).relu_() for i, n in enumerate(LAYERS)}


def _adaattn_naive(net, content: dict[str, Tensor], style: dict[str, Tensor]) -> Tensor:
    """AdaAttN's transform from the authors' equations (``get_key``, ``AdaAttN.forward``,
    ``Transformer.forward``), whole maps, float64, every style position (caps above the test's)."""
    layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]

    def mvn(x):
        return (x - x.mean((2, 3), keepdim=True)) / (x.var((2, 3), unbiased=True, keepdim=True) + 1e-5).sqrt()

    def key(feats, last):
        hw = feats[last].shape[-2:]
        return torch.cat([mvn(nn.functional.interpolate(feats[n].double(), hw)) for n in layers[: layers.index(last) + 1]], 1)

    def block(b, layer):
        conv = lambda m, x: nn.functional.conv2d(x.double(), m.weight.double(), m.bias.double())  # noqa: E731
        zc, zs = content[layer].double(), style[layer].double()
        q, k, v = conv(b.f, key(content, layer)).flatten(2), conv(b.g, key(style, layer)).flatten(2), conv(b.h, zs).flatten(2)
        a = torch.softmax(q.transpose(1, 2) @ k, dim=-1)  # (B, Nc, Ns), unscaled
        mean = a @ v.transpose(1, 2)
        std = torch.relu(a @ (v * v).transpose(1, 2) - mean**2).sqrt()
        shape = (zc.shape[0], zc.shape[-2], zc.shape[-1], -1)
        return std.view(shape).permute(0, 3, 1, 2) * mvn(zc) + mean.view(shape).permute(0, 3, 1, 2)

    z = block(net.adaattn4_1, "relu4_1")
    z5 = block(net.adaattn5_1, "relu5_1").repeat_interleave(2, -2).repeat_interleave(2, -1)
    m = net.merge[1]
    z = nn.functional.conv2d(nn.functional.pad(z + z5, (1, 1, 1, 1), mode="reflect"), m.weight.double(), m.bias.double())
    z3 = block(net.adaattn3_1, "relu3_1")
    return torch.cat([z, nn.functional.pixel_unshuffle(z3, 2)], dim=1)


@pytest.mark.parametrize("hw", [(28, 22), (16, 16), (18, 12)])
def test_adaattn_tiled_transform_equals_untiled_and_the_equations(adaattn, hw):
    """Tiles of 8 relu4_1 cells (64 px), relu1_1 .. relu3_1 cut at 8x .. 2x: the whole-map
    transform (both levels of the packed code), to 1e-5 of its range (float32)."""
    content, style = _adaattn_feats(*hw, seed=0), _adaattn_feats(6, 8, seed=1)
    with torch.no_grad():
        ref = adaattn.transform(content, style)
        state = adaattn.transform_global(content, adaattn.style_state(style))
        with _counting(adaattn, "transform_local") as calls:
            tiled = tiled_transform(adaattn, content, state, tile_size=64)
    assert len(calls) == -(-hw[0] // 8) * -(-hw[1] // 8)  # really tiled
    assert tiled.shape == ref.shape == (1, 512 + 4 * 256, *hw)
    torch.testing.assert_close(tiled, ref, rtol=0, atol=1e-5 * ref.abs().max().item())
    # the equations in float64 (in float32, sqrt(relu(E[v²] - M²)) loses digits where the
    # attention-weighted variance is near 0: 1e-3 at 2 of 1e6 entries, measured)
    net64 = copy.deepcopy(adaattn).double()
    with torch.no_grad():
        ref64 = net64.transform({k: v.double() for k, v in content.items()}, {k: v.double() for k, v in style.items()})
    torch.testing.assert_close(ref64, _adaattn_naive(adaattn, content, style), rtol=1e-8, atol=1e-8 * ref64.abs().max().item())


def test_adaattn_tiles_need_the_halo_and_the_whole_map_statistics(adaattn):
    """The test can fail: without the merge conv's halo, or with each tile's own mean/std for the
    keys' and the content's mvn, the tiles show seams."""
    assert adaattn.transform_halo == 2
    content, style = _adaattn_feats(24, 24, seed=0), _adaattn_feats(6, 8, seed=1)
    with torch.no_grad():
        ref = adaattn.transform(content, style)
        state = adaattn.transform_global(content, adaattn.style_state(style))
        with _halo(adaattn, 0):
            short = tiled_transform(adaattn, content, state, tile_size=64)
        local = adaattn.transform_local
        adaattn.transform_local = lambda crop, st: local(crop, adaattn.transform_global(crop, st["style"]))
        try:
            own_stats = tiled_transform(adaattn, content, state, tile_size=64)
        finally:
            del adaattn.transform_local
    assert (short - ref)[:, :512].abs().max() > 1e-3 * ref.abs().max()  # the merge conv (relu4_1 part)
    assert (short - ref)[:, 512:].abs().max() <= 1e-5 * ref.abs().max()  # the relu3_1 part is pointwise
    assert (own_stats - ref).abs().max() > 1e-3 * ref.abs().max()


@pytest.mark.parametrize("tile_size", [64, 96])
def test_adaattn_stylize_tiled_equals_one_pass(adaattn, tile_size):
    """The engine path of ``stylize --tile-size`` on a 150x130 content (a multiple of neither the
    tile nor 16): the output image to 1e-5 (float32; float64 to 1e-6)."""
    size = (130, 150)
    tiled, whole, n = _engine_tiled_vs_whole(adaattn, size, tile_size, count="transform_local")
    assert n >= 4, f"transform_local ran {n} times: not tiled"
    assert tiled.shape == whole.shape == (1, 3, *size)
    assert whole.std() > 0.05  # a real image, not a clamped flat colour
    err = float((tiled - whole).abs().max())
    assert err <= 1e-5, err
    tiled64, whole64, _ = _engine_tiled_vs_whole(_float64(adaattn), size, tile_size, count="transform_local")
    assert (tiled64 - whole64).abs().max() <= 1e-6
    with _halo(adaattn, 0):
        short, _, _ = _engine_tiled_vs_whole(adaattn, size, tile_size, count="transform_local")
    assert (short - whole).abs().max() > 1e-2  # the comparison can see a seam


def test_adaattn_stylize_cli_tiles_from_a_checkpoint(adaattn, tmp_path, monkeypatch):
    """``stylekernel stylize --tile-size 64`` with an AdaAttN checkpoint: the transform runs in
    tiles, and the PNG equals the one of ``--tile-size 0`` (one pass) to one 8-bit level."""
    import lightning as L
    import numpy as np
    from PIL import Image

    from stylekernel.baselines.adaattn import AdaAttN
    from stylekernel.cli import main as cli_main
    from stylekernel.module import StyleTransferModule

    ckpt = tmp_path / "adaattn.ckpt"
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.strategy.connect(StyleTransferModule(adaattn))
    trainer.save_checkpoint(ckpt)
    gen = torch.Generator().manual_seed(3)
    for name, (h, w) in {"content": (130, 150), "style": (48, 64)}.items():
        pixels = (torch.rand(h, w, 3, generator=gen) * 255).to(torch.uint8).numpy()
        Image.fromarray(pixels).save(tmp_path / f"{name}.png")
    calls: list = []
    local = AdaAttN.transform_local
    monkeypatch.setattr(AdaAttN, "transform_local", lambda self, *a: calls.append(1) or local(self, *a))

    def stylize(tile: int) -> np.ndarray:
        out = tmp_path / f"out{tile}.png"
        argv = ["stylize", "--checkpoint", str(ckpt), "--content", str(tmp_path / "content.png"),
                "--style", str(tmp_path / "style.png"), "--style-size", "0", "--tile-size", str(tile), "--output", str(out), "--quiet"]  # fmt: skip
        assert cli_main(argv) == 0
        return np.asarray(Image.open(out).convert("RGB")).astype(int)

    whole = stylize(0)
    assert len(calls) == 1
    tiled = stylize(64)
    assert len(calls) - 1 >= 4  # 160 x 144 padded: 3 x 3 tiles of 64 px
    assert tiled.shape == whole.shape == (130, 150, 3) and whole.std() > 10
    assert np.abs(tiled - whole).max() <= 1


def test_adaattn_memory_estimate_counts_what_the_engine_holds_whole(adaattn):
    """The refusal's estimate (``estimate_stylize_bytes``) grows per content pixel at least as
    fast as the tensors the engine holds for the whole image with AdaAttN, and at most 1.5x:
    the features relu1_1 .. relu5_1 (122 floats a pixel), the packed content code and the
    accumulator (1536 / 64 floats each), the content and its padded copy."""
    from stylekernel.engine import estimate_stylize_bytes, tensor_bytes

    def held(side: int) -> int:
        with torch.no_grad():
            fc = adaattn.encode(torch.rand(1, 3, side, side))
        return tensor_bytes(fc) + 2 * tensor_bytes(adaattn.content_code(fc)) + 2 * 3 * 4 * side * side

    def estimate(side: int) -> int:
        return estimate_stylize_bytes(adaattn, side, side, tile_size=64)  # the tile term is constant

    pixels = 256**2 - 128**2
    per_pixel_held, per_pixel_estimate = (held(256) - held(128)) / pixels, (estimate(256) - estimate(128)) / pixels
    assert per_pixel_held <= per_pixel_estimate <= 1.5 * per_pixel_held, (per_pixel_held, per_pixel_estimate)
