"""LELU on CUDA: the same bits as the CPU kernel, accuracy against mpmath, special values.

These tests need torch built with CUDA and the series applied (BUILD.md, "With CUDA") and a GPU;
run them there with ``python -m pytest test/test_cuda.py`` (the conftest checks that the torch in
use has the LELU ops).  The overlay of ``tools/lelu test`` is built on the CPU-only wheel
(2.13.0+cpu), which has no CUDA, so there, as on any machine without a GPU, each of them is
reported as skipped with the reason "no CUDA device: this machine has no GPU (run on a GPU
machine)" in the test summary.  Without a GPU, ``tools/lelu cuda-check`` compiles the kernel and
checks its device code; it runs nothing.

The CUDA kernel evaluates LeluMath.h with the same scalar operations as the CPU kernel's scalar
path, all correctly rounded, and the vectorized CPU path matches that lane by lane: CUDA and CPU
must agree bit for bit (NaN payloads aside), for every dtype, layout and variant.  So must
torch.compile's Triton kernels, which run the same operations (triton_helpers.lelu).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from lelu_reference import (
    STRESS_VALUES,
    X0,
    all_finite_values,
    bits_differ,
    dd_reference,
    f64_dlelu,
    f64_lelu,
    float32_range,
    random_every_exponent,
    ulp,
    ulp_error,
    worst,
)
from torch.testing._internal.common_methods_invocations import op_db

NO_GPU = "no CUDA device: this machine has no GPU (run on a GPU machine)"
requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_GPU)

KERNEL = Path(__file__).resolve().parents[1] / "aten_native/aten/src/ATen/native/cuda/LeluKernel.cu"
ALL_DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)
REDUCED = (torch.bfloat16, torch.float16)
FORWARD_MAX_ULP = 3.0
BACKWARD_MAX_ULP = 4.0
NEAR_X0 = 0.01
NEAR_X0_ABS = {torch.float32: 1e-7, torch.float64: 1e-7 * 2.0**-29}
SPECIALS = [-math.inf, math.inf, math.nan, -0.0, 0.0]


def assert_same_bits(cuda: torch.Tensor, cpu: torch.Tensor, what: str) -> None:
    assert cuda.device.type == "cuda" and cpu.device.type == "cpu", what
    got = cuda.cpu()
    assert got.dtype == cpu.dtype and got.shape == cpu.shape, what
    differ = bits_differ(got, cpu)
    count = int(differ.sum())
    examples = f"CUDA {got[differ][:5].tolist()} vs CPU {cpu[differ][:5].tolist()}"
    assert count == 0, f"{what}: {count} elements differ, e.g. {examples}"


def varied_inputs(dtype: torch.dtype, size: int = 300_007) -> tuple[torch.Tensor, torch.Tensor]:
    """x (the central range, both underflow bands, every binade, special values) and a grad_output."""
    rng = np.random.default_rng(7)
    specials = np.array(STRESS_VALUES)
    values = np.concatenate(
        [
            rng.uniform(-20, 20, size // 3),
            rng.uniform(-62, -38, size // 6),
            rng.uniform(-420, -370, size // 12),
            random_every_exponent(dtype, per_exponent=8, seed=8),
            np.tile(specials, 16),
        ]
    )
    values = np.resize(rng.permutation(values), size)
    grad = rng.uniform(-2, 2, size)
    return torch.from_numpy(values).to(dtype), torch.from_numpy(grad).to(dtype)


# ---------------------------------------------------------------------------------------------
# CUDA and CPU: the same bits
# ---------------------------------------------------------------------------------------------


@requires_cuda
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_forward_matches_cpu_bitwise(dtype: torch.dtype) -> None:
    x, _ = varied_inputs(dtype)
    xc = x.cuda()
    expected = F.lelu(x)
    assert_same_bits(F.lelu(xc), expected, "F.lelu")
    assert_same_bits(F.lelu(xc.clone(), inplace=True), expected, "F.lelu(inplace=True)")
    assert_same_bits(torch._C._nn.lelu(xc, out=torch.empty_like(xc)), expected, "lelu.out")
    # non-contiguous and 2-d views take the kernels' non-vectorized paths
    assert_same_bits(F.lelu(xc[1::3]), F.lelu(x[1::3]), "strided")
    square = x[: 300 * 1000].reshape(300, 1000)
    assert_same_bits(F.lelu(square.cuda().t()), F.lelu(square.t()), "transposed")
    assert_same_bits(torch.nn.LELU()(xc), expected, "nn.LELU")


@requires_cuda
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_backward_matches_cpu_bitwise(dtype: torch.dtype) -> None:
    x, grad = varied_inputs(dtype)
    xc, gc = x.cuda(), grad.cuda()
    backward = torch.ops.aten.lelu_backward
    assert_same_bits(backward(gc, xc), backward(grad, x), "lelu_backward")
    assert_same_bits(backward(torch.ones_like(xc), xc), backward(torch.ones_like(x), x), "lelu_backward(1, x)")
    assert_same_bits(backward(gc[1::2], xc[2::2]), backward(grad[1::2], x[2::2]), "strided")
    out = torch.empty_like(xc)
    assert_same_bits(backward(gc, xc, grad_input=out), backward(grad, x), "lelu_backward.grad_input")
    # through autograd (grad mode off in backward: the native kernel)
    xr = xc.detach().requires_grad_(True)
    F.lelu(xr).backward(gc)
    assert xr.grad is not None
    assert_same_bits(xr.grad, backward(grad, x), "autograd")


@requires_cuda
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_compiled_triton_matches_cpu_bitwise(dtype: torch.dtype) -> None:
    """torch.compile on CUDA: Inductor's Triton kernel calls triton_helpers.lelu / lelu_backward
    (the [inductor] patch), inside the fused kernel, with the CPU kernel's bits."""
    from torch._inductor.utils import run_and_get_code

    x, grad = varied_inputs(dtype)
    compiled = torch.compile(F.lelu, fullgraph=True, dynamic=True)
    xr = x.cuda().requires_grad_(True)

    def forward_and_backward() -> torch.Tensor:
        y = compiled(xr)
        y.backward(grad.cuda())
        return y

    y, codes = run_and_get_code(forward_and_backward)
    code = "\n".join(codes)
    assert "triton_helpers.lelu(" in code and "triton_helpers.lelu_backward(" in code, code
    for one in codes:  # no call of the ATen kernel in the wrappers' call()
        call = one[one.index("def call(") :]
        assert "extern_kernels." not in call and "aten.lelu" not in call, one
    assert xr.grad is not None
    assert_same_bits(y.detach(), F.lelu(x), "compiled F.lelu")
    assert_same_bits(xr.grad, torch.ops.aten.lelu_backward(grad, x), "compiled lelu_backward")


