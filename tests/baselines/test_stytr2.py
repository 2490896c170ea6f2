"""StyTr-2's parts: attention against torch's nn.MultiheadAttention (an independent
implementation with the same parameters), CAPE, the encode/transform contract, arguments.
The comparison with the authors' whole forward pass is in tests/released/test_stytr2_release.py."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from stylekernel.baselines.stytr2 import StyTr2, StyTr2Transformer, TokenAttention
from stylekernel.errors import ConfigError


@pytest.fixture(scope="module")
def small() -> StyTr2:
    torch.manual_seed(0)
    return StyTr2(encoder_weights="random", heads=4, encoder_layers=1, decoder_layers=1, hidden=64).eval()


@pytest.mark.parametrize("heads", [1, 8])
def test_token_attention_equals_torch_multihead_attention(heads: int) -> None:
    torch.manual_seed(0)
    ours = TokenAttention(16, heads, dropout=0.0).double()
    ref = nn.MultiheadAttention(16, heads, batch_first=True).double()
    missing, unexpected = ref.load_state_dict(ours.state_dict(), strict=True)
    assert not missing and not unexpected, "the parameters must be nn.MultiheadAttention's, key for key"
    q, k, v = (torch.randn(2, n, 16, dtype=torch.float64) for n in (5, 7, 7))
    torch.testing.assert_close(ours(q, k, v), ref(q, k, v, need_weights=False)[0], rtol=1e-10, atol=1e-12)


def test_cape_is_a_resized_conv_of_the_pooled_content() -> None:
    torch.manual_seed(0)
    t = StyTr2Transformer(dim=8, heads=2, encoder_layers=1, decoder_layers=1, hidden=16, dropout=0.1, cape_grid=3).double()
    content = torch.randn(1, 8, 6, 9, dtype=torch.float64)
    pooled = torch.stack([content[..., 2 * i : 2 * i + 2, 3 * j : 3 * j + 3].mean((-2, -1)) for i in range(3) for j in range(3)], -1)
    conv = torch.einsum("oc,bcn->bon", t.new_ps.weight[:, :, 0, 0], pooled) + t.new_ps.bias[None, :, None]
    expected = F.interpolate(conv.view(1, 8, 3, 3), size=(6, 9), mode="bilinear", align_corners=False)
    torch.testing.assert_close(t.positional_encoding(content), expected)


def test_encode_adds_the_image_and_transform_embeds_it(small: StyTr2) -> None:
    content, style = torch.rand(1, 3, 24, 40), torch.rand(1, 3, 32, 16)
    fc = small.encode(content)
    assert set(fc) == {"image", "relu4_1"} and fc["image"] is content
    assert set(small.encode(content, ["relu1_1"])) == {"image", "relu1_1"}
    assert set(small.encode(content, [])) == {"image"}
    with torch.no_grad():
        z = small.transform(fc, small.encode(style))
        # the stylized tokens depend on the style image, not on the VGG features
        z2 = small.transform(fc, {"image": style})
    assert z.shape == (1, 512, 3, 5)
    torch.testing.assert_close(z, z2)


def test_dropout_is_active_in_training_only(small: StyTr2) -> None:
    content, style = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        a, b = small(content, style), small(content, style)
        torch.testing.assert_close(a, b)
        small.train()
        try:
            c = small(content, style)
        finally:
            small.eval()
    assert not torch.allclose(a, c)


def test_stylizer_runs_at_sizes_that_are_not_multiples_of_8(small: StyTr2) -> None:
    from stylekernel.inference import Stylizer

    out = Stylizer(small, style_size=None).stylize_tensor(torch.rand(1, 3, 21, 35), [torch.rand(1, 3, 19, 27)], alpha=0.5)
    assert out.shape == (1, 3, 21, 35) and torch.isfinite(out).all()


def test_released_architecture_defaults() -> None:
    net = StyTr2(encoder_weights="random")
    t = net.transformer
    assert net.embedding.proj.weight.shape == (512, 3, 8, 8) and net.stride == 8
    assert len(t.encoder_c.layers) == len(t.encoder_s.layers) == len(t.decoder.layers) == 3
    assert t.encoder_c.layers[0].self_attn.heads == 8 and t.encoder_c.layers[0].linear1.weight.shape == (2048, 512)
    assert t.cape_grid == 18 and net.encoder.ceil_mode


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"heads": 3}, "heads"), ({"hidden": 0}, "hidden"), ({"dropout": 1.0}, "dropout"), ({"decoder_layers": 0}, "decoder_layers")],
)
def test_bad_arguments_fail_at_construction(kwargs: dict, argument: str) -> None:
    with pytest.raises(ConfigError, match=argument):
        StyTr2(encoder_weights="random", **kwargs)
