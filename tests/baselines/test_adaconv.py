"""AdaConv: the batch-folded grouped convolution against a per-sample loop, and the transform."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from stylekernel.baselines.adaconv import AdaConv2d, AdaConvNet, GlobalStyleEncoder, KernelPredictor, batched_group_conv2d
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


def test_adaconv_block_applies_each_styles_kernels_to_instance_normalised_input() -> None:
    """AdaConv2d: instance norm (biased var + eps), predicted k x k then 1x1 + bias, static 3x3."""
    torch.manual_seed(0)
    kp, block = KernelPredictor(16, 4, style_channels=6, kernel_size=3), AdaConv2d(16, 8, groups=4)
    x, w = torch.randn(2, 16, 5, 7).relu(), torch.randn(2, 6, 3, 3)
    spatial, pointwise, bias = kp(w)
    assert spatial.shape == (2, 16, 4, 3, 3) and pointwise.shape == (2, 16, 4, 1, 1) and bias.shape == (2, 16)
    mean = x.mean(dim=(2, 3), keepdim=True)
    xn = (x - mean) / (x.var(dim=(2, 3), keepdim=True, unbiased=False) + 1e-5).sqrt()
    y = per_sample_conv(per_sample_conv(xn, spatial, None, 4), pointwise, bias, 4)
    expected = F.conv2d(F.pad(y, (1, 1, 1, 1), mode="reflect"), block.conv.weight, block.conv.bias)
    torch.testing.assert_close(block(x, spatial, pointwise, bias), expected, rtol=1e-4, atol=1e-5)


def test_decoder_has_four_kernel_predicted_stages_with_the_peers_groups() -> None:
    net = AdaConvNet(encoder_weights="random")
    predictors = [m for m in net.decoder.layers if isinstance(m, KernelPredictor)]
    assert [(p.channels, p.groups) for p in predictors] == [(512, 512), (256, 128), (128, 32), (64, 8)]
    z = torch.randn(1, 512, 3, 4)
    with torch.no_grad():
        net.transform({"relu4_1": z}, {"relu4_1": torch.randn(1, 512, 4, 4)})
        assert net.decode(z).shape == (1, 3, 24, 32)


def test_decode_is_conditioned_on_one_style() -> None:
    net = AdaConvNet(encoder_weights="random")
    z = torch.randn(1, 512, 2, 2)
    with pytest.raises(ConfigError, match="transform"):
        net.decode(z)
    with torch.no_grad():
        a = torch.randn(1, 512, 4, 4)
        net.transform({"relu4_1": z}, {"relu4_1": a})
        net.transform({"relu4_1": z}, {"relu4_1": a * 2})
        with pytest.raises(ConfigError, match="one style"):
            net.decode(z)
        net.transform({"relu4_1": z}, {"relu4_1": a})
        first = net.decode(z)
        torch.testing.assert_close(net.decode(z), first)  # decoding again (e.g. in tiles) reuses the style


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
        h = F.avg_pool2d(F.leaky_relu(F.conv2d(F.pad(h, (1, 1, 1, 1), mode="reflect"), conv.weight, conv.bias), 0.01), 2)
    expected = enc.fc(h.flatten(1)).view(1, 2, 3, 3)
    torch.testing.assert_close(enc(x), expected)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"groups": [512, 128, 32]}, "groups"),
        ({"groups": [512, 3, 32, 8]}, "groups"),
        ({"encoder_last_layer": "relu3_1"}, "encoder_last_layer"),
        ({"kernel_size": 2}, "kernel_size"),
        ({"style_channels": 0}, "style_channels"),
        ({"style_grid": 0}, "style_grid"),
        ({"encoder_padding": "circular"}, "padding_mode"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs: dict, argument: str) -> None:
    with pytest.raises(ConfigError, match=argument):
        AdaConvNet(encoder_weights="random", **kwargs)


def test_stylizer_runs_adaconv_with_one_style_and_refuses_blends() -> None:
    """Through the inference engine: one style gives the network's own output; a blend of two
    styles is a one-line ConfigError (the decoder is conditioned on one style)."""
    from stylekernel.inference import Stylizer

    torch.manual_seed(0)
    net = AdaConvNet(encoder_weights="random").eval()
    stylizer = Stylizer(net, style_size=None, tile_size=None)
    content, style = torch.rand(1, 3, 32, 40), torch.rand(1, 3, 32, 32)
    out = stylizer.stylize_tensor(content, [style])
    with torch.no_grad():
        expected = net(content, style).clamp(0, 1)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ConfigError, match="one style"):
        stylizer.stylize_tensor(content, [style, style.flip(-1)])


def test_alpha_other_than_1_is_refused_in_one_line_naming_adaconv(tmp_path) -> None:
    """The peer has no alpha for AdaConv and the suite's feature-space blend would blend the
    content with itself (before the fix, alpha 0.5 gave alpha 1's image): refused everywhere,
    before any work; alpha 1 still runs. The other networks keep alpha."""
    from stylekernel import __version__, stylize_cli
    from stylekernel.baselines.adain import AdaINNet
    from stylekernel.inference import Stylizer

    torch.manual_seed(0)
    net = AdaConvNet(encoder_weights="random").eval()
    content, style = torch.rand(1, 3, 32, 40), torch.rand(1, 3, 32, 32)
    stylizer = Stylizer(net, style_size=None, tile_size=None)
    for call in (
        lambda: stylizer.stylize_tensor(content, [style], alpha=0.5),
        lambda: stylizer.stylize(content, style, alpha=0.5),
        lambda: net(content, style, alpha=0.0),
    ):
        with pytest.raises(ConfigError, match="AdaConv") as info:
            call()
        assert "\n" not in str(info.value) and "alpha" in str(info.value)
    assert stylizer.stylize_tensor(content, [style], alpha=1.0).shape == (1, 3, 32, 40)
    AdaINNet(encoder_weights="random").check_alpha(0.5)  # a blend that means something: allowed

    # the CLI: exit 2, one error line, nothing written
    ckpt = tmp_path / "adaconv.ckpt"
    record = {"version": __version__, "net": net.init_config(), "encoder_source": "random"}
    torch.save({"state_dict": {f"net.{k}": v for k, v in net.state_dict().items()}, "stylekernel": record}, ckpt)
    from PIL import Image

    Image.new("RGB", (40, 32), (120, 60, 30)).save(tmp_path / "c.png")
    Image.new("RGB", (32, 32), (10, 200, 30)).save(tmp_path / "s.png")
    out = tmp_path / "out.png"
    args = ["--checkpoint", str(ckpt), "--content", str(tmp_path / "c.png"), "--style", str(tmp_path / "s.png"), "--output", str(out)]
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = stylize_cli.main([*args, "--alpha", "0.5"])
    lines = [line for line in err.getvalue().splitlines() if "error" in line]
    assert code == 2 and not out.exists(), err.getvalue()
    assert len(lines) == 1 and "AdaConv" in lines[0] and "Traceback" not in err.getvalue()
