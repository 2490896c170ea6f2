"""AdaAttN: keys from shallow layers, attention-weighted mean/std, against naive loops."""

from __future__ import annotations

import pytest
import torch

from stylekernel.baselines.adaattn import AdaAttN, AdaAttNBlock, attention_key, key_channels
from stylekernel.errors import ConfigError

from ._reference import attention_rows, conv1x1_ref, mvn_ref


def naive_adaattn_block(block: AdaAttNBlock, zc, zs, key_c, key_s, keep: list[int] | None = None) -> torch.Tensor:
    """std_i * mvn(zc)_i + mean_i with mean_i = sum_j a_ij v_j, std_i = sqrt(sum_j a_ij v_j² - mean_i² + eps)."""
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
    std = (sq - mean**2).clamp_min(0).add(1e-5).sqrt()
    return std.view(b, c, hh, ww) * mvn_ref(zc) + mean.view(b, c, hh, ww)


@pytest.mark.parametrize("chunk", [None, 4])
def test_block_matches_naive_mean_std_attention(chunk: int | None) -> None:
    torch.manual_seed(0)
    block = AdaAttNBlock(4, 6, query_chunk_size=chunk)
    zc, zs = torch.randn(2, 4, 3, 5).relu(), torch.randn(2, 4, 4, 3).relu()
    key_c, key_s = torch.randn(2, 6, 3, 5), torch.randn(2, 6, 4, 3)
    out = block(zc, zs, key_c, key_s)
    torch.testing.assert_close(out.double(), naive_adaattn_block(block, zc, zs, key_c, key_s), rtol=1e-4, atol=1e-4)


def test_style_token_cap_in_eval_takes_evenly_spaced_positions() -> None:
    torch.manual_seed(0)
    block = AdaAttNBlock(4, 6, max_style_tokens=5).eval()
    zc, zs = torch.randn(1, 4, 3, 3).relu(), torch.randn(1, 4, 4, 4).relu()
    key_c, key_s = torch.randn(1, 6, 3, 3), torch.randn(1, 6, 4, 4)
    keep = torch.linspace(0, 15, 5).round().long().tolist()
    expected = naive_adaattn_block(block, zc, zs, key_c, key_s, keep=keep)
    torch.testing.assert_close(block(zc, zs, key_c, key_s).double(), expected, rtol=1e-4, atol=1e-4)


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
    expected = torch.cat([mvn_ref(feats[n][:, :, ::s, ::s]) for n, s in factors.items()], dim=1)
    torch.testing.assert_close(key.double(), expected, rtol=1e-5, atol=1e-5)
    assert key_channels("relu5_1", True) == 1472 and key_channels("relu4_1", False) == 512
    torch.testing.assert_close(attention_key(feats, "relu4_1", shallow=False).double(), mvn_ref(feats["relu4_1"]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "layers", "stride"),
    [
        ({}, ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"), 16),
        ({"use_relu5_1": False}, ("relu1_1", "relu2_1", "relu3_1", "relu4_1"), 8),
        ({"shallow_keys": False}, ("relu4_1", "relu5_1"), 16),
    ],
)
def test_layers_and_stride_follow_the_arguments(kwargs: dict, layers: tuple, stride: int) -> None:
    net = AdaAttN(encoder_weights="random", **kwargs)
    assert tuple(net.feature_layers) == layers and net.stride == stride
    size = 2 * stride
    out = net(torch.rand(1, 3, size, 2 * size), torch.rand(1, 3, size, size))
    assert out.shape == (1, 3, size, 2 * size) and torch.isfinite(out).all()


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"query_chunk_size": 0}, "query_chunk_size"), ({"max_style_tokens": -1}, "max_style_tokens")],
)
def test_bad_arguments_fail_at_construction(kwargs: dict, argument: str) -> None:
    with pytest.raises(ConfigError, match=argument):
        AdaAttN(encoder_weights="random", **kwargs)
