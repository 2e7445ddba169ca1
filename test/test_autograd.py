"""Autograd of lelu: gradcheck, gradgradcheck, forward AD, forward-over-reverse, values of the
first and second derivatives against the mpmath reference, the limits at +-inf, in-place rules."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from lelu_reference import K64, X0, dd_reference, ulp_error, worst
from torch.autograd import forward_ad
from torch.autograd.gradcheck import gradcheck, gradgradcheck

LEAF_INPLACE = "a leaf Variable that requires grad is being used in an in-place operation."


def points(dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Sample points: both tails, the minimum x0, the peak of lelu', zero, and a random spread."""
    gen = torch.Generator().manual_seed(0)
    fixed = torch.tensor(
        [-57.0, -50.0, -20.0, -3.0, -1.0, X0, -0.5, -1e-3, 0.0, 1e-3, 0.5, 1.0, 1.3228349991888276, 3.0],
        dtype=torch.float64,
    )
    spread = torch.empty(50, dtype=torch.float64).uniform_(-12, 12, generator=gen)
    return torch.cat([fixed, spread]).to(dtype)


def reference(name: str, x: torch.Tensor) -> np.ndarray:
    hi, lo = dd_reference(name, x.detach().double().numpy())
    return hi + lo


def assert_matches(actual: torch.Tensor, name: str, x: torch.Tensor, rtol: float, atol: float) -> None:
    ref = reference(name, x)
    got = actual.detach().double().numpy()
    ok = np.abs(got - ref) <= atol + rtol * np.abs(ref)
    assert ok.all(), f"{name}: x={x.detach().numpy()[~ok][:5]}, got {got[~ok][:5]}, expected {ref[~ok][:5]}"


def tolerances(dtype: torch.dtype) -> tuple[float, float]:
    return (1e-12, 1e-14) if dtype == torch.float64 else (1e-5, 1e-6)


def test_gradcheck() -> None:
    x = points().requires_grad_()
    assert gradcheck(F.lelu, (x,), check_forward_ad=True, check_batched_grad=True, check_batched_forward_grad=True)


def test_gradgradcheck() -> None:
    x = points().requires_grad_()
    assert gradgradcheck(F.lelu, (x,), check_fwd_over_rev=True, check_rev_over_rev=True, check_batched_grad=True)


def test_gradcheck_native_backward() -> None:
    """lelu_backward has its own derivative entry (grad_output and self)."""
    x = points().requires_grad_()
    grad = torch.linspace(-1, 1, x.numel(), dtype=torch.float64).requires_grad_()
    assert gradcheck(torch.ops.aten.lelu_backward, (grad, x), check_forward_ad=True, check_batched_grad=True)
    assert gradgradcheck(torch.ops.aten.lelu_backward, (grad, x), check_fwd_over_rev=True)


def test_gradcheck_inplace() -> None:
    x = points().requires_grad_()

    def inplace(t: torch.Tensor) -> torch.Tensor:
        return F.lelu(t.clone(), inplace=True)

    assert gradcheck(inplace, (x,), check_forward_ad=True)
    assert gradgradcheck(inplace, (x,))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_first_derivative_values(dtype: torch.dtype) -> None:
    x = points(dtype).requires_grad_()
    (grad,) = torch.autograd.grad(F.lelu(x).sum(), x)
    rtol, atol = tolerances(dtype)
    assert_matches(grad, "dlelu", x, rtol, atol)
    # the documented numbers: lelu'(0) = 0.5 and lelu'(x0) = 0
    assert grad[8].item() == 0.5
    assert abs(grad[5].item()) <= atol


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_double_backward_values(dtype: torch.dtype) -> None:
    x = points(dtype).requires_grad_()
    (grad,) = torch.autograd.grad(F.lelu(x).sum(), x, create_graph=True)
    rtol, atol = tolerances(dtype)
    assert_matches(grad, "dlelu", x, rtol, atol)
    (grad2,) = torch.autograd.grad(grad.sum(), x)
    assert_matches(grad2, "d2lelu", x, rtol, atol)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_native_backward_double_backward(dtype: torch.dtype) -> None:
    """Differentiating lelu_backward(g, x): d/dx = g lelu''(x), d/dg = lelu'(x)."""
    x = points(dtype).requires_grad_()
    g = torch.full_like(x, 0.75, requires_grad=True)
    out = torch.ops.aten.lelu_backward(g, x)
    dg, dx = torch.autograd.grad(out.sum(), (g, x))
    rtol, atol = tolerances(dtype)
    assert_matches(dg, "dlelu", x, rtol, atol)
    assert_matches(dx / 0.75, "d2lelu", x, rtol, atol / 0.75)


