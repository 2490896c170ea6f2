"""Tiled encoder/decoder: the halo algebra against hand derivation and gradients, tiles == whole image."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

from stylekernel.tiling import (
    NotTileableError,
    decoder_halo,
    encoder_halo,
    encoder_layers,
    halo,
    input_range,
    tile_spans,
    tiled_decode,
    tiled_encode,
    tiled_transform,
)


def test_input_range_of_vgg_to_relu4_1_matches_hand_derivation(net):
    # Derived by hand backwards through conv4_1, pool3, conv3_4..3_1, pool2, conv2_2..2_1, pool1,
    # conv1_2..1_1 (3x3 convs add 1 each side at their level; a 2x2/2 pool maps [l, h] to [2l, 2h+1]):
    # relu4_1 cell a reads pixels [8a - 30, 8a + 37].
    layers = encoder_layers(net, "relu4_1")
    for a in (0, 3, 10):
        assert input_range(layers, a, a) == (8 * a - 30, 8 * a + 37)
    assert halo(layers) == 30
    assert encoder_halo(net, ["relu4_1"]) == 32  # rounded up to the stride


def _grad_support(output: torch.Tensor, x: torch.Tensor) -> tuple[int, int, int, int]:
    (g,) = torch.autograd.grad(output, x)
    nz = g.abs().sum(dim=(0, 1)).nonzero()
    return int(nz[:, 0].min()), int(nz[:, 0].max()), int(nz[:, 1].min()), int(nz[:, 1].max())


def test_encoder_halo_bounds_the_true_receptive_field(net):
    x = torch.rand(1, 3, 160, 160, requires_grad=True)
    f = net.encode(x)["relu4_1"]
    a = 10
    y0, y1, x0, x1 = _grad_support(f[0, :, a, a].sum(), x)
    lo, hi = input_range(encoder_layers(net, "relu4_1"), a, a)
    assert lo <= y0 and y1 <= hi and lo <= x0 and x1 <= hi
    assert y0 - lo <= 2 and hi - y1 <= 2  # the bound is tight, not just safe


def test_decoder_halo_bounds_the_true_receptive_field(net):
    h = decoder_halo(net)
    z = torch.randn(1, 512, 20, 20, requires_grad=True)
    out = net.decode(z)
    a = 10
    y0, y1, x0, x1 = _grad_support(out[0, :, 8 * a : 8 * a + 8, 8 * a : 8 * a + 8].sum(), z)
    assert a - h <= y0 and y1 <= a + h and a - h <= x0 and x1 <= a + h
    assert min(a - y0, y1 - a) >= h - 1  # tight


@pytest.mark.parametrize("length,tile,halo_,align", [(96, 32, 32, 8), (80, 32, 32, 8), (13, 5, 2, 1), (8, 64, 32, 8)])
def test_tile_spans_cover_exactly_once(length, tile, halo_, align):
    spans = tile_spans(length, tile=tile, halo=halo_, align=align)
    covered = [i for s in spans for i in range(s.start, s.end)]
    assert covered == list(range(length))
    for s in spans:
        assert s.end - s.start <= max(tile, align) and s.start % align == 0 and s.in_start % align == 0
        assert s.in_start == max(0, s.start - halo_) and s.in_end == min(length, s.end + halo_)


def test_tile_spans_rejects_misaligned():
    with pytest.raises(ValueError):
        tile_spans(100, tile=32, halo=32, align=8)


@pytest.mark.parametrize("shape", [(1, 3, 96, 80), (2, 3, 40, 104)])
def test_tiled_encode_equals_whole_image(net, shape):
    torch.manual_seed(1)
    x = torch.rand(*shape)
    with torch.no_grad():
        ref = net.encode(x)["relu4_1"]
        tiled = tiled_encode(net, x, tile_size=48)["relu4_1"]
    assert tiled.shape == ref.shape
    torch.testing.assert_close(tiled, ref, rtol=1e-4, atol=1e-5 * ref.abs().max().item())


def test_tiled_encode_equals_whole_image_at_relu5_1(make_net):
    net5 = make_net(use_relu5_1=True)
    assert net5.stride == 16
    x = torch.rand(1, 3, 128, 48)
    with torch.no_grad():
        ref = net5.encode(x)
        tiled = tiled_encode(net5, x, tile_size=70)  # rounded down to 64 (a multiple of 16): 2 x 1 tiles
    assert set(tiled) == {"relu4_1", "relu5_1"}
    for name in ref:
        torch.testing.assert_close(tiled[name], ref[name], rtol=1e-4, atol=1e-5 * ref[name].abs().max().item())


def test_untiled_halo_would_show_seams(net):
    """Sanity check of the test itself: without the halo, tiles differ from the whole image."""
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        ref = net.encode(x)["relu4_1"]
        left = net.encode(x[..., :32])["relu4_1"]
    assert (left - ref[..., :4]).abs().max() > 1e-3 * ref.abs().max()


@pytest.mark.parametrize("hw", [(12, 10), (5, 23)])
def test_tiled_decode_equals_whole_map(net, hw):
    z = torch.randn(1, 512, *hw)
    with torch.no_grad():
        ref = net.decode(z)
        tiled = tiled_decode(net, z, tile_size=32)
    assert tiled.shape == ref.shape == (1, 3, 8 * hw[0], 8 * hw[1])
    torch.testing.assert_close(tiled, ref, rtol=1e-4, atol=1e-5)


def test_small_inputs_take_one_pass(net, monkeypatch):
    calls = []
    original = net.encode
    monkeypatch.setattr(net, "encode", lambda image, layers=None: calls.append(image.shape) or original(image, layers))
    with torch.no_grad():
        tiled_encode(net, torch.rand(1, 3, 64, 64), tile_size=64)
    assert calls == [(1, 3, 64, 64)]


def test_unknown_layer_is_not_tileable_and_falls_back(net, caplog):
    with pytest.raises(NotTileableError):
        input_range([nn.InstanceNorm2d(3)], 0, 0)

    class Odd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.decoder = nn.Sequential(nn.InstanceNorm2d(512), nn.Upsample(scale_factor=8), nn.Conv2d(512, 3, 1))

        def decode(self, z):
            return self.decoder(z)

    odd = Odd()
    z = torch.randn(1, 512, 10, 10)
    with caplog.at_level(logging.WARNING), torch.no_grad():
        out = tiled_decode(odd, z, tile_size=16)  # type: ignore[arg-type]
    assert "not tileable" in caplog.text
    torch.testing.assert_close(out, odd.decode(z))


# --- the tiled transform ----------------------------------------------------------------------
def _feats(net, h: int, w: int, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    out = {"relu4_1": torch.randn(1, 512, h, w, generator=gen).relu_()}
    if "relu5_1" in net.feature_layers:
        out["relu5_1"] = torch.randn(1, 512, h // 2, w // 2, generator=gen).relu_()
    return out


def _assert_tiles_exact(net, content, style, tile_size):
    with torch.no_grad():
        ref = net.transform(content, style)
        state = net.transform_global(content, net.style_state(style))
        tiled = tiled_transform(net, content, state, tile_size=tile_size)
    assert tiled.shape == ref.shape
    torch.testing.assert_close(tiled, ref.float(), rtol=0, atol=1e-5 * ref.abs().max().item())
    return ref, state


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"gate": "hard"}, {"gate": "none"}, {"kernel_size": 5}, {"kernel_size": 7, "dynamic_padding": "reflect"},
     {"alignment": "plain", "normalize_content": False}, {"use_relu5_1": True}, {"kernel_norm": "softmax", "max_style_tokens": 30}],
)  # fmt: skip
def test_tiled_transform_equals_untiled(make_net, kwargs):
    """Tiles of 8 relu4_1 cells (64 px) with the declared halo give the whole map's transform."""
    net = make_net(**kwargs)
    content, style = _feats(net, 28, 22), _feats(net, 8, 10, seed=1)
    _assert_tiles_exact(net, content, style, tile_size=64)


