"""StyleTransferModule's loss options for the peers' recipes (raw-feature content loss, AdaIN's
transformed target, unbiased std, std eps), checked against the peers' formulas written here."""

from __future__ import annotations

import pytest
import torch

from stylekernel.baselines.adain import AdaINNet
from stylekernel.errors import ConfigError
from stylekernel.module import StyleTransferModule

LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


def _moments(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per channel mean and sqrt(unbiased var + eps): the peers' calc_mean_std / torch.std."""
    flat = x.double().flatten(2)
    return flat.mean(-1), (flat.var(-1, unbiased=True) + eps).sqrt()


@pytest.mark.parametrize(("target", "eps"), [("transformed", 1e-5), ("content", 0.0)], ids=["adain-recipe", "adaconv-recipe"])
def test_peer_recipes_match_the_peers_formulas(target: str, eps: float) -> None:
    torch.manual_seed(0)
    net = AdaINNet(encoder_weights="random")
    module = StyleTransferModule(
        net, style_weight=10.0, identity1_weight=0.0, identity2_weight=0.0, content_layers=["relu4_1"], style_layers=list(LAYERS),
        content_target=target, content_normalized=False, unbiased_std=True, std_eps=eps,
    )  # fmt: skip
    content, style = torch.rand(2, 3, 32, 40), torch.rand(2, 3, 40, 32)
    with torch.no_grad():
        terms, output = module.compute_losses(content, style)
        fc, fs, fo = net.encode(content, LAYERS), net.encode(style, LAYERS), net.encode(output, LAYERS)
        t = net.transform(fc, fs) if target == "transformed" else fc["relu4_1"]
    expected_content = ((fo["relu4_1"].double() - t.double()) ** 2).mean()
    expected_style = 0.0
    for n in LAYERS:
        (mo, so), (ms, ss) = _moments(fo[n], eps), _moments(fs[n], eps)
        expected_style += ((mo - ms) ** 2).mean() + ((so - ss) ** 2).mean()
    torch.testing.assert_close(terms["content"].double(), expected_content, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(terms["style"].double(), 10.0 * expected_style, rtol=1e-5, atol=1e-7)
    assert set(terms) == {"content", "style", "loss"}


def test_bad_loss_options_are_one_line_errors() -> None:
    net = AdaINNet(encoder_weights="random")
    with pytest.raises(ConfigError, match="content_target"):
        StyleTransferModule(net, content_target="style")
    with pytest.raises(ConfigError, match="relu4_1"):
        StyleTransferModule(net, content_target="transformed")  # default content layers relu4_1 + relu5_1
    with pytest.raises(ConfigError, match="std_eps"):
        StyleTransferModule(net, std_eps=-1.0)


def test_layers_must_exist_in_the_encoder() -> None:
    from stylekernel.baselines.adaconv import AdaConvNet

    net = AdaConvNet(encoder_weights="random", encoder_last_layer="relu4_1")
    with pytest.raises(ConfigError, match=r"relu5_1.*ends at relu4_1"):
        StyleTransferModule(net)  # the default losses read relu5_1
    StyleTransferModule(net, content_layers=["relu4_1"], style_layers=list(LAYERS))
