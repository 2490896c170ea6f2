"""AdaConv: the batch-folded grouped convolution against a per-sample loop, and the transform."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from stylekernel.baselines.adaconv import AdaConvNet, GlobalStyleEncoder, batched_group_conv2d
from stylekernel.errors import ConfigError


def per_sample_conv(x, weight, bias, groups: int, mode: str = "reflect") -> torch.Tensor:
    """The reference: one F.conv2d per sample with that sample's kernels."""
    outs = []
    for i in range(len(x)):
        k = weight.shape[-1] // 2
        xi = F.pad(x[i : i + 1], (k, k, k, k), mode=mode) if k and mode != "zeros" else F.pad(x[i : i + 1], (k, k, k, k))
        outs.append(F.conv2d(xi, weight[i], None if bias is None else bias[i], groups=groups))
    return torch.cat(outs)


@pytest.mark.parametrize("groups", [1, 2, 8])
@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("with_bias", [False, True])
def test_batched_group_conv_matches_per_sample_loop(groups: int, k: int, with_bias: bool) -> None:
    torch.manual_seed(0)
    b, c_in, c_out = 3, 8, 16
    x = torch.randn(b, c_in, 6, 7)
    weight = torch.randn(b, c_out, c_in // groups, k, k)
    bias = torch.randn(b, c_out) if with_bias else None
    out = batched_group_conv2d(x, weight, bias, groups=groups, padding_mode="reflect")
    torch.testing.assert_close(out, per_sample_conv(x, weight, bias, groups), rtol=1e-5, atol=1e-5)
    zeros = batched_group_conv2d(x, weight, bias, groups=groups, padding_mode="zeros")
    torch.testing.assert_close(zeros, per_sample_conv(x, weight, bias, groups, mode="zeros"), rtol=1e-5, atol=1e-5)


def test_batched_group_conv_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError):
        batched_group_conv2d(torch.randn(2, 8, 4, 4), torch.randn(2, 8, 3, 3, 3), groups=2)


@pytest.mark.parametrize("groups", [512, 128])
def test_transform_applies_each_styles_kernels_to_normalised_content(groups: int) -> None:
    torch.manual_seed(0)
    net = AdaConvNet(encoder_weights="random", groups=groups)
    zc, zs = torch.randn(2, 512, 4, 6).relu(), torch.randn(2, 512, 5, 3).relu()
    out = net.transform({"relu4_1": zc}, {"relu4_1": zs})
    spatial, pointwise, bias = net.kernel_predictor(net.style_encoder(zs))
    assert spatial.shape == (2, 512, 512 // groups, 3, 3)
    assert pointwise.shape == (2, 512, 512 // groups, 1, 1) and bias.shape == (2, 512)
    mean = zc.mean(dim=(2, 3), keepdim=True)
    x = (zc - mean) / (zc.var(dim=(2, 3), keepdim=True, unbiased=False) + 1e-5).sqrt()
    expected = per_sample_conv(per_sample_conv(x, spatial, None, groups), pointwise, bias, groups)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("size", [(1, 1), (3, 7), (32, 32), (40, 24)])
def test_style_encoder_accepts_any_style_size(size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    enc = GlobalStyleEncoder(in_channels=8, style_channels=6, kernel_size=3, grid_size=4)
    w = enc(torch.randn(2, 8, *size))
    assert w.shape == (2, 6, 3, 3) and torch.isfinite(w).all()


def test_style_encoder_is_the_paper_encoder_for_256px_styles() -> None:
    """At relu4_1 32x32 (a 256 px style) the adaptive pool is the identity: 32 -> 16 -> 8 -> 4."""
    torch.manual_seed(0)
    enc = GlobalStyleEncoder(in_channels=4, style_channels=2, kernel_size=3, grid_size=4)
    x = torch.randn(1, 4, 32, 32)
    h = x
    for conv in enc.convs:
        h = F.avg_pool2d(F.leaky_relu(conv(F.pad(h, (1, 1, 1, 1), mode="reflect")), 0.01), 2)
    expected = enc.fc(h.flatten(1)).view(1, 2, 3, 3)
    torch.testing.assert_close(enc(x), expected)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"groups": 3}, "groups"),
        ({"kernel_size": 2}, "kernel_size"),
        ({"style_channels": 0}, "style_channels"),
        ({"style_grid": 0}, "style_grid"),
        ({"padding_mode": "circular"}, "padding_mode"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs: dict, argument: str) -> None:
    with pytest.raises(ConfigError, match=argument):
        AdaConvNet(encoder_weights="random", **kwargs)
