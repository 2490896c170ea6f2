"""VGG options for the peers' conventions (padding mode, ceil-mode pools) and the two variance
conventions of nn.functional, against naive references written here."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from stylekernel.errors import ConfigError
from stylekernel.nn.encoder import VGGEncoder
from stylekernel.nn.functional import adain, mean_std, mvn


@pytest.mark.parametrize("unbiased", [False, True])
def test_mean_std_conventions(unbiased: bool) -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 7, dtype=torch.float64) * 2 + 1
    mean, std = mean_std(x, unbiased=unbiased)
    n = 35
    ref_mean = x.sum(dim=(2, 3), keepdim=True) / n
    ref_var = ((x - ref_mean) ** 2).sum(dim=(2, 3), keepdim=True) / (n - 1 if unbiased else n)
    assert mean.dtype == torch.float64  # float64 is not narrowed
    torch.testing.assert_close(mean, ref_mean, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(std, (ref_var + 1e-5).sqrt(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(mvn(x, unbiased=unbiased), (x - ref_mean) / (ref_var + 1e-5).sqrt(), rtol=1e-12, atol=1e-12)
    s = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    sm, ss = mean_std(s, unbiased=unbiased)
    torch.testing.assert_close(adain(x, s, unbiased=unbiased), mvn(x, unbiased=unbiased) * ss + sm)
    assert mean_std(x.half())[1].dtype == torch.float32  # low precision is widened


def test_defaults_are_unchanged() -> None:
    enc = VGGEncoder("random")
    assert enc.padding_mode == "zeros" and not enc.ceil_mode
    assert all(not m.ceil_mode for m in enc.layers.values() if isinstance(m, torch.nn.MaxPool2d))


def test_reflect_padding_and_ceil_mode_match_a_naive_vgg() -> None:
    torch.manual_seed(0)
    enc = VGGEncoder("random", last_layer="relu3_1", padding_mode="reflect", ceil_mode=True).double()
    x = torch.rand(1, 3, 21, 18, dtype=torch.float64)
    h = (x - enc.mean.double()) / enc.std.double()
    for name, layer in enc.layers.items():
        if name.startswith("conv"):
            h = F.conv2d(F.pad(h, (1, 1, 1, 1), mode="reflect"), layer.weight, layer.bias)
        elif name.startswith("relu"):
            h = h.relu()
        else:
            h = F.max_pool2d(h, 2, 2, ceil_mode=True)
    out = enc(x, ["relu3_1"])["relu3_1"]
    assert out.shape[-2:] == (6, 5)  # 21 -> 11 -> 6, 18 -> 9 -> 5 (floor: 5 x 4)
    torch.testing.assert_close(out, h, rtol=1e-10, atol=1e-10)


def test_bad_padding_mode() -> None:
    with pytest.raises(ConfigError, match="padding_mode"):
        VGGEncoder("random", padding_mode="circular")