def test_transform_halo_is_needed_and_tight(make_net):
    """The test can fail: one cell (two with relu5_1's alignment) less halo shows seams."""
    for kwargs, expected in (({}, 2), ({"gate": "none"}, 1), ({"kernel_size": 7}, 3), ({"use_relu5_1": True}, 6)):
        net = make_net(**kwargs)
        assert net.transform_halo == expected
        content, style = _feats(net, 28, 24), _feats(net, 8, 8, seed=1)
        ref, state = _assert_tiles_exact(net, content, style, tile_size=64)
        net.transform_halo = expected - (2 if kwargs.get("use_relu5_1") else 1)
        try:
            with torch.no_grad():
                short = tiled_transform(net, content, state, tile_size=64)
        finally:
            net.transform_halo = expected
        assert (short - ref).abs().max() > 1e-4 * ref.abs().max()  # 10x the exactness tolerance


def test_tiled_transform_accumulates_weighted(net):
    content, style = _feats(net, 20, 18), _feats(net, 6, 6, seed=1)
    gen = torch.Generator().manual_seed(3)
    base, m = torch.randn(1, 512, 20, 18, generator=gen), torch.rand(1, 1, 20, 18, generator=gen)
    with torch.no_grad():
        ref = net.transform(content, style)
        state = net.transform_global(content, net.style_state(style))
        out = tiled_transform(net, content, state, tile_size=48, out=base.clone(), weight=m)
        scaled = tiled_transform(net, content, state, tile_size=48, weight=0.25)
    torch.testing.assert_close(out, base + m * ref, rtol=0, atol=1e-5 * ref.abs().max().item())
    torch.testing.assert_close(scaled, 0.25 * ref, rtol=0, atol=1e-5 * ref.abs().max().item())


