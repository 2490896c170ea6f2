"""AdaAttN: keys from shallow layers, attention-weighted mean/std, the packed relu3_1 skip,
against naive loops (the comparison with the authors' whole forward pass is in
tests/released/test_adaattn_release.py)."""

from __future__ import annotations

import pytest
import torch

from stylekernel.baselines.adaattn import AdaAttN, AdaAttNBlock, attention_key, key_channels, pack, unpack
from stylekernel.errors import ConfigError

from ._reference import attention_rows, conv1x1_ref, mvn_ref


def naive_adaattn_block(block: AdaAttNBlock, zc, zs, key_c, key_s, keep: list[int] | None = None, eps: float = 0.0) -> torch.Tensor:
    """std_i * mvn(zc)_i + mean_i with mean_i = sum_j a_ij v_j, std_i = sqrt(max(sum_j a_ij v_j² -
    mean_i², 0) + eps) (eps = 0: the authors'), mvn with the unbiased variance."""
    q = conv1x1_ref(block.f, key_c)
    k = conv1x1_ref(block.g, key_s).flatten(2)
    v = conv1x1_ref(block.h, zs).flatten(2)
    if keep is not None:
        k, v = k[:, :, keep], v[:, :, keep]
    b, c, hh, ww = zc.shape
    rows = attention_rows(q, k.unsqueeze(-1), 1.0)
    mean = torch.zeros(b, c, hh * ww, dtype=torch.float64)
    sq = torch.zeros_like(mean)
    for n in range(b):
        for i, weights in enumerate(rows[n]):
            for j, a in enumerate(weights):
                mean[n, :, i] += a * v[n, :, j]
                sq[n, :, i] += a * v[n, :, j] ** 2
    std = (sq - mean**2).clamp_min(0).add(eps).sqrt()
    return std.view(b, c, hh, ww) * mvn_ref(zc, unbiased=True) + mean.view(b, c, hh, ww)


@pytest.mark.parametrize(("chunk", "eps"), [(None, 0.0), (4, 0.0), (None, 1e-5)])
def test_block_matches_naive_mean_std_attention(chunk: int | None, eps: float) -> None:
    torch.manual_seed(0)
    block = AdaAttNBlock(4, 6, query_chunk_size=chunk, std_eps=eps)
    zc, zs = torch.randn(2, 4, 3, 5).relu(), torch.randn(2, 4, 4, 3).relu()
    key_c, key_s = torch.randn(2, 6, 3, 5), torch.randn(2, 6, 4, 3)
    out = block(zc, zs, key_c, key_s)
    torch.testing.assert_close(out.double(), naive_adaattn_block(block, zc, zs, key_c, key_s, eps=eps), rtol=1e-4, atol=1e-4)


def test_style_token_cap_in_eval_takes_the_authors_seeded_positions() -> None:
    """Evaluation keeps randperm(n)[:k] after seeding 6666 (the authors' test time), without
    touching the global RNG; training draws a fresh subset."""
    torch.manual_seed(0)
    block = AdaAttNBlock(4, 6, max_style_tokens=5).eval()
    zc, zs = torch.randn(1, 4, 3, 3).relu(), torch.randn(1, 4, 4, 4).relu()
    key_c, key_s = torch.randn(1, 6, 3, 3), torch.randn(1, 6, 4, 4)
    with torch.random.fork_rng():
        torch.manual_seed(6666)
        keep = torch.randperm(16)[:5].tolist()
    expected = naive_adaattn_block(block, zc, zs, key_c, key_s, keep=keep)
    state = torch.random.get_rng_state()
    torch.testing.assert_close(block(zc, zs, key_c, key_s).double(), expected, rtol=1e-4, atol=1e-4)
    assert torch.equal(torch.random.get_rng_state(), state)
    block.train()
    outs = [block(zc, zs, key_c, key_s) for _ in range(4)]
    assert any(not torch.allclose(outs[0], o) for o in outs[1:])


def test_pack_is_a_lossless_rearrangement_on_the_relu4_1_grid() -> None:
    torch.manual_seed(0)
    z4, z3 = torch.randn(2, 512, 3, 5), torch.randn(2, 256, 6, 10)
    z = pack(z4, z3)
    assert z.shape == (2, 512 + 4 * 256, 3, 5)
    back4, back3 = unpack(z)
    assert torch.equal(back4, z4) and torch.equal(back3, z3)
    # a relu4_1 cell of z holds exactly the 2x2 relu3_1 cells below it (tiles cut both alike)
    assert torch.equal(unpack(z[:, :, 1:3, 2:4])[1], z3[:, :, 2:6, 4:8])
    # linear blends commute with packing
    w4, w3 = torch.randn_like(z4), torch.randn_like(z3)
    torch.testing.assert_close(unpack(0.3 * z + 0.7 * pack(w4, w3))[1], 0.3 * z3 + 0.7 * w3)


