"""Every registered network (ours and each baseline): shapes, gradients, config round trip and a
few optimisation steps. A model is tested here the moment its file says ``@register_model``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from stylekernel.baselines import registry
from stylekernel.baselines.adain import AdaINNet
from stylekernel.baselines.registry import MODELS, build, register_model
from stylekernel.errors import ConfigError
from stylekernel.module import StyleTransferModule
from stylekernel.nn.base import StyleTransferNet

NAMES = sorted(MODELS)


class _LazyNets(dict):
    """name -> network (random encoder), built on first use."""

    def __missing__(self, name: str) -> StyleTransferNet:
        torch.manual_seed(0)
        self[name] = build(name, encoder_weights="random")
        return self[name]


@pytest.fixture(scope="module")
def nets() -> dict[str, StyleTransferNet]:
    """One network per registry entry, shared by the tests of this module."""
    return _LazyNets()


def _sizes(net: StyleTransferNet) -> tuple[tuple[int, int], tuple[int, int]]:
    """Content 48x80 and a style of another aspect, both multiples of the net's stride."""
    s = net.stride
    assert 48 % s == 0 and 80 % s == 0, "test sizes must be multiples of every model's stride"
    return (48, 80), (4 * s, 2 * s)


def test_registry_lists_every_model() -> None:
    assert set(NAMES) == {"stylekernel", "adain", "sanet", "adaattn", "adaconv", "stytr2"}
    for cls in MODELS.values():
        assert isinstance(cls, type) and issubclass(cls, StyleTransferNet)


def test_build_rejects_unknown_names() -> None:
    with pytest.raises(ConfigError, match="model"):
        build("nope")