@pytest.mark.parametrize("unbiased", [True, False])
def test_adain_tiled_equals_untiled_and_formula(unbiased):
    from stylekernel.baselines.adain import AdaINNet

    net = AdaINNet(encoder_weights="random", unbiased_std=unbiased).eval()
    content, style = _feats(net, 30, 17), _feats(net, 9, 7, seed=1)
    ref, _ = _assert_tiles_exact(net, content, style, tile_size=64)
    zc, zs = content["relu4_1"].double(), style["relu4_1"].double()
    naive = (zc - zc.mean((2, 3), keepdim=True)) / (zc.var((2, 3), unbiased=unbiased, keepdim=True) + 1e-5).sqrt()
    naive = naive * (zs.var((2, 3), unbiased=unbiased, keepdim=True) + 1e-5).sqrt() + zs.mean((2, 3), keepdim=True)
    torch.testing.assert_close(ref.double(), naive, rtol=1e-5, atol=1e-5)


def test_untileable_network_runs_its_transform_once_on_the_whole_map(net, monkeypatch):
    """A network without transform_halo (the default) is never tiled."""
    from stylekernel.nn.base import StyleTransferNet

    class Whole(StyleTransferNet):
        def __init__(self) -> None:
            super().__init__()

        def transform(self, content, style):
            calls.append(tuple(content["relu4_1"].shape))
            return content["relu4_1"] * style["relu4_1"].mean()

    calls: list = []
    whole = Whole()
    content, style = _feats(net, 30, 30), _feats(net, 4, 4, seed=1)
    state = whole.transform_global(content, whole.style_state(style))
    out = tiled_transform(whole, content, state, tile_size=64)
    assert calls == [(1, 512, 30, 30)]
    torch.testing.assert_close(out, content["relu4_1"] * style["relu4_1"].mean())
    assert not torch.equal(content["relu4_1"], out * 0)  # the features were not modified in place


# --- the engine: style state cache, memory refusal, CUDA ---------------------------------------
def test_style_state_is_computed_once_for_a_folder_of_contents(net, monkeypatch):
    from stylekernel.inference import Stylizer

    calls: list = []
    original = net.style_state
    monkeypatch.setattr(net, "style_state", lambda style: calls.append(1) or original(style))
    st = Stylizer(net, style_size=None, tile_size=32)
    s = torch.rand(1, 3, 24, 32)
    outs = [st.stylize_tensor(torch.rand(1, 3, 40, 48), [s]) for _ in range(3)]
    assert len(calls) == 1  # keys/values of the style: once for three contents
    fresh = Stylizer(net, style_size=None, tile_size=None, feature_cache_bytes=0)
    torch.manual_seed(0)
    c = torch.rand(1, 3, 40, 48)
    torch.testing.assert_close(st.stylize_tensor(c, [s]), fresh.stylize_tensor(c, [s]), atol=1e-5, rtol=0)
    assert len(calls) == 2 and all(o.shape == (1, 3, 40, 48) for o in outs)  # fresh has no cache


