"""The memory-lean dynamic convolution against the naive unfold reference and a plain loop."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from stylekernel.nn.dynamic_conv import DynamicConv, dynamic_conv2d, dynamic_conv2d_reference


def loop_reference(x: torch.Tensor, kernels: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Literal definition: out[b,c,y,x] = sum_d K[b, c // (C/G), d, y, x] * X[b, c, y+dy, x+dx] + bias."""
    b, c, h, w = x.shape
    g, kk = kernels.shape[1], kernels.shape[2]
    k = int(kk**0.5)
    r = k // 2
    xp = F.pad(x, (r, r, r, r))
    out = bias.clone()
    for ci in range(c):
        gi = ci // (c // g)
        for t in range(kk):
            dy, dx = divmod(t, k)
            out[:, ci] += kernels[:, gi, t] * xp[:, ci, dy : dy + h, dx : dx + w]
    return out


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("groups", [1, 2, 8])
@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate"])
def test_fast_path_matches_unfold_reference_values_and_grads(k: int, groups: int, padding_mode: str) -> None:
    gen = torch.Generator().manual_seed(k * 100 + groups)
    b, c, h, w = 2, 8, 7, 9
    x = torch.randn(b, c, h, w, dtype=torch.float64, generator=gen, requires_grad=True)
    kern = torch.randn(b, groups, k * k, h, w, dtype=torch.float64, generator=gen, requires_grad=True)
    bias = torch.randn(b, c, h, w, dtype=torch.float64, generator=gen, requires_grad=True)
    fast = dynamic_conv2d(x, kern, bias, padding_mode=padding_mode)
    ref = dynamic_conv2d_reference(x, kern, bias, padding_mode=padding_mode)
    torch.testing.assert_close(fast, ref, rtol=1e-12, atol=1e-12)
    up = torch.randn(fast.shape, dtype=torch.float64, generator=gen)
    g_fast = torch.autograd.grad(fast, (x, kern, bias), up)
    g_ref = torch.autograd.grad(ref, (x, kern, bias), up)
    for a, r in zip(g_fast, g_ref):
        torch.testing.assert_close(a, r, rtol=1e-12, atol=1e-12)


def test_matches_literal_loop_definition() -> None:
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(1, 6, 5, 4, dtype=torch.float64, generator=gen)
    kern = torch.randn(1, 3, 9, 5, 4, dtype=torch.float64, generator=gen)
    bias = torch.randn(1, 6, 5, 4, dtype=torch.float64, generator=gen)
    torch.testing.assert_close(dynamic_conv2d(x, kern, bias), loop_reference(x, kern, bias))


def test_gradcheck_small() -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(1, 4, 4, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    kern = torch.randn(1, 2, 9, 4, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    bias = torch.randn(1, 4, 4, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *a: dynamic_conv2d(*a, padding_mode="reflect"), (x, kern, bias))


def test_identity_kernel_returns_input_plus_bias() -> None:
    x = torch.randn(2, 4, 6, 6)
    kern = torch.zeros(2, 2, 9, 6, 6)
    kern[:, :, 4] = 1.0
    bias = torch.randn(2, 4, 6, 6)
    torch.testing.assert_close(dynamic_conv2d(x, kern, bias), x + bias)


@pytest.mark.parametrize(
    "kernel_shape", [(2, 3, 9, 6, 6), (2, 2, 8, 6, 6), (2, 2, 4, 6, 6), (2, 2, 9, 5, 6), (1, 2, 9, 6, 6)]
)
def test_rejects_mismatched_shapes(kernel_shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        dynamic_conv2d(torch.randn(2, 4, 6, 6), torch.randn(*kernel_shape))


def test_module_rejects_bad_padding_mode() -> None:
    with pytest.raises(ValueError, match="padding_mode"):
        DynamicConv(8, padding_mode="circularish")  # type: ignore[arg-type]