@requires_cuda
@pytest.mark.parametrize("dtype", REDUCED, ids=str)
def test_reduced_exhaustive_matches_cpu_bitwise(dtype: torch.dtype) -> None:
    x = all_finite_values(dtype)
    xc = x.cuda()
    assert_same_bits(F.lelu(xc), F.lelu(x), "forward")
    ones = torch.ones_like(x)
    assert_same_bits(torch.ops.aten.lelu_backward(ones.cuda(), xc), torch.ops.aten.lelu_backward(ones, x), "backward")


@requires_cuda
@pytest.mark.parametrize(
    ("grad_dtype", "x_dtype"),
    [(torch.float32, torch.float64), (torch.bfloat16, torch.float32), (torch.float16, torch.float32)],
    ids=str,
)
def test_mixed_dtype_backward_matches_cpu_bitwise(grad_dtype: torch.dtype, x_dtype: torch.dtype) -> None:
    """The inputs are promoted to their common dtype, on CUDA as on the CPU."""
    x, grad = varied_inputs(x_dtype, size=100_003)
    grad = grad.to(grad_dtype)
    result = torch.ops.aten.lelu_backward(grad.cuda(), x.cuda())
    assert result.dtype == torch.promote_types(grad_dtype, x_dtype)
    assert_same_bits(result, torch.ops.aten.lelu_backward(grad, x), "mixed dtypes")


# ---------------------------------------------------------------------------------------------
# accuracy against the references of lelu_reference.py
# ---------------------------------------------------------------------------------------------


def float32_inputs() -> np.ndarray:
    """A dense grid of [-20, 20], random values of every binade, the float32 underflow band."""
    return np.concatenate(
        [
            np.linspace(-20, 20, 200_001, dtype=np.float32),
            random_every_exponent(torch.float32, per_exponent=64, seed=1).astype(np.float32),
            float32_range(-60.0, -40.0, step=7),
        ]
    ).astype(np.float64)


def float64_inputs() -> np.ndarray:
    rng = np.random.default_rng(9)
    return np.concatenate(
        [
            np.linspace(-20, 20, 2001) + rng.uniform(-1e-3, 1e-3, 2001),
            random_every_exponent(torch.float64, per_exponent=2, seed=10),
            np.linspace(-420, -370, 501) + rng.uniform(-0.02, 0.02, 501),
            np.linspace(-62, -38, 501) + rng.uniform(-0.02, 0.02, 501),
        ]
    )


