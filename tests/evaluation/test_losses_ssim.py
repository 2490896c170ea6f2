"""Content/style/Gram loss come from stylekernel.losses itself; SSIM equals piq's."""

from __future__ import annotations

import pytest
import torch

from stylekernel import losses
from stylekernel.nn.encoder import VGGEncoder

from stylekernel_eval.metrics.perceptual_losses import PerceptualLosses
from stylekernel_eval.metrics.ssim import SSIM


@pytest.fixture(scope="module")
def encoder() -> VGGEncoder:
    torch.manual_seed(0)
    return VGGEncoder("random", last_layer="relu5_1")


def test_perceptual_losses_equal_training_losses(encoder: VGGEncoder) -> None:
    torch.manual_seed(1)
    out, c, s = torch.rand(4, 3, 48, 48), torch.rand(4, 3, 48, 48), torch.rand(4, 3, 64, 56)
    metric = PerceptualLosses(encoder=encoder, gram=True)
    metric.update(out[:3], c[:3], s[:3])
    metric.update(out[3:], c[3:], s[3:])
    with torch.no_grad():
        fo, fc, fs = encoder(out), encoder(c), encoder(s)
        expected = {
            "content_loss": losses.content_loss(fo, fc, reduction="none"),
            "style_loss": losses.style_loss(fo, fs, reduction="none"),
            "gram_loss": losses.gram_loss(fo, fs, reduction="none"),
        }
    result = metric.compute()
    for name, per_pair in expected.items():
        assert torch.isclose(result[name], per_pair.double().mean(), rtol=1e-6), name
        assert per_pair.std() > 0
    assert torch.allclose(metric.last_scores["content_loss"], expected["content_loss"][3:], rtol=1e-6)


def test_perceptual_losses_call_the_training_code(encoder: VGGEncoder, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a copy: replacing the training loss changes what the metric reports."""
    calls = []

    def fake_content_loss(*args: object, **kwargs: object) -> torch.Tensor:
        calls.append(kwargs.get("reduction"))
        return torch.full((2,), 7.0)

    monkeypatch.setattr(losses, "content_loss", fake_content_loss)
    metric = PerceptualLosses(encoder=encoder)
    metric.update(torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32))
    assert calls == ["none"]
    assert float(metric.compute()["content_loss"]) == 7.0
    assert "gram_loss" not in metric.compute()


def test_ssim_equals_piq_and_is_one_for_identical_images() -> None:
    import piq

    torch.manual_seed(2)
    x, y = torch.rand(3, 3, 64, 64), torch.rand(3, 3, 64, 64)
    metric = SSIM()
    metric.update(x, y)
    metric.update(x, x)
    ref = piq.ssim(x, y, data_range=1.0, reduction="none")
    assert torch.allclose(metric.last_scores["ssim"], torch.ones(3), atol=1e-6)
    assert torch.isclose(metric.compute()["ssim"], (ref.double().sum() + 3) / 6, rtol=1e-6)
    assert float(ref.max()) < 0.5