def _small_memory(monkeypatch, st, content_side: int) -> int:
    """Make the available memory lie between the estimates for content_side / 2 and content_side."""
    import stylekernel.engine as engine

    lo, hi = st.estimate_memory(content_side // 2, content_side // 2), st.estimate_memory(content_side, content_side)
    available = (lo + hi) // 2
    monkeypatch.setattr(engine, "available_memory_bytes", lambda device: available)
    return available


def test_too_large_content_is_refused_before_decoding(net, tmp_path, rand_rgb, monkeypatch):
    import re

    import stylekernel.image_files as decode
    from stylekernel.inference import ContentTooLargeError, Stylizer, fit_max_side

    st = Stylizer(net, style_size=32, tile_size=256)
    path = tmp_path / "big.png"
    rand_rgb(3000, 2000).save(path)
    available = _small_memory(monkeypatch, st, 3000)
    monkeypatch.setattr(decode, "load_image", lambda *a, **k: pytest.fail("decoded before the memory check"))
    with pytest.raises(ContentTooLargeError) as info:
        st.stylize(path, rand_rgb(32, 32))
    message = str(info.value)
    assert "\n" not in message and "3000x2000" in message and "GiB" in message
    side = int(re.search(r"--max-side (\d+) would fit", message).group(1))
    assert st.estimate_memory(*fit_max_side((3000, 2000), side)) <= available  # the hint fits ...
    assert st.estimate_memory(*fit_max_side((3000, 2000), side + 1)) > available  # ... and is the largest that does
    with pytest.raises(ContentTooLargeError):  # the tensor core checks too
        st.stylize_tensor(torch.rand(1, 3, 2000, 3000), [torch.rand(1, 3, 32, 32)])
    Stylizer(net, memory_check=False).check_memory(3000, 2000)  # off: no refusal


def test_cli_refuses_too_large_content_in_one_line(checkpoint, tmp_path, rand_rgb, monkeypatch, capsys):
    from stylekernel import stylize_cli
    from stylekernel.inference import Stylizer

    content, style, out = tmp_path / "c.png", tmp_path / "s.png", tmp_path / "out.png"
    rand_rgb(1600, 1200).save(content)
    rand_rgb(64, 64).save(style)
    _small_memory(monkeypatch, Stylizer.from_checkpoint(checkpoint, tile_size=1024), 1600)  # the CLI's default tiles
    code = stylize_cli.main(["--checkpoint", str(checkpoint), "--content", str(content), "--style", str(style), "--output", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and not out.exists()
    assert len([line for line in err if "error" in line]) == 1 and "--max-side" in err[-1] and "Traceback" not in "".join(err)


@pytest.mark.gpu
def test_cuda_tiled_equals_untiled_and_reports_allocator_peak(net):
    import copy

    from stylekernel.inference import Stylizer

    gpu_net = copy.deepcopy(net)  # the session fixture stays on the CPU
    tiled = Stylizer(gpu_net, device="cuda", style_size=None, tile_size=64)
    whole = Stylizer(gpu_net, device="cuda", style_size=None, tile_size=None)
    c, s = torch.rand(1, 3, 160, 136), torch.rand(1, 3, 48, 48)
    peaks = []
    for st in (tiled, whole):
        torch.cuda.reset_peak_memory_stats()
        out = st.stylize_tensor(c, [s])
        peaks.append(torch.cuda.max_memory_allocated())
        assert out.device.type == "cpu"
    torch.testing.assert_close(tiled.stylize_tensor(c, [s]), whole.stylize_tensor(c, [s]), atol=1e-4, rtol=0)
    assert 0 < peaks[0] < peaks[1]  # tiles need less device memory
    cpu = Stylizer(net, style_size=None, tile_size=None).stylize_tensor(c, [s])
    torch.testing.assert_close(tiled.stylize_tensor(c, [s]), cpu, atol=1e-3, rtol=0)


@pytest.mark.parametrize("name", ["adain", "sanet"])
def test_ceil_mode_encoders_tile_exactly(name):
    """The peers' ceil_mode pools agree with floor pools on stride-aligned tiles: tiled == one pass."""
    from stylekernel.baselines.registry import MODELS

    net = MODELS[name](encoder_weights="random").double().eval()
    assert any(getattr(m, "ceil_mode", False) for m in net.encoder.modules())
    s = net.stride
    x = torch.rand(1, 3, 13 * s, 9 * s, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = net.encode(x)
        calls = []
        encode = net.encode
        net.encode = lambda image, layers=None: calls.append(image.shape) or encode(image, layers)  # type: ignore[method-assign]
        tiled = tiled_encode(net, x, tile_size=4 * s)
    assert len(calls) > 1, "the encoder ran in one pass, not in tiles"
    assert ref.keys() == tiled.keys()
    for k in ref:
        torch.testing.assert_close(tiled[k], ref[k], rtol=1e-10, atol=1e-12)
