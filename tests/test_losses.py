"""Each loss against a plain re-implementation written here, and fp32 statistics under autocast."""

from __future__ import annotations

import pytest
import torch

from stylekernel import losses
from stylekernel.nn.functional import adain, mean_std


def stats(x):
    m = x.mean(dim=(2, 3))
    s = torch.sqrt(((x - m[..., None, None]) ** 2).mean(dim=(2, 3)) + 1e-5)
    return m, s


def norm(x):
    m, s = stats(x)
    return (x - m[..., None, None]) / s[..., None, None]


def mse(a, b):
    return ((a - b) ** 2).mean()


@pytest.fixture
def feats():
    g = torch.Generator().manual_seed(0)
    mk = lambda: {n: torch.randn(3, 4, 5, 6, dtype=torch.float64, generator=g) * 2 + 1 for n in losses.STYLE_LAYERS}  # noqa: E731
    return mk(), mk(), mk(), mk()


def test_content_loss(feats) -> None:
    out, content, _, _ = feats
    expected = sum(mse(norm(out[n]), norm(content[n])) for n in ("relu4_1", "relu5_1"))
    torch.testing.assert_close(losses.content_loss(out, content).double(), expected, rtol=1e-5, atol=1e-6)


def test_style_loss(feats) -> None:
    out, _, style, _ = feats
    expected = 0
    for n in losses.STYLE_LAYERS:
        (mo, so), (ms, ss) = stats(out[n]), stats(style[n])
        expected = expected + mse(mo, ms) + mse(so, ss)
    torch.testing.assert_close(losses.style_loss(out, style).double(), expected, rtol=1e-5, atol=1e-6)


def test_per_sample_reduction_averages_to_mean(feats) -> None:
    out, content, style, _ = feats
    for fn, ref in [(losses.content_loss, content), (losses.style_loss, style), (losses.gram_loss, style)]:
        per = fn(out, ref, reduction="none")
        assert per.shape == (3,)
        torch.testing.assert_close(per.mean(), fn(out, ref))
    # per-sample value equals the loss on that sample alone
    one = {k: v[1:2] for k, v in out.items()}
    torch.testing.assert_close(losses.style_loss(out, style, reduction="none")[1], losses.style_loss(one, {k: v[1:2] for k, v in style.items()}))


def test_identity_losses(feats) -> None:
    cc, c, ss, s = feats
    img = lambda d: d["relu1_1"][:, :3]  # noqa: E731
    torch.testing.assert_close(
        losses.identity1_loss(img(cc), img(c), img(ss), img(s)).double(),
        mse(img(cc), img(c)) + mse(img(ss), img(s)),
        rtol=1e-6,
        atol=1e-6,
    )
    expected = sum(mse(cc[n], c[n]) + mse(ss[n], s[n]) for n in losses.STYLE_LAYERS)
    torch.testing.assert_close(losses.identity2_loss(cc, c, ss, s).double(), expected, rtol=1e-6, atol=1e-6)


def test_gram_loss(feats) -> None:
    out, _, style, _ = feats
    def gram(x):
        f = x.flatten(2)
        return f @ f.transpose(1, 2) / f.shape[-1]
    expected = sum(mse(gram(out[n]), gram(style[n])) for n in losses.STYLE_LAYERS)
    torch.testing.assert_close(losses.gram_loss(out, style).double(), expected, rtol=1e-5, atol=1e-6)


def test_statistics_are_fp32_under_bf16_autocast() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 8, 16, 16, generator=g) * 0.01 + 100.0  # std tiny relative to mean: bf16 would lose it
    ref_mean, ref_std = stats(x.double())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        m, s = mean_std(x.bfloat16())
    assert m.dtype == torch.float32 and s.dtype == torch.float32
    with torch.autocast("cpu", dtype=torch.bfloat16):
        m32, s32 = mean_std(x)
        loss = losses.style_loss({"relu1_1": x}, {"relu1_1": x * 1.01}, layers=["relu1_1"])
    assert loss.dtype == torch.float32 and loss > 0
    torch.testing.assert_close(s32.flatten().double(), ref_std.flatten(), rtol=1e-3, atol=1e-6)
    torch.testing.assert_close(m32.flatten().double(), ref_mean.flatten(), rtol=1e-6, atol=1e-6)


def test_adain_transfers_statistics() -> None:
    g = torch.Generator().manual_seed(0)
    c, s = torch.randn(2, 4, 6, 6, generator=g), torch.randn(2, 4, 9, 5, generator=g) * 3 + 2
    out = adain(c, s)
    mo, so = stats(out)
    ms, ss = stats(s)
    torch.testing.assert_close(mo, ms, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(so, ss, atol=1e-4, rtol=1e-4)
