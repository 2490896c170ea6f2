"""AdaIN: the transform puts the style's channel statistics on the normalised content."""

from __future__ import annotations

import torch

from stylekernel.baselines.adain import AdaINNet

from ._reference import mvn_ref


def test_output_statistics_equal_the_style_statistics() -> None:
    torch.manual_seed(0)
    net = AdaINNet(encoder_weights="random")
    content = torch.randn(2, 512, 6, 10) * 3.0 + 1.0
    style = torch.randn(2, 512, 5, 7) * torch.rand(1, 512, 1, 1) * 4.0 - 0.5
    out = net.transform({"relu4_1": content}, {"relu4_1": style}).double()
    assert out.shape == content.shape

    s = style.double()
    s_mean = s.mean(dim=(2, 3))
    s_std = ((s - s_mean[..., None, None]) ** 2).mean(dim=(2, 3)).add(1e-5).sqrt()
    o_mean = out.mean(dim=(2, 3))
    o_std = ((out - o_mean[..., None, None]) ** 2).mean(dim=(2, 3)).sqrt()
    torch.testing.assert_close(o_mean, s_mean, rtol=1e-5, atol=1e-5)
    # mvn divides by sqrt(var + eps), so the output std is s_std * sqrt(var_c / (var_c + eps))
    torch.testing.assert_close(o_std, s_std, rtol=1e-5, atol=1e-5)
    # and elementwise: mvn(content) * sigma(style) + mu(style)
    expected = mvn_ref(content) * s_std[..., None, None] + s_mean[..., None, None]
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-4)


def test_only_the_decoder_trains() -> None:
    net = AdaINNet(encoder_weights="random")
    assert net.parameter_count() == sum(p.numel() for p in net.decoder.parameters())
