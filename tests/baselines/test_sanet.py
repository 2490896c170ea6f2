"""SANet: the style-attentional block and the two-level transform against naive loops."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from stylekernel.baselines.sanet import SANet, SANetBlock
from stylekernel.errors import ConfigError

from ._reference import attention_rows, conv1x1_ref, mvn_ref


def naive_sanet_block(block: SANetBlock, zc: torch.Tensor, zs: torch.Tensor) -> torch.Tensor:
    """out_conv(sum_j softmax_j(f_i . g_j) h_j) + zc, one content position at a time (float64)."""
    f = conv1x1_ref(block.f, mvn_ref(zc, unbiased=block.unbiased_std))
    g = conv1x1_ref(block.g, mvn_ref(zs, unbiased=block.unbiased_std))
    h = conv1x1_ref(block.h, zs).flatten(2)
    b, c, hh, ww = zc.shape
    scale = 1.0 / math.sqrt(c) if block.scaled else 1.0
    rows = attention_rows(f, g, scale)
    o = torch.zeros(b, c, hh * ww, dtype=torch.float64)
    for n in range(b):
        for i, weights in enumerate(rows[n]):
            for j, a in enumerate(weights):
                o[n, :, i] += a * h[n, :, j]
    return conv1x1_ref(block.out_conv, o.view(b, c, hh, ww)) + zc.double()


@pytest.mark.parametrize("scaled", [False, True])
@pytest.mark.parametrize("chunk", [None, 4])
def test_block_matches_naive_attention(scaled: bool, chunk: int | None) -> None:
    torch.manual_seed(0)
    block = SANetBlock(6, scaled=scaled, query_chunk_size=chunk)
    zc, zs = torch.randn(2, 6, 3, 5).relu(), torch.randn(2, 6, 4, 3).relu() * 2.0
    out = block(zc, zs)
    torch.testing.assert_close(out.double(), naive_sanet_block(block, zc, zs), rtol=1e-4, atol=1e-5)


def test_transform_is_merged_two_level_attention() -> None:
    torch.manual_seed(0)
    net = SANet(encoder_weights="random", query_chunk_size=7)
    assert net.stride == 16 and net.feature_layers == ("relu4_1", "relu5_1")
    c4, s4 = torch.randn(1, 512, 4, 6).relu(), torch.randn(1, 512, 2, 4).relu()
    c5, s5 = torch.randn(1, 512, 2, 3).relu(), torch.randn(1, 512, 1, 2).relu()
    out = net.transform({"relu4_1": c4, "relu5_1": c5}, {"relu4_1": s4, "relu5_1": s5})
    z4 = naive_sanet_block(net.sanet4_1, c4, s4)
    z5 = naive_sanet_block(net.sanet5_1, c5, s5).repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    conv = net.merge[1]
    expected = F.conv2d(F.pad(z4 + z5, (1, 1, 1, 1), mode="reflect"), conv.weight.double(), conv.bias.double())
    torch.testing.assert_close(out.double(), expected, rtol=1e-4, atol=1e-4)


def test_style_token_cap_is_deterministic_in_eval() -> None:
    torch.manual_seed(0)
    block = SANetBlock(6, max_style_tokens=5).eval()
    zc, zs = torch.randn(1, 6, 3, 3), torch.randn(1, 6, 4, 4)
    torch.testing.assert_close(block(zc, zs), block(zc, zs))


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"query_chunk_size": 0}, "query_chunk_size"), ({"max_style_tokens": 0}, "max_style_tokens")],
)
def test_bad_arguments_fail_at_construction(kwargs: dict, argument: str) -> None:
    with pytest.raises(ConfigError, match=argument):
        SANet(encoder_weights="random", **kwargs)