# lelu'' is a sum of a few rounded terms (16 ULP), and exp(-|k x|) in it inherits the rounding of
# k x to the dtype times its condition number |k x| (the composite formulas have no extra-precise
# k x as the kernel has); near its zeros at |x| = 1.3245 only an absolute bound holds.
SECOND_DERIVATIVE_ULP = 16.0


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_second_derivative_in_the_tails(dtype: torch.dtype) -> None:
    """lelu'' to a few ULPs where it is tiny (|x| >= 2), through both double-backward paths: the
    composite first derivative (grad of grad) and lelu_backward's formula.  A sigmoid(z) in them
    would give sigmoid'(z) = s (1 - s) with 1 - s rounded to nothing for z > 17 (float32), and
    0 for z < -88.7, where exp(-z) overflows."""
    # out to where exp(-|k x|) leaves the normal range (|x| = 48 in float32, 390 in float64), and past
    # where sigmoid(k x) = 1 / (1 + exp(-k x)) gives 0 (x = -48.9 in float32)
    grid = np.linspace(2.0, 49.5 if dtype == torch.float32 else 390.0, 2001)
    x = torch.tensor(np.concatenate([-grid, grid]), dtype=dtype, requires_grad=True)
    hi, lo = dd_reference("d2lelu", x.detach().double().numpy())
    (grad,) = torch.autograd.grad(F.lelu(x).sum(), x, create_graph=True)
    (composite,) = torch.autograd.grad(grad.sum(), x)
    (native,) = torch.autograd.grad(torch.ops.aten.lelu_backward(torch.ones_like(x), x).sum(), x)
    for what, got in (("grad of grad", composite), ("lelu_backward's derivative", native)):
        err = ulp_error(got, hi, dtype, lo) - np.abs(K64 * x.detach().double().numpy())
        assert err.max() <= SECOND_DERIVATIVE_ULP, f"{what}, ULP - |kx|: {worst(err, x.detach().double().numpy())}"


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_forward_ad_values(dtype: torch.dtype) -> None:
    x = points(dtype)
    tangent = torch.linspace(-2, 2, x.numel(), dtype=dtype)
    with forward_ad.dual_level():
        dual = forward_ad.make_dual(x, tangent)
        out = F.lelu(dual)
        primal, jvp = forward_ad.unpack_dual(out)
    assert torch.equal(primal, F.lelu(x))
    rtol, atol = tolerances(dtype)
    assert_matches(jvp / tangent, "dlelu", x, rtol, atol / 0.02)  # |tangent| >= ~0.03
    # torch.func agrees
    primal2, jvp2 = torch.func.jvp(F.lelu, (x,), (tangent,))
    assert torch.equal(primal2, primal) and torch.equal(jvp2, jvp)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_forward_ad_inplace(dtype: torch.dtype) -> None:
    x = points(dtype)
    tangent = torch.ones_like(x)
    with forward_ad.dual_level():
        dual = forward_ad.make_dual(x.clone(), tangent.clone())
        F.lelu(dual, inplace=True)
        _, jvp = forward_ad.unpack_dual(dual)
    rtol, atol = tolerances(dtype)
    assert_matches(jvp, "dlelu", x, rtol, atol)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_forward_over_reverse(dtype: torch.dtype) -> None:
    """jvp of the vjp: d/dx (lelu'(x) v) . t = lelu''(x) v t."""
    x = points(dtype)
    v = torch.full_like(x, 0.5)
    t = torch.full_like(x, 2.0)

    def vjp(inp: torch.Tensor) -> torch.Tensor:
        _, fn = torch.func.vjp(F.lelu, inp)
        return fn(v)[0]

    grad, hvp = torch.func.jvp(vjp, (x,), (t,))
    rtol, atol = tolerances(dtype)
    assert_matches(grad / 0.5, "dlelu", x, rtol, atol / 0.5)
    assert_matches(hvp, "d2lelu", x, rtol, atol)


def test_vmap_and_batched_grad() -> None:
    x = points().reshape(8, 8)
    assert torch.equal(torch.func.vmap(F.lelu)(x), F.lelu(x))
    grads = torch.func.vmap(torch.func.grad(lambda t: F.lelu(t).sum()))(x)
    assert_matches(grads, "dlelu", x, *tolerances(torch.float64))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16, torch.float16], ids=str)
