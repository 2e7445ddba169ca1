"""Accuracy checks shared by the tests of the decomposition, run eagerly (test_decomp.py) and as
Inductor compiles it (test_compile.py).

The decomposition (torch._refs.nn.functional.lelu, torch._decomp's lelu_backward) is built from
ATen pointwise ops, so its contract is looser than the kernel's (LeluMath.h): it gets exp from
the backend (Sleef in Inductor's vectorized CPU code, libm in eager) instead of the kernel's own
polynomial.  Its tolerances, measured by these checks:

* forward: <= FORWARD_MAX_ULP of the mpmath / float64 reference everywhere, including the
  float32 underflow band [-60, -40] (no premature zero), and within FORWARD_VS_KERNEL_ULP of the
  ATen kernel.  float32 (and bfloat16 and float16, in float32, rounded once) is computed in
  float32 with the kernel's arithmetic, exact split products in place of its fused multiply-adds
  and the backend's expm1 of the reduced argument; the bounds are those the compiled path is
  held to (issue 17: 4 ULP forward, 6 backward);
* backward (grad 1): <= BACKWARD_MAX_ULP except within NEAR_X0 of x0, the zero of lelu', where
  the absolute error is <= NEAR_X0_ABS; within BACKWARD_VS_KERNEL_ULP of the kernel there;
* float16 and bfloat16 (computed in float, rounded once): within 1 ULP of the kernel.

float64 carries k * x in two parts and computes exp itself (_lelu_exp: a polynomial and an exact
power of two, no backend exp): `tools/lelu accuracy` measures its largest errors on denser and
random inputs too (ACCURACY.md).  Inductor does not compile these decompositions: it lowers
lelu to the kernel's element functions (test_compile.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from lelu_reference import X0, dd_reference, f64_dlelu, f64_lelu, float32_range, random_every_exponent, ulp_error, worst

FORWARD_MAX_ULP = {torch.float32: 4.0, torch.float64: 3.0}
FORWARD_VS_KERNEL_ULP = {torch.float32: 4.0, torch.float64: 4.0}
BACKWARD_MAX_ULP = {torch.float32: 6.0, torch.float64: 4.0}
BACKWARD_VS_KERNEL_ULP = {torch.float32: 7.0, torch.float64: 7.0}
NEAR_X0 = 0.01
NEAR_X0_ABS = {torch.float32: 4e-9, torch.float64: 4e-17}
#: float32: the true result is nonzero down to -59.6; no result above this x may be zero
FLOAT32_ZERO_BELOW = -59.5
REDUCED_VS_KERNEL_ULP = 1.0

#: -inf, +inf, NaN, -0.0, +0.0
SPECIALS = [-math.inf, math.inf, math.nan, -0.0, 0.0]

Forward = Callable[[torch.Tensor], torch.Tensor]
Backward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def float32_inputs() -> np.ndarray:
    """float32 values (as float64): a grid of [-20, 20], every 3rd float32 of the underflow band
    [-60, -40], every float32 within 0.05 of x0, random values of every exponent, large ones."""
    return np.concatenate(
        [
            np.linspace(-20, 20, 200_001, dtype=np.float32),
            float32_range(-60.0, -40.0, step=3),
            float32_range(X0 - 0.05, X0 + 0.05),
            random_every_exponent(torch.float32, per_exponent=64, seed=11).astype(np.float32),
            np.array([40.0, 59.0, 64.0, 65.0, 1e3, 3e38, -64.0, -65.0, -1e3, -3e38], dtype=np.float32),
        ]
    ).astype(np.float64)


def float64_inputs() -> np.ndarray:
    """float64 values for the mpmath reference: a grid of [-20, 20], both underflow bands, the
    neighbourhood of x0, 2 random values of each sign in every binade."""
    rng = np.random.default_rng(12)
    return np.concatenate(
        [
            np.linspace(-20, 20, 4001) + rng.uniform(-1e-3, 1e-3, 4001),
            np.linspace(-425, -360, 1301) + rng.uniform(-0.02, 0.02, 1301),
            np.linspace(-62, -38, 501) + rng.uniform(-0.02, 0.02, 501),
            X0 + np.linspace(-0.05, 0.05, 401),
            X0 + rng.uniform(-0.3, 0.3, 2000),
            random_every_exponent(torch.float64, per_exponent=2, seed=13),
            np.array([429.0, 430.0, 431.0, 1e300, -429.0, -430.0, -431.0, -1e300]),
        ]
    )


def inputs(dtype: torch.dtype) -> np.ndarray:
    return float32_inputs() if dtype == torch.float32 else float64_inputs()


def reference(name: str, x: np.ndarray, dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray | None]:
    if dtype == torch.float64:
        return dd_reference(name, x)
    return (f64_lelu(x) if name == "lelu" else f64_dlelu(x)), None


def check_forward(lelu: Forward, dtype: torch.dtype) -> None:
    x64 = inputs(dtype)
    x = torch.from_numpy(x64).to(dtype)
    y = lelu(x)
    assert y.dtype == dtype and y.shape == x.shape
    hi, lo = reference("lelu", x64, dtype)
    err = ulp_error(y, hi, dtype, lo)
    assert err.max() <= FORWARD_MAX_ULP[dtype], worst(err, x64)
    vs_kernel = ulp_error(y, torch.ops.aten.lelu(x).double().numpy(), dtype)
    assert vs_kernel.max() <= FORWARD_VS_KERNEL_ULP[dtype], worst(vs_kernel, x64)
    if dtype == torch.float32:
        tail = (x64 >= FLOAT32_ZERO_BELOW) & (x64 < 0)
        assert bool((y.numpy()[tail] != 0).all()), "premature zero in the negative tail"


def check_backward(lelu_backward: Backward, dtype: torch.dtype) -> None:
    x64 = inputs(dtype)
    x = torch.from_numpy(x64).to(dtype)
    grad = lelu_backward(torch.ones_like(x), x)
    assert grad.dtype == dtype and grad.shape == x.shape
    hi, lo = reference("dlelu", x64, dtype)
    near = np.abs(x64 - X0) < NEAR_X0
    err = ulp_error(grad, hi, dtype, lo)
    assert err[~near].max() <= BACKWARD_MAX_ULP[dtype], worst(err[~near], x64[~near])
    abs_err = np.abs(grad.double().numpy()[near] - (hi if lo is None else hi + lo)[near])
    assert abs_err.max() <= NEAR_X0_ABS[dtype], worst(abs_err / NEAR_X0_ABS[dtype], x64[near])
    kernel = torch.ops.aten.lelu_backward(torch.ones_like(x), x).double().numpy()
    vs_kernel = ulp_error(grad, kernel, dtype)
    assert vs_kernel[~near].max() <= BACKWARD_VS_KERNEL_ULP[dtype], worst(vs_kernel[~near], x64[~near])


def check_reduced(y: torch.Tensor, expected: torch.Tensor) -> None:
    """A float16/bfloat16 result against the kernel's."""
    assert y.dtype == expected.dtype and y.shape == expected.shape
    err = ulp_error(y, expected.double().numpy(), y.dtype)
    assert err.max() <= REDUCED_VS_KERNEL_ULP, worst(err, expected.double().numpy())