def test_importing_the_registry_imports_no_model_and_the_accessor_registers_every_builtin() -> None:
    code = (
        "import sys\n"
        "from stylekernel.baselines import registry\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('stylekernel.baselines.', 'stylekernel.nn.style')))\n"
        "print(loaded)\n"
        "print(list(registry.MODELS))\n"
        "from stylekernel.nn.base import registered_networks\n"
        "print(sorted(registered_networks()))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    loaded, names, class_paths = res.stdout.strip().splitlines()
    assert loaded == "['stylekernel.baselines.registry']"  # no model module imported by the import
    # ours first, then the baselines by module name: the paper table's column order
    assert names == "['stylekernel', 'adaattn', 'adaconv', 'adain', 'sanet', 'stytr2']"
    assert class_paths == str(sorted(f"{c.__module__}.{c.__qualname__}" for c in MODELS.values()))


def test_a_registered_model_is_built_listed_and_loadable_from_its_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # undone after the test

    @register_model("tiny_adain")
    class TinyAdaIN(AdaINNet):
        """AdaIN under another name: stands for a model added by a user's package."""

    assert list(registry.models())[-1] == "tiny_adain"  # after every built-in model
    assert list(registry.models())[:-1] == list(MODELS)
    torch.manual_seed(0)
    net = build("tiny_adain", encoder_weights="random")
    assert type(net) is TinyAdaIN
    record = net.init_config()
    assert StyleTransferNet.from_config(record).__class__ is TinyAdaIN  # the checkpoint allow-list has it
    monkeypatch.setattr(registry, "_REGISTRY", {k: v for k, v in registry._REGISTRY.items() if k != "tiny_adain"})
    with pytest.raises(ConfigError, match="not a registered network"):
        StyleTransferNet.from_config(record)


def test_register_model_refuses_a_taken_name_and_non_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    registry.models()

    class OtherAdaIN(AdaINNet):
        pass

    with pytest.raises(ValueError, match="'adain' is already registered by stylekernel.baselines.adain.AdaINNet"):
        register_model("adain")(OtherAdaIN)
    assert registry.models()["adain"] is AdaINNet
    assert register_model("adain")(AdaINNet) is AdaINNet  # the same class again (a module reload): accepted
    with pytest.raises(TypeError, match="StyleTransferNet subclasses"):
        register_model("module")(torch.nn.Linear)
    for bad in ("", " adain"):
        with pytest.raises(ValueError, match="non-empty name"):
            register_model(bad)


@pytest.mark.parametrize("name", NAMES)
def test_forward_backward(name: str, nets: dict[str, StyleTransferNet]) -> None:
    net = nets[name]
    net.train()
    net.zero_grad(set_to_none=True)
    (hc, wc), (hs, ws) = _sizes(net)
    torch.manual_seed(1)
    content, style = torch.rand(2, 3, hc, wc), torch.rand(2, 3, hs, ws)
    out = net(content, style)
    assert out.shape == content.shape
    assert torch.isfinite(out).all()
    (out * torch.randn_like(out)).mean().backward()

    trainable = {n: p for n, p in net.named_parameters() if p.requires_grad}
    assert trainable, "a network must have trainable parameters"
    for n, p in trainable.items():
        assert p.grad is not None, f"{name}: no gradient reaches {n}"
        assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient in {n}"
    no_signal = [n for n, p in trainable.items() if p.grad.abs().sum() == 0]  # type: ignore[union-attr]
    assert not no_signal, f"{name}: zero gradient in {no_signal}"
    for n, p in net.encoder.named_parameters():
        assert not p.requires_grad and p.grad is None, f"{name}: the frozen encoder got a gradient in {n}"
    assert not net.encoder.training, "the encoder must stay in eval mode"
    assert net.parameter_count() == sum(p.numel() for p in trainable.values())
    assert net.parameter_count(trainable_only=False) > net.parameter_count()
    net.zero_grad(set_to_none=True)


@pytest.mark.parametrize("name", NAMES)
def test_alpha_zero_and_batch_independence(name: str, nets: dict[str, StyleTransferNet]) -> None:
    """Samples do not interact (per-sample kernels/statistics), and alpha blends in feature space."""
    net = nets[name].eval()
    (hc, wc), (hs, ws) = _sizes(net)
    torch.manual_seed(2)
    content, style = torch.rand(2, 3, hc, wc), torch.rand(2, 3, hs, ws)
    with torch.no_grad():
        both = net(content, style)
        second = net(content[1:], style[1:])
        torch.testing.assert_close(both[1:], second, rtol=1e-4, atol=1e-4)
        try:
            net.check_alpha(0.0)
        except ConfigError:  # a network without a feature-space trade-off (AdaConv) refuses alpha
            with pytest.raises(ConfigError, match="alpha"):
                net(content, style, alpha=0.0)
            return
        recon = net(content, style, alpha=0.0)
        torch.testing.assert_close(recon, net.decode(net.content_code(net.encode(content))), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_init_config_round_trip(name: str, nets: dict[str, StyleTransferNet]) -> None:
    net = nets[name].eval()
    config = net.init_config()
    assert json.loads(json.dumps(config)) == config, "constructor arguments must be plain types"
    rebuilt = StyleTransferNet.from_config(config)
    assert type(rebuilt) is type(net)
    rebuilt.load_state_dict(net.state_dict())
    rebuilt.eval()
    (hc, wc), (hs, ws) = _sizes(net)
    torch.manual_seed(3)
    content, style = torch.rand(1, 3, hc, wc), torch.rand(1, 3, hs, ws)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(content, style), net(content, style), rtol=0, atol=1e-6)
    assert rebuilt.feature_layers == net.feature_layers and rebuilt.stride == net.stride


@pytest.mark.parametrize("name", NAMES)
def test_adam_steps_lower_the_training_loss(name: str) -> None:
    """Three Adam steps through StyleTransferModule.compute_losses lower the loss on a fixed batch."""
    torch.manual_seed(0)
    net = build(name, encoder_weights="random")
    module = StyleTransferModule(net, lr_scheduler=None)  # a constant lr
    module.train()
    optimizer = module.configure_optimizers()["optimizer"]
    size = max(32, 2 * net.stride)
    content, style = torch.rand(2, 3, size, size), torch.rand(2, 3, size, size)
    losses = []
    for _ in range(3):
        terms, output = module.compute_losses(content, style)
        assert output.shape == content.shape
        assert all(torch.isfinite(v) for v in terms.values()), terms
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizer.step()
        losses.append(terms["loss"].item())
    with torch.no_grad():
        losses.append(module.compute_losses(content, style)[0]["loss"].item())
    assert losses[-1] < losses[0], f"{name}: loss did not decrease: {losses}"


@pytest.mark.parametrize("name", NAMES)
def test_forward_under_bf16_autocast(name: str, nets: dict[str, StyleTransferNet]) -> None:
    """Mixed precision: no dtype clashes between float32 statistics and bf16 convolutions."""
    net = nets[name].eval()
    s = net.stride
    content, style = torch.rand(1, 3, 2 * s, 3 * s), torch.rand(1, 3, 3 * s, 2 * s)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(content, style)
    assert out.shape == content.shape and torch.isfinite(out.float()).all()