def cuda_tensor(x: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    return torch.from_numpy(x).to(dtype).cuda()


def assert_backward_within(x: np.ndarray, dtype: torch.dtype, ref: np.ndarray, ref_lo: np.ndarray | None) -> None:
    xt = cuda_tensor(x, dtype)
    grad = torch.ops.aten.lelu_backward(torch.ones_like(xt), xt)
    err = ulp_error(grad, ref, dtype, ref_lo)
    near = np.abs(x - X0) < NEAR_X0
    assert err[~near].max() <= BACKWARD_MAX_ULP, worst(err[~near], x[~near])
    abs_err = np.abs(grad.double().cpu().numpy() - (ref if ref_lo is None else ref + ref_lo))
    assert abs_err[near].max(initial=0.0) <= NEAR_X0_ABS[dtype], worst(abs_err[near], x[near])


@requires_cuda
def test_accuracy_float32() -> None:
    """float32 against the float64 reference (itself checked against mpmath by test_accuracy.py)."""
    x = float32_inputs()
    err = ulp_error(F.lelu(cuda_tensor(x, torch.float32)), f64_lelu(x), torch.float32)
    assert err.max() <= FORWARD_MAX_ULP, worst(err, x)
    assert_backward_within(x, torch.float32, f64_dlelu(x), None)


@requires_cuda
def test_accuracy_float64_against_mpmath() -> None:
    x = float64_inputs()
    hi, lo = dd_reference("lelu", x)
    err = ulp_error(F.lelu(cuda_tensor(x, torch.float64)), hi, torch.float64, lo)
    assert err.max() <= FORWARD_MAX_ULP, worst(err, x)
    dhi, dlo = dd_reference("dlelu", x)
    assert_backward_within(x, torch.float64, dhi, dlo)


@requires_cuda
@pytest.mark.parametrize("dtype", REDUCED, ids=str)
def test_accuracy_reduced_exhaustive(dtype: torch.dtype) -> None:
    """Every finite half and bfloat16: correctly rounded up to the float error before the rounding."""
    xt = all_finite_values(dtype)
    x = xt.double().numpy()
    ref = f64_lelu(x)
    err = ulp_error(F.lelu(xt.cuda()), ref, dtype)
    bound = 0.5 + FORWARD_MAX_ULP * ulp(ref, torch.float32) / ulp(ref, dtype)
    assert (err <= bound).all(), worst(err - bound + 0.5, x)


# ---------------------------------------------------------------------------------------------
# special values
# ---------------------------------------------------------------------------------------------


@requires_cuda
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_special_values(dtype: torch.dtype) -> None:
    x = torch.tensor(SPECIALS, dtype=dtype, device="cuda")
    neg_inf, pos_inf, nan, neg_zero, pos_zero = F.lelu(x).tolist()
    assert neg_inf == 0.0 and math.copysign(1.0, neg_inf) == -1.0, "lelu(-inf) must be -0.0"
    assert pos_inf == math.inf and math.isnan(nan)
    assert neg_zero == 0.0 and math.copysign(1.0, neg_zero) == -1.0, "lelu(-0.0) must be -0.0"
    assert pos_zero == 0.0 and math.copysign(1.0, pos_zero) == 1.0, "lelu(+0.0) must be +0.0"
    d_neg_inf, d_pos_inf, d_nan, d_neg_zero, d_pos_zero = torch.ops.aten.lelu_backward(torch.ones_like(x), x).tolist()
    assert d_neg_inf == 0.0 and d_pos_inf == 1.0 and math.isnan(d_nan)
    assert d_neg_zero == 0.5 and d_pos_zero == 0.5
    assert bool(torch.ops.aten.lelu_backward(torch.full_like(x, math.nan), x).isnan().all())
    # no premature zero in the float32 tail, and -0.0 once the true value underflows
    if dtype == torch.float32:
        tail = F.lelu(torch.tensor([-59.5, -50.0, -45.0, -100.0, -1e30], device="cuda")).tolist()
        assert all(v < 0 for v in tail[:3]) and tail[3:] == [0.0, 0.0]
        assert all(math.copysign(1.0, v) == -1.0 for v in tail[3:])


@requires_cuda
def test_gradcheck_on_cuda() -> None:
    x = torch.linspace(-6, 6, 41, dtype=torch.float64, device="cuda").requires_grad_(True)
    assert torch.autograd.gradcheck(F.lelu, (x,))
    assert torch.autograd.gradgradcheck(F.lelu, (x,))
    assert torch.autograd.gradcheck(torch.ops.aten.lelu_backward, (torch.rand_like(x).requires_grad_(True), x))


# ---------------------------------------------------------------------------------------------
# no GPU needed: the OpInfo's CUDA dtypes are the kernel's
# ---------------------------------------------------------------------------------------------


def test_opinfo_cuda_dtypes_are_the_kernels() -> None:
    """The OpInfo gives no dtypesIfCUDA, so CUDA gets its dtypes: those the .cu file dispatches."""
    (op,) = [op for op in op_db if op.name == "nn.functional.lelu"]
    expected = {torch.float32, torch.float64, torch.float16, torch.bfloat16}
    assert set(op.supported_dtypes("cuda")) == expected
    assert set(op.supported_backward_dtypes("cuda")) == expected
    dispatches = re.findall(r"AT_DISPATCH_(\w+)\(\s*([^,]+),\s*([^,]+),", KERNEL.read_text())
    assert dispatches == [("FLOATING_TYPES_AND2", "at::ScalarType::Half", "at::ScalarType::BFloat16")] * 2