def test_shallow_key_concatenates_normalised_resized_layers() -> None:
    torch.manual_seed(0)
    feats = {
        "relu1_1": torch.randn(1, 64, 16, 24),
        "relu2_1": torch.randn(1, 128, 8, 12),
        "relu3_1": torch.randn(1, 256, 4, 6),
        "relu4_1": torch.randn(1, 512, 2, 3),
    }
    key = attention_key(feats, "relu4_1", shallow=True)
    assert key.shape == (1, key_channels("relu4_1", True), 2, 3) == (1, 960, 2, 3)
    # nearest downsampling by an integer factor s picks every s-th position
    factors = {"relu1_1": 8, "relu2_1": 4, "relu3_1": 2, "relu4_1": 1}
    expected = torch.cat([mvn_ref(feats[n][:, :, ::s, ::s], unbiased=True) for n, s in factors.items()], dim=1)
    torch.testing.assert_close(key.double(), expected, rtol=1e-5, atol=1e-5)
    assert key_channels("relu5_1", True) == 1472 and key_channels("relu4_1", False) == 512
    torch.testing.assert_close(attention_key(feats, "relu4_1", shallow=False).double(), mvn_ref(feats["relu4_1"], unbiased=True), rtol=1e-5, atol=1e-5)
    biased = attention_key(feats, "relu4_1", shallow=False, unbiased=False).double()
    torch.testing.assert_close(biased, mvn_ref(feats["relu4_1"]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "layers", "stride"),
    [
        ({}, ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"), 16),
        ({"use_relu5_1": False}, ("relu1_1", "relu2_1", "relu3_1", "relu4_1"), 8),
        ({"shallow_keys": False}, ("relu3_1", "relu4_1", "relu5_1"), 16),
        ({"shallow_keys": False, "relu3_1_skip": False}, ("relu4_1", "relu5_1"), 16),
    ],
)
def test_layers_and_stride_follow_the_arguments(kwargs: dict, layers: tuple, stride: int) -> None:
    net = AdaAttN(encoder_weights="random", **kwargs)
    assert tuple(net.feature_layers) == layers and net.stride == stride
    size = 2 * stride
    content = torch.rand(1, 3, size, 2 * size)
    out = net(content, torch.rand(1, 3, size, size))
    assert out.shape == (1, 3, size, 2 * size) and torch.isfinite(out).all()
    code = net.content_code(net.encode(content))
    assert code.shape == (1, 512 + (1024 if net.relu3_1_skip else 0), size // 8, size // 4)


def test_released_layout_defaults() -> None:
    """The defaults are the authors' released model: a relu3_1 block with a 448-channel key and
    max_sample 64*64, relu4_1 / relu5_1 blocks with 960 / 1472 and 256*256, and a decoder whose
    conv after the first upsampling takes 512 channels (256 + the skip's 256)."""
    net = AdaAttN(encoder_weights="random")
    assert net.adaattn3_1.f.weight.shape == (448, 448, 1, 1) and net.adaattn3_1.h.weight.shape == (256, 256, 1, 1)
    assert net.adaattn3_1.max_style_tokens == 64 * 64 and net.adaattn4_1.max_style_tokens == 256 * 256
    assert net.adaattn4_1.f.weight.shape[0] == 960 and net.adaattn5_1.f.weight.shape[0] == 1472
    assert net.decoder.body[1].weight.shape == (256, 512, 3, 3)
    assert net.encoder.ceil_mode and net.adaattn4_1.unbiased and net.adaattn4_1.std_eps == 0.0


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"query_chunk_size": 0}, "query_chunk_size"), ({"max_style_tokens": -1}, "max_style_tokens")],
)
def test_bad_arguments_fail_at_construction(kwargs: dict, argument: str) -> None:
    with pytest.raises(ConfigError, match=argument):
        AdaAttN(encoder_weights="random", **kwargs)


def test_tiled_decoding_of_the_packed_code_is_exact() -> None:
    """The skip travels inside z on the relu4_1 grid, so the tiled decoder cuts both levels alike."""
    from stylekernel.tiling import tiled_decode

    torch.manual_seed(0)
    net = AdaAttN(encoder_weights="random").eval()
    z = torch.randn(1, 512 + 1024, 12, 16)
    with torch.no_grad():
        torch.testing.assert_close(tiled_decode(net, z, tile_size=32), net.decode(z), rtol=1e-5, atol=1e-6)
