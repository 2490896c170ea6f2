"""StyleKernelNet: construction errors, shapes, every option, and config round trip."""

from __future__ import annotations

import pytest
import torch

from stylekernel.errors import ConfigError
from stylekernel.nn.base import StyleTransferNet
from stylekernel.nn.kernels import StyleKernelGenerator
from stylekernel.nn.style_kernel_net import StyleKernelNet


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"kernel_size": -3}, "kernel_size"),
        ({"kernel_size": 4}, "kernel_size"),
        ({"groups": 48}, "groups"),
        ({"gate": "maybe"}, "gate"),
        ({"gate_temperature": -1.0}, "gate_temperature"),
        ({"kernel_norm": "l2"}, "kernel_norm"),
        ({"alignment": "global"}, "alignment"),
        ({"max_style_tokens": 0}, "max_style_tokens"),
        ({"query_chunk_size": 0}, "query_chunk_size"),
        ({"dynamic_padding": "circular"}, "padding_mode"),
    ],
)
def test_bad_config_fails_at_construction_naming_the_argument(kwargs: dict, word: str) -> None:
    with pytest.raises(ConfigError, match=word):
        StyleKernelNet(encoder_weights="random", **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"gate": "hard", "kernel_norm": "softmax", "kernel_size": 5, "groups": 16},
        {"gate": "none", "alignment": "plain", "group_shuffle": False, "kernel_size": 1, "groups": 128},
        {"use_relu5_1": True, "normalize_content": False, "dynamic_padding": "reflect", "max_style_tokens": 8},
    ],
)
def test_forward_backward_shapes(kwargs: dict) -> None:
    torch.manual_seed(0)
    net = StyleKernelNet(encoder_weights="random", **kwargs)
    content, style = torch.rand(2, 3, 32, 48), torch.rand(2, 3, 48, 32)
    out = net(content, style)
    assert out.shape == content.shape and torch.isfinite(out).all()
    out.square().mean().backward()
    assert all(p.grad is None for p in net.encoder.parameters())
    grads = [p.grad for p in net.trainable_parameters()]
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0


def test_alpha_zero_decodes_the_content_features() -> None:
    torch.manual_seed(0)
    net = StyleKernelNet(encoder_weights="random").eval()
    c, s = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        expected = net.decode(net.encode(c)["relu4_1"])
        torch.testing.assert_close(net(c, s, alpha=0.0), expected)


def test_init_config_round_trip_gives_identical_outputs() -> None:
    torch.manual_seed(0)
    net = StyleKernelNet(encoder_weights="random", groups=32, gate="hard").eval()
    cfg = net.init_config()
    assert cfg["class_path"] == "stylekernel.nn.style_kernel_net.StyleKernelNet"
    assert cfg["init_args"]["groups"] == 32 and cfg["init_args"]["gate"] == "hard"
    twin = StyleTransferNet.from_config(cfg).eval()
    twin.load_state_dict(net.state_dict())
    c, s = torch.rand(1, 3, 16, 24), torch.rand(1, 3, 24, 16)
    with torch.no_grad():
        torch.testing.assert_close(twin(c, s), net(c, s))


def test_kernel_generator_shapes_and_softmax_norm() -> None:
    gen = StyleKernelGenerator(channels=16, groups=4, kernel_size=5, hidden_channels=8, kernel_norm="softmax")
    k, b = gen(torch.randn(2, 16, 6, 7))
    assert k.shape == (2, 4, 25, 6, 7) and b.shape == (2, 16, 6, 7)
    torch.testing.assert_close(k.sum(dim=2), torch.ones(2, 4, 6, 7))
    assert bool((k[:, :, 12] > k[:, :, 0]).float().mean() > 0.9)  # centre-heavy start