def test_limits_at_infinity(dtype: torch.dtype) -> None:
    """lelu'(+inf) = 1, lelu'(-inf) = 0, lelu''(+-inf) = 0: finite, through every autograd path."""
    x = torch.tensor([math.inf, -math.inf], dtype=dtype, requires_grad=True)
    y = F.lelu(x)
    assert y[0].item() == math.inf and y[1].item() == 0.0 and math.copysign(1, y[1].item()) == -1
    (g,) = torch.autograd.grad(y.sum(), x, retain_graph=True)
    assert g.tolist() == [1.0, 0.0]
    (g,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    assert g.tolist() == [1.0, 0.0]
    (gg,) = torch.autograd.grad(g.sum(), x)
    assert gg.tolist() == [0.0, 0.0]
    # forward AD and forward-over-reverse
    with forward_ad.dual_level():
        _, jvp = forward_ad.unpack_dual(F.lelu(forward_ad.make_dual(x.detach(), torch.ones_like(x))))
    assert jvp.tolist() == [1.0, 0.0]
    _, hvp = torch.func.jvp(
        lambda t: torch.func.vjp(F.lelu, t)[1](torch.ones_like(t))[0], (x.detach(),), (torch.ones_like(x),)
    )
    assert hvp.tolist() == [0.0, 0.0]


def test_nan_propagates_through_gradients() -> None:
    x = torch.tensor([math.nan], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(F.lelu(x).sum(), x, create_graph=True)
    assert math.isnan(g.item())
    (gg,) = torch.autograd.grad(g.sum(), x)
    assert math.isnan(gg.item())


def test_inplace_on_leaf_requiring_grad_raises() -> None:
    x = torch.randn(4, requires_grad=True)
    with pytest.raises(RuntimeError, match=re.escape(LEAF_INPLACE)):
        F.lelu(x, inplace=True)
    with pytest.raises(RuntimeError, match=re.escape(LEAF_INPLACE)):
        torch.nn.LELU(inplace=True)(x)
    out_message = (
        "lelu(): functions with out=... arguments don't support automatic differentiation, "
        "but one of the arguments requires grad."
    )
    with pytest.raises(RuntimeError, match=re.escape(out_message)):
        torch._C._nn.lelu(torch.randn(4), out=x)


def test_inplace_on_non_leaf_gradient() -> None:
    x = torch.randn(16, dtype=torch.float64, requires_grad=True)
    y = x * 1.0
    F.lelu(y, inplace=True)
    assert y.grad_fn is not None and y.grad_fn.name() == "LeluBackward0"  # as silu_ and mish_
    (grad,) = torch.autograd.grad(y.sum(), x)
    (expected,) = torch.autograd.grad(F.lelu(x).sum(), x)
    assert torch.allclose(grad, expected, rtol=1e-14, atol=0)


def test_inplace_on_saved_input_is_detected() -> None:
    """lelu saves its input: modifying it afterwards must make backward fail, not be wrong."""
    x = torch.randn(4, requires_grad=True)
    a = x * 1.0
    y = F.lelu(a)
    a.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_grad_fn_name() -> None:
    x = torch.randn(3, requires_grad=True)
    y = F.lelu(x)
    assert y.grad_fn is not None
    assert y.grad_fn.name() == "LeluBackward0"
    assert type(y.grad_fn).__name__ == "LeluBackward0"


def test_no_grad_and_inference_mode() -> None:
    x = torch.randn(3, requires_grad=True)
    with torch.no_grad():
        assert F.lelu(x).grad_fn is None
    with torch.inference_mode():
        y = F.lelu(torch.randn(3))
        assert y.is_inference()


def test_float32_gradients_in_the_tail() -> None:
    """The autograd gradient (native backward) keeps the tail: within 4 ULP at the documented
    points x = -57 and -50, where float32 values are subnormal or near the underflow."""
    x = torch.tensor([-57.0, -50.0, -20.0], requires_grad=True)
    (grad,) = torch.autograd.grad(F.lelu(x).sum(), x)
    hi, lo = dd_reference("dlelu", x.detach().double().numpy())
    err = ulp_error(grad, hi + lo, torch.float32)
    assert err.max() <= 4, worst(err, x.detach().numpy())
