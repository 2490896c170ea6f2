"""VGG encoder: frozen, always eval, and its real loading code reading fake files from a cache."""

from __future__ import annotations

import logging

import pytest
import torch
import torchvision

from stylekernel import weights
from stylekernel.errors import ConfigError, WeightsNotFoundError
from stylekernel.nn.encoder import _TORCHVISION_INDEX, _VGG_NORMALISED_INDEX, VGGEncoder


def _fake_torchvision_vgg19(path) -> dict:
    torch.manual_seed(1)
    state = torchvision.models.vgg19(weights=None).state_dict()
    torch.save(state, path)
    return state


def _fake_vgg_normalised(path) -> dict:
    torch.manual_seed(2)
    chans = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256)] + [(256, 256)] * 3 + [(256, 512)] + [(512, 512)] * 4
    state = {"0.weight": torch.randn(3, 3, 1, 1), "0.bias": torch.randn(3)}
    for (cin, cout), i in zip(chans, _VGG_NORMALISED_INDEX):
        state[f"{i}.weight"] = torch.randn(cout, cin, 3, 3) * 0.05
        state[f"{i}.bias"] = torch.randn(cout) * 0.01
    torch.save(state, path)
    return state


def test_frozen_and_always_eval() -> None:
    enc = VGGEncoder("random")
    assert not any(p.requires_grad for p in enc.parameters())
    wrapper = torch.nn.Sequential(enc)
    wrapper.train()
    assert not enc.training
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    enc(x, ["relu3_1"])["relu3_1"].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # gradients flow to the input


def test_feature_shapes_and_early_stop() -> None:
    enc = VGGEncoder("random")
    out = enc(torch.rand(2, 3, 48, 40), ["relu2_1", "relu4_1"])
    assert set(out) == {"relu2_1", "relu4_1"}
    assert out["relu2_1"].shape == (2, 128, 24, 20) and out["relu4_1"].shape == (2, 512, 6, 5)


def test_in_place_relu_keeps_values_grads_and_captured_conv_outputs() -> None:
    """The ReLUs rectify in place: the same features and input gradients as an out-of-place
    network written here, and a convolution output that was asked for is not rectified."""
    torch.manual_seed(0)
    enc = VGGEncoder("random", last_layer="relu3_1").double()
    x = torch.rand(2, 3, 20, 24, dtype=torch.float64, requires_grad=True)
    want = ("conv1_1", "relu1_1", "conv2_2", "relu3_1")
    got = enc(x, want)
    ref, h = {}, (x - enc.mean.double()) / enc.std.double()
    for name, layer in enc.layers.items():
        h = torch.relu(h) if name.startswith("relu") else layer(h)  # out of place
        if name in want:
            ref[name] = h
    for name in want:
        assert torch.equal(got[name], ref[name]), name
    assert (got["conv1_1"] < 0).any() and (got["conv2_2"] < 0).any()  # not overwritten by their ReLU
    (g,) = torch.autograd.grad(sum(v.square().sum() for v in got.values()), x)
    (g_ref,) = torch.autograd.grad(sum(v.square().sum() for v in ref.values()), x)
    torch.testing.assert_close(g, g_ref, rtol=1e-12, atol=1e-12)


def test_loads_torchvision_file_from_cache(weights_cache) -> None:
    state = _fake_torchvision_vgg19(weights_cache / "vgg19-dcbb9e9d.pth")
    enc = VGGEncoder("torchvision")
    assert enc.source == "torchvision"
    for name, idx in [("conv1_1", 0), ("conv3_2", 12), ("conv5_1", 28)]:
        assert torch.equal(enc.layers[name].weight, state[f"features.{idx}.weight"])
    # the same result as torchvision's own network with ImageNet normalisation, up to relu4_1
    tv = torchvision.models.vgg19(weights=None)
    tv.load_state_dict(state)
    x = torch.rand(1, 3, 32, 32)
    ref = tv.features[:21]((x - enc.mean) / enc.std)
    torch.testing.assert_close(enc(x, ["relu4_1"])["relu4_1"], ref)
    assert _TORCHVISION_INDEX[8] == 19


def test_loads_vgg_normalised_by_name_and_by_path(weights_cache) -> None:
    path = weights_cache / "vgg_normalised.pth"
    state = _fake_vgg_normalised(path)
    for source in ("vgg_normalised", str(path)):
        enc = VGGEncoder(source)
        assert enc.source == "vgg_normalised"
        assert torch.equal(enc.preprocess.weight, state["0.weight"])
        assert torch.equal(enc.layers["conv4_1"].weight, state["29.weight"])
        assert enc.layers["conv1_1"].padding_mode == "reflect"


def test_missing_file_offline_is_one_clear_error(weights_cache) -> None:
    with pytest.raises(WeightsNotFoundError) as info:
        VGGEncoder("torchvision")
    msg = str(info.value)
    assert "stylekernel weights download vgg19" in msg and weights.REGISTRY["vgg19"].url in msg
    assert "\n" not in msg


def test_random_and_auto_fallback_warn_loudly(weights_cache, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        enc = VGGEncoder("auto")
    assert enc.source == "random"
    assert "RANDOM" in caplog.text


def test_bad_source_names_the_argument(tmp_path) -> None:
    with pytest.raises(ConfigError, match="weights"):
        VGGEncoder("imagenet-ish")
    junk = tmp_path / "junk.pth"
    torch.save({"foo": torch.zeros(1)}, junk)
    with pytest.raises(ConfigError, match="neither"):
        VGGEncoder(str(junk))