def check_special_forward(y: torch.Tensor) -> None:
    """lelu at SPECIALS: -0.0, +inf, NaN, -0.0, +0.0 (signs included)."""
    neg_inf, pos_inf, nan, neg_zero, pos_zero = y.tolist()
    assert neg_inf == 0.0 and math.copysign(1.0, neg_inf) == -1.0, f"lelu(-inf) must be -0.0, got {neg_inf}"
    assert pos_inf == math.inf, f"lelu(inf) must be inf, got {pos_inf}"
    assert math.isnan(nan)
    assert neg_zero == 0.0 and math.copysign(1.0, neg_zero) == -1.0, "lelu(-0.0) must be -0.0"
    assert pos_zero == 0.0 and math.copysign(1.0, pos_zero) == 1.0, "lelu(+0.0) must be +0.0"


def check_special_backward(grad: torch.Tensor) -> None:
    """lelu' at SPECIALS (grad 1): 0, 1, NaN, 0.5, 0.5."""
    neg_inf, pos_inf, nan, neg_zero, pos_zero = grad.tolist()
    assert neg_inf == 0.0, f"lelu'(-inf) must be 0, got {neg_inf}"
    assert pos_inf == 1.0, f"lelu'(inf) must be 1, got {pos_inf}"
    assert math.isnan(nan)
    assert neg_zero == 0.5 and pos_zero == 0.5
