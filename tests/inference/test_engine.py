"""The stylization engine's own rules: one precision table, one device resolver, batches of pairs
(predict and evaluate) agreeing with the network's forward and with the one-image path (stylize)."""

from __future__ import annotations

import pytest
import torch

from stylekernel.engine import PRECISIONS, StylizationEngine, amp_dtype, resolve_device, tensor_bytes
from stylekernel.errors import ConfigError


def test_one_precision_table_for_every_name(net) -> None:
    assert amp_dtype("fp32") is amp_dtype("32") is amp_dtype(32) is amp_dtype("32-true") is None
    assert amp_dtype("bf16") is amp_dtype("bf16-mixed") is torch.bfloat16
    assert amp_dtype("fp16") is amp_dtype("16-mixed") is torch.float16
    assert set(PRECISIONS) >= {"fp32", "bf16", "fp16", "32", "bf16-mixed", "16-mixed"}
    with pytest.raises(ConfigError, match="precision must be one of fp32, 32, "):
        amp_dtype("fp8")
    with pytest.raises(ConfigError, match="'half'"):
        StylizationEngine(net, precision="half")


def test_one_device_resolver() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="cannot parse"):
        resolve_device("gpu please")


def test_one_size_rule_for_cached_tensors() -> None:
    """The engine's feature cache and the evaluation's image sides count bytes the same way."""
    from stylekernel_eval.sides import ContentSide

    nested = {"a": torch.zeros(2, 3), "b": [torch.zeros(4, dtype=torch.float16), (torch.zeros(1, dtype=torch.int64), None)], "c": "x"}
    assert tensor_bytes(nested) == 2 * 3 * 4 + 4 * 2 + 1 * 8
    side = ContentSide(image=torch.zeros(1, 3, 4, 5), lpips=[torch.zeros(1, 2, 2, 2)], vgg=None, net={"relu4_1": torch.zeros(1, 8, dtype=torch.bfloat16)})
    assert side.nbytes == (60 + 8) * 4 + 8 * 2


def test_batches_of_pairs_match_forward_and_the_one_image_path(net) -> None:
    engine = StylizationEngine(net, tile_size=None, feature_cache_bytes=0)
    g = torch.Generator().manual_seed(0)
    content, style = torch.rand(2, 3, 24, 32, generator=g), torch.rand(2, 3, 32, 24, generator=g)
    with torch.no_grad():
        naive = net(content, style).clamp(0, 1)  # sizes are multiples of the stride: nothing to pad
    out = engine.stylize_batch(content, style)
    torch.testing.assert_close(out, naive)
    odd = content[..., :21, :27]  # padded to the stride and cropped back
    batch = engine.stylize_batch(odd, style, alpha=0.6)
    assert batch.shape == (2, 3, 21, 27)
    for i in range(2):
        one = engine.stylize(odd[i : i + 1], [style[i : i + 1]], alpha=0.6)
        torch.testing.assert_close(batch[i : i + 1], one, rtol=1e-4, atol=1e-5)
