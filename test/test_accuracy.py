"""Accuracy of the native forward and backward against high-precision references.

The contract (LELU_MATH.md and the series' test plan):
* float32 and float64 forward: <= 3 ULP everywhere (dense grid of [-20, 20], random samples of
  every finite exponent of both signs, the whole float32 underflow band [-60, -40]);
* float16 and bfloat16 (computed in float, rounded once): every finite input, within 0.5 ULP of
  the output type plus 3 float32 ULP (the float result may sit next to a rounding boundary);
* backward (lelu_backward with grad 1): <= 4 ULP, except within 0.01 of x0 (the zero of lelu'),
  where the absolute error is <= 1e-7 in float32 (scaled by eps64 / eps32 for float64);
* special values: lelu(-inf) = -0.0, lelu(+inf) = +inf, NaN propagates, +-0.0 keep their sign;
  lelu'(-inf) = 0, lelu'(+inf) = 1, lelu'(+-0) = 0.5, lelu''(+-inf) = 0;
* no premature zero: float32 lelu(x) != 0 for x in [-59.5, 0);
* every x86 CPU capability with FMA instructions (AVX2, AVX512) and every thread count gives
  bit-identical results; DEFAULT (built for x86 CPUs without FMA) evaluates float32, bfloat16 and
  float16 in double (cpu/LeluVec.h), so only its float64 results are the same bits, and the
  accuracy tests above run again under DEFAULT and AVX2 (test_accuracy_under_capability).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from lelu_reference import (
    F64_FUNCTIONS,
    FORMATS,
    K32,
    K64,
    STRESS_VALUES,
    X0,
    all_finite_values,
    bits_differ,
    dd_reference,
    f64_dlelu,
    f64_lelu,
    float32_range,
    mp_d2lelu,
    mp_dlelu,
    mp_lelu,
    random_every_exponent,
    ulp,
    ulp_error,
    worst,
)

from lelu_tools.overlay import missing_cpu_flags

FORWARD_MAX_ULP = 3.0
BACKWARD_MAX_ULP = 4.0
NEAR_X0 = 0.01
NEAR_X0_ABS_FLOAT32 = 1e-7
EPS = {dtype: torch.finfo(dtype).eps for dtype in (torch.float32, torch.float64)}
NEAR_X0_ABS = {
    torch.float32: NEAR_X0_ABS_FLOAT32,
    torch.float64: NEAR_X0_ABS_FLOAT32 * EPS[torch.float64] / EPS[torch.float32],
}
REDUCED = (torch.bfloat16, torch.float16)
ALL_DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)

# documented reference values (LELU_MATH.md): x, lelu, lelu', lelu''
DOCUMENTED = [
    (-57.0, -7.1723373965971503e-44, -1.2883350529379161e-43, -2.3139581753604651e-43),
    (-50.0, -2.0550256456204592e-38, -3.6863036965989928e-38, -6.6116672170752722e-38),
    (-20.0, -3.5202125938991544e-15, -6.2089487350886144e-15, -1.0942539300027397e-14),
    (-3.0, -0.012944169002509226, -0.019062100898312261, -0.026450423056347971),
    (-1.0, -0.14017956485372646, -0.078436320241387074, 0.15187591977853742),
    (-0.5, -0.1438173384504411, 0.10181005275502766, 0.60014363321890781),
    (0.0, 0.0, 0.5, 0.90689968211710893),
    (0.5, 0.3561826615495589, 0.89818994724497234, 0.60014363321890781),
    (1.0, 0.85982043514627354, 1.0784363202413871, 0.15187591977853742),
    (3.0, 2.9870558309974908, 1.0190621008983123, -0.026450423056347971),
]


def lelu_native(x: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    return F.lelu(torch.from_numpy(np.asarray(x, dtype=np.float64)).to(dtype))


def backward_native(x: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    xt = torch.from_numpy(np.asarray(x, dtype=np.float64)).to(dtype)
    return torch.ops.aten.lelu_backward(torch.ones_like(xt), xt)


def naive_lelu(x: torch.Tensor) -> torch.Tensor:
    """The formula of the issue, in the input's precision."""
    return x * torch.sigmoid(K32 * x if x.dtype == torch.float32 else K64 * x)


# ---------------------------------------------------------------------------------------------
# input sets (float64 arrays holding values exact in the dtype under test)
# ---------------------------------------------------------------------------------------------


def float32_grid() -> np.ndarray:
    return np.linspace(-20, 20, 200_001, dtype=np.float32).astype(np.float64)


def float32_underflow_band() -> np.ndarray:
    """Every float32 in [-60, -40] (about 5.2 million)."""
    return float32_range(-60.0, -40.0).astype(np.float64)


def float32_around_x0() -> np.ndarray:
    """Every float32 within 0.05 of x0: the window where only the absolute bound holds, and around
    it, where the cancellation in lelu' makes the ULP bound tightest."""
    return float32_range(X0 - 5 * NEAR_X0, X0 + 5 * NEAR_X0).astype(np.float64)


def float32_random_exponents() -> np.ndarray:
    return random_every_exponent(torch.float32, per_exponent=64, seed=1)


def float64_points() -> np.ndarray:
    """mpmath-checked float64 inputs: a grid of [-20, 20], 2 random values of each sign in every
    binade, the float64 underflow band [-420, -370], the float32 one, and 0.05 around x0."""
    rng = np.random.default_rng(2)
    return np.concatenate(
        [
            np.linspace(-20, 20, 4001) + rng.uniform(-1e-3, 1e-3, 4001),
            random_every_exponent(torch.float64, per_exponent=2, seed=3),
            np.linspace(-420, -370, 1001) + rng.uniform(-0.02, 0.02, 1001),
            np.linspace(-62, -38, 501) + rng.uniform(-0.02, 0.02, 501),
            X0 + np.linspace(-5 * NEAR_X0, 5 * NEAR_X0, 20001) + rng.uniform(-1e-7, 1e-7, 20001),
        ]
    )


# ---------------------------------------------------------------------------------------------
# the references themselves
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", DOCUMENTED, ids=lambda row: f"x={row[0]}")
def test_references_match_documented_values(row: tuple[float, float, float, float]) -> None:
    x, *documented = row
    x_arr = np.array([x])
    for mp_fn, f64_fn, value in zip((mp_lelu, mp_dlelu, mp_d2lelu), F64_FUNCTIONS.values(), documented, strict=True):
        # 17 significant digits documented, read into the nearest double: within 1e-16 relative
        assert abs(mp_fn(x) - value) <= 1e-16 * abs(value), (mp_fn.__name__, x)
        assert abs(float(f64_fn(x_arr)[0]) - value) <= 1e-13 * abs(value), (f64_fn.__name__, x)


def test_constants() -> None:
    assert K64 == 1.8137993642342178  # LELU_MATH.md, k (double)
    assert K32 == 1.8137993812561035  # LELU_MATH.md, k (float)
    assert abs(float(mp_dlelu(X0))) < 1e-16


def test_float64_reference_matches_mpmath() -> None:
    """The float64 evaluation used for float32 and narrower results is within 1e-13 relative of
    mpmath (1e-6 float32 ULP), also in the float32 underflow band; near the zeros of lelu' and
    lelu'' the absolute error is below 1e-15."""
    rng = np.random.default_rng(4)
    x = np.concatenate(
        [
            float32_grid()[::50],
            float32_underflow_band()[::5_000],
            rng.choice(float32_random_exponents(), 2000),
            float32_around_x0()[::10000],
        ]
    )
    for name, f64_fn in F64_FUNCTIONS.items():
        hi, lo = dd_reference(name, x)
        exact = hi + lo
        approx = f64_fn(x)
        abs_err = np.abs(approx - exact)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel_err = np.where(exact == 0, abs_err, abs_err / np.abs(exact))
        ok = (rel_err <= 1e-13) | (abs_err <= 1e-15)
        assert ok.all(), f"{name}: {worst(np.where(ok, 0, rel_err), x)}"


def test_ulp_helper() -> None:
    one = np.array([1.0])
    assert ulp(one, torch.float32)[0] == np.spacing(np.float32(1))
    assert ulp(one, torch.float64)[0] == np.spacing(1.0)
    assert ulp(one, torch.float16)[0] == np.spacing(np.float16(1))
    assert ulp(one, torch.bfloat16)[0] == 2.0**-7
    # subnormals and zero: the smallest subnormal
    for dtype in ALL_DTYPES:
        tiny = torch.finfo(dtype).smallest_normal
        sub = float(torch.tensor(tiny / 8, dtype=dtype))
        smallest = FORMATS[dtype].smallest_subnormal
        assert list(ulp(np.array([0.0, sub, tiny / 3]), dtype)) == [smallest] * 3, dtype
    assert ulp_error(np.array([np.nan, np.inf, 1.0]), np.array([np.nan, np.inf, np.inf]), torch.float32).tolist() == [
        0.0,
        0.0,
        math.inf,
    ]


# ---------------------------------------------------------------------------------------------
# forward
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "inputs",
    [float32_grid, float32_random_exponents, float32_underflow_band],
    ids=lambda f: f.__name__,
)
def test_forward_float32(inputs: Callable[[], np.ndarray]) -> None:
    x = inputs()
    err = ulp_error(lelu_native(x, torch.float32), f64_lelu(x), torch.float32)
    assert err.max() <= FORWARD_MAX_ULP, worst(err, x)


def test_forward_float64() -> None:
    x = float64_points()
    hi, lo = dd_reference("lelu", x)
    err = ulp_error(lelu_native(x, torch.float64), hi, torch.float64, lo)
    assert err.max() <= FORWARD_MAX_ULP, worst(err, x)


@pytest.mark.parametrize("dtype", REDUCED, ids=str)
def test_forward_reduced_exhaustive(dtype: torch.dtype) -> None:
    xt = all_finite_values(dtype)
    x = xt.double().numpy()
    ref = f64_lelu(x)
    err = ulp_error(F.lelu(xt), ref, dtype)
    # correctly rounded, up to the float32 error of the value before its final rounding
    bound = 0.5 + FORWARD_MAX_ULP * ulp(ref, torch.float32) / ulp(ref, dtype)
    assert (err <= bound).all(), worst(err - bound + 0.5, x)


def test_naive_formula_is_worse_in_the_tail() -> None:
    """Why the kernel exists: the issue's x * sigmoid(k x) in float32 loses the negative tail."""
    x = float32_underflow_band()
    xt = torch.from_numpy(x).float()
    ref = f64_lelu(x)
    kernel_err = ulp_error(F.lelu(xt), ref, torch.float32)
    naive_err = ulp_error(naive_lelu(xt), ref, torch.float32)
    assert kernel_err.max() <= FORWARD_MAX_ULP, worst(kernel_err, x)
    assert naive_err.max() > FORWARD_MAX_ULP, worst(naive_err, x)


def test_no_premature_zero_float32() -> None:
    """The true value of lelu(x) is above half the smallest float32 subnormal for x >= -59.5."""
    x = np.concatenate([float32_range(-59.5, -40.0), float32_range(-40.0, -1e-30, step=10_007)])
    y = lelu_native(x, torch.float32)
    zero = (y == 0).numpy()
    assert not zero.any(), f"{int(zero.sum())} zeros, e.g. at x = {x[zero][:5]}"
    assert bool(torch.signbit(y).all())


def test_float32_underflows_below_the_band() -> None:
    """Below about -59.6 the true value is under half the smallest subnormal: -0.0."""
    x = np.linspace(-100, -60, 1001)
    ref = f64_lelu(x.astype(np.float32).astype(np.float64))
    y = lelu_native(x, torch.float32)
    assert bool((y[torch.from_numpy(np.abs(ref) < 2.0**-150)] == 0).all())
    assert bool(torch.signbit(y).all())


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_subnormal_inputs(dtype: torch.dtype) -> None:
    finfo = torch.finfo(dtype)
    smallest = FORMATS[dtype].smallest_subnormal
    mantissa_bits = FORMATS[dtype].precision - 1
    mags = np.array([1, 2, 3, 5, 7, 64, 1000, 2**mantissa_bits - 1], dtype=np.float64) * smallest
    mags = mags[mags < finfo.smallest_normal]
    x = torch.from_numpy(np.concatenate([mags, -mags])).to(dtype)
    y = F.lelu(x)
    x64 = x.double().numpy()
    if dtype == torch.float64:
        hi, lo = dd_reference("lelu", x64)
        err = ulp_error(y, hi, dtype, lo)
        assert err.max() <= FORWARD_MAX_ULP, worst(err, x64)
    else:
        ref = f64_lelu(x64)
        bound = (0.5 if dtype in REDUCED else 0.0) + FORWARD_MAX_ULP * ulp(ref, torch.float32) / ulp(ref, dtype)
        err = ulp_error(y, ref, dtype)
        assert (err <= bound).all(), worst(err, x64)
    # lelu(x) ~ x / 2: same sign as x, never larger in magnitude
    nonzero = y != 0
    assert torch.equal(torch.signbit(y), torch.signbit(x))
    assert bool((y[nonzero].abs() <= x[nonzero].abs()).all())
    grad = torch.ops.aten.lelu_backward(torch.ones_like(x), x)
    assert bool((grad == 0.5).all()), grad


# ---------------------------------------------------------------------------------------------
# backward
# ---------------------------------------------------------------------------------------------


def assert_backward_accuracy(
    x: np.ndarray, dtype: torch.dtype, ref: np.ndarray, ref_lo: np.ndarray | None = None
) -> None:
    grad = backward_native(x, dtype)
    err = ulp_error(grad, ref, dtype, ref_lo)
    near = np.abs(x - X0) < NEAR_X0
    abs_err = np.abs(grad.double().numpy() - (ref if ref_lo is None else ref + ref_lo))
    assert err[~near].max(initial=0) <= BACKWARD_MAX_ULP, worst(err[~near], x[~near])
    if near.any():
        assert abs_err[near].max() <= NEAR_X0_ABS[dtype], worst(abs_err[near] / NEAR_X0_ABS[dtype], x[near])


@pytest.mark.parametrize(
    "inputs",
    [float32_grid, float32_random_exponents, float32_underflow_band, float32_around_x0],
    ids=lambda f: f.__name__,
)
def test_backward_float32(inputs: Callable[[], np.ndarray]) -> None:
    x = inputs()
    assert_backward_accuracy(x, torch.float32, f64_dlelu(x))


def test_backward_float64() -> None:
    x = float64_points()
    hi, lo = dd_reference("dlelu", x)
    assert_backward_accuracy(x, torch.float64, hi, lo)


@pytest.mark.parametrize("dtype", REDUCED, ids=str)
def test_backward_reduced_exhaustive(dtype: torch.dtype) -> None:
    xt = all_finite_values(dtype)
    x = xt.double().numpy()
    ref = f64_dlelu(x)
    grad = torch.ops.aten.lelu_backward(torch.ones_like(xt), xt)
    err = ulp_error(grad, ref, dtype)
    float_err = np.where(np.abs(x - X0) < NEAR_X0, NEAR_X0_ABS_FLOAT32, BACKWARD_MAX_ULP * ulp(ref, torch.float32))
    bound = 0.5 + float_err / ulp(ref, dtype)
    assert (err <= bound).all(), worst(err - bound + 0.5, x)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_backward_scales_with_grad_output(dtype: torch.dtype) -> None:
    """lelu_backward(g, x) = g * lelu_backward(1, x) up to the rounding of the product: grad_output
    enters as a factor (the accuracy of lelu' itself is tested above, with g = 1)."""
    rng = np.random.default_rng(5)
    x = torch.from_numpy(np.concatenate([rng.uniform(-30, 30, 20_000), rng.uniform(-62, -38, 5_000)])).to(dtype)
    g = torch.from_numpy(rng.uniform(-4, 4, x.numel())).to(dtype)
    result = torch.ops.aten.lelu_backward(g, x)
    derivative = torch.ops.aten.lelu_backward(torch.ones_like(x), x)
    exact_product = g.double().numpy() * derivative.double().numpy()
    # where the derivative and the product are normal numbers: one rounding of the product (0.5 ULP)
    # plus the rounding of the derivative (0.5 of its ULP) scaled by |g|, at most 1 ULP of the product
    tiny = torch.finfo(dtype).smallest_normal
    normal = (np.abs(exact_product) >= tiny) & (np.abs(derivative.double().numpy()) >= tiny)
    assert normal.mean() > 0.3
    err = ulp_error(result, exact_product, dtype)[normal]
    assert err.max() <= 1.5, worst(err, x.double().numpy()[normal])
    assert torch.equal(torch.ops.aten.lelu_backward(torch.zeros_like(x), x).abs(), torch.zeros_like(x))


# ---------------------------------------------------------------------------------------------
# special values
# ---------------------------------------------------------------------------------------------

SPECIALS = [-math.inf, math.inf, math.nan, -0.0, 0.0]


def first_and_second_derivatives(x: torch.Tensor, create_graph: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    x = x.detach().requires_grad_(True)
    y = F.lelu(x)
    (g,) = torch.autograd.grad(y.sum(), x, create_graph=create_graph)
    if not create_graph:
        return g, None
    (gg,) = torch.autograd.grad(g.sum(), x)
    return g, gg


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_special_values_forward(dtype: torch.dtype) -> None:
    x = torch.tensor(SPECIALS, dtype=dtype)
    for y in (F.lelu(x), F.lelu(x.clone(), inplace=True), torch._C._nn.lelu(x, out=torch.empty_like(x))):
        neg_inf, pos_inf, nan, neg_zero, pos_zero = y.tolist()
        assert neg_inf == 0.0 and math.copysign(1.0, neg_inf) == -1.0, "lelu(-inf) must be -0.0"
        assert pos_inf == math.inf
        assert math.isnan(nan)
        assert neg_zero == 0.0 and math.copysign(1.0, neg_zero) == -1.0, "lelu(-0.0) must be -0.0"
        assert pos_zero == 0.0 and math.copysign(1.0, pos_zero) == 1.0, "lelu(+0.0) must be +0.0"


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_special_values_native_backward(dtype: torch.dtype) -> None:
    x = torch.tensor(SPECIALS, dtype=dtype)
    grad = torch.ops.aten.lelu_backward(torch.ones_like(x), x)
    neg_inf, pos_inf, nan, neg_zero, pos_zero = grad.tolist()
    assert neg_inf == 0.0  # -0.0 or +0.0
    assert pos_inf == 1.0
    assert math.isnan(nan)
    assert neg_zero == 0.5 and pos_zero == 0.5
    # a NaN grad_output propagates, also where lelu' is 0
    nan_grad = torch.ops.aten.lelu_backward(torch.full_like(x, math.nan), x)
    assert bool(nan_grad.isnan().all())


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("create_graph", [False, True], ids=["native_backward", "composite_backward"])
def test_special_values_autograd(dtype: torch.dtype, create_graph: bool) -> None:
    """Through autograd: the native backward (grad mode off in backward) and the composite one
    (create_graph=True), and the double backward: lelu'' is 0 at +-inf and k/2 at +-0."""
    x = torch.tensor(SPECIALS, dtype=dtype)
    g, gg = first_and_second_derivatives(x, create_graph)
    neg_inf, pos_inf, nan, neg_zero, pos_zero = g.tolist()
    assert neg_inf == 0.0 and pos_inf == 1.0 and math.isnan(nan)
    assert neg_zero == 0.5 and pos_zero == 0.5
    if gg is not None:
        d2_neg_inf, d2_pos_inf, d2_nan, d2_neg_zero, d2_pos_zero = gg.tolist()
        assert d2_neg_inf == 0.0 and d2_pos_inf == 0.0
        assert math.isnan(d2_nan)
        half_k = float(torch.tensor(K64 / 2, dtype=dtype))
        tol = 4 * torch.finfo(dtype).eps
        assert d2_neg_zero == pytest.approx(half_k, rel=tol) and d2_pos_zero == pytest.approx(half_k, rel=tol)


# ---------------------------------------------------------------------------------------------
# CPU capabilities and threads: bit-identical results
# ---------------------------------------------------------------------------------------------

CAPABILITY_SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    import torch.nn.functional as F

    inputs_path, outputs_path, expected = sys.argv[1:4]
    capability = torch.backends.cpu.get_cpu_capability()
    if capability != expected:
        sys.exit(f"ATEN_CPU_CAPABILITY gave {capability}, expected {expected}")
    inputs = torch.load(inputs_path)
    outputs = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for name, (x, grad) in inputs.items():
            # (grad comes from the parent: ops such as linspace differ across capabilities)
            outputs[f"{name}/lelu/{threads}"] = F.lelu(x)
            outputs[f"{name}/lelu_strided/{threads}"] = F.lelu(x[1::3])
            outputs[f"{name}/backward/{threads}"] = torch.ops.aten.lelu_backward(grad, x)
            outputs[f"{name}/backward_ones/{threads}"] = torch.ops.aten.lelu_backward(torch.ones_like(x), x)
    torch.save(outputs, outputs_path)
    """
)
CAPABILITIES = {"default": "DEFAULT", "avx2": "AVX2", "avx512": "AVX512"}


def capability_inputs(size: int = 100_003) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per dtype: x (varied values, special values at every lane offset) and a grad_output."""
    rng = np.random.default_rng(6)
    specials = np.array(STRESS_VALUES)
    values = np.concatenate(
        [
            rng.uniform(-20, 20, size // 3),
            rng.uniform(-62, -38, size // 6),
            rng.uniform(-420, -370, size // 12),
            np.ldexp(rng.uniform(-1, 1, size // 6), rng.integers(-160, 140, size // 6)),
            np.tile(specials, 4),
        ]
    )
    values = np.resize(rng.permutation(values), size)
    values[::997] = np.nan  # special values at every vector lane offset
    values[5::1009] = -np.inf
    values[7::1013] = np.inf
    grad = rng.uniform(-2, 2, size)
    return {str(dtype): (torch.from_numpy(values).to(dtype), torch.from_numpy(grad).to(dtype)) for dtype in ALL_DTYPES}


def run_capability(capability: str, inputs_path: Path, outputs_path: Path) -> dict[str, torch.Tensor]:
    env = dict(os.environ, ATEN_CPU_CAPABILITY=capability)
    result = subprocess.run(
        [sys.executable, "-c", CAPABILITY_SCRIPT, str(inputs_path), str(outputs_path), CAPABILITIES[capability]],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"ATEN_CPU_CAPABILITY={capability} failed:\n{result.stdout}\n{result.stderr}"
    outputs: dict[str, torch.Tensor] = torch.load(outputs_path)
    return outputs


def assert_bit_identical(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape, what
    differ = bits_differ(a, b)
    count = int(differ.sum())
    assert count == 0, f"{what}: {count} elements differ, e.g. {a[differ][:5].tolist()} vs {b[differ][:5].tolist()}"


@pytest.fixture(scope="module")
def capability_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, torch.Tensor]]:
    tmp = tmp_path_factory.mktemp("capabilities")
    inputs_path = tmp / "inputs.pt"
    torch.save(capability_inputs(), inputs_path)
    runs = {}
    for capability in CAPABILITIES:
        if missing_cpu_flags(capability):
            continue
        runs[capability] = run_capability(capability, inputs_path, tmp / f"{capability}.pt")
    return runs


# x86 DEFAULT has no FMA instructions: there float32, bfloat16 and float16 are evaluated in double
# (cpu/LeluVec.h), at least as accurate but not the same bits as the FMA capabilities.
FMA_REFERENCE = "avx2"


def same_bits_as_reference(capability: str, key: str) -> bool:
    return capability != "default" or key.startswith(f"{torch.float64}/")


@pytest.mark.parametrize("capability", list(CAPABILITIES))
def test_capability_matches_reference_and_threads(
    capability: str, capability_runs: dict[str, dict[str, torch.Tensor]]
) -> None:
    if missing_cpu_flags(capability):
        pytest.skip(f"this CPU lacks {missing_cpu_flags(capability)} (per /proc/cpuinfo): no {capability} kernel here")
    outputs = capability_runs[capability]
    reference = capability_runs[FMA_REFERENCE]
    assert set(outputs) == set(reference)
    compared = 0
    for key, value in outputs.items():
        if same_bits_as_reference(capability, key):
            assert_bit_identical(value, reference[key], f"{capability} vs {FMA_REFERENCE}: {key}")
            compared += 1
        name, what, threads = key.rsplit("/", 2)
        if threads == "2":
            assert_bit_identical(value, outputs[f"{name}/{what}/1"], f"{capability}: 2 threads vs 1: {key}")
    assert compared > 0


def test_default_float32_is_not_the_fma_bits(capability_runs: dict[str, dict[str, torch.Tensor]]) -> None:
    """DEFAULT's float32 path is the double one (if this fails, the claims of README and LeluVec.h
    about DEFAULT are stale)."""
    key = f"{torch.float32}/lelu/1"
    a, b = capability_runs["default"][key], capability_runs[FMA_REFERENCE][key]
    assert not torch.equal(a.view(torch.int32), b.view(torch.int32))


def test_capability_results_are_accurate(capability_runs: dict[str, dict[str, torch.Tensor]]) -> None:
    """The (shared) results of the subprocesses are the accurate ones, not only consistent."""
    inputs = capability_inputs()
    x = inputs[str(torch.float32)][0].double().numpy()
    for capability, outputs in capability_runs.items():
        err = ulp_error(outputs[f"{torch.float32}/lelu/1"], f64_lelu(x), torch.float32)
        assert err.max() <= FORWARD_MAX_ULP, f"{capability}: {worst(err, x)}"


def test_default_float32_is_correctly_rounded(capability_runs: dict[str, dict[str, torch.Tensor]]) -> None:
    """DEFAULT's float32 (evaluated in double, rounded once) is within 0.5 ULP plus the double
    evaluation's error, forward and backward (grad 1); next to x0, where lelu' vanishes, the
    double evaluation's absolute error is a larger part of the result."""
    x = capability_inputs()[str(torch.float32)][0].double().numpy()
    outputs = capability_runs["default"]
    err = ulp_error(outputs[f"{torch.float32}/lelu/1"], f64_lelu(x), torch.float32)
    assert err.max() <= 0.501, worst(err, x)
    err = ulp_error(outputs[f"{torch.float32}/backward_ones/1"], f64_dlelu(x), torch.float32)
    near = np.abs(x - X0) < NEAR_X0
    assert err[~near].max() <= 0.501, worst(err[~near], x[~near])
    assert err[near].max() <= 0.6, worst(err[near], x[near])


ACCURACY_RUN_ENV = "LELU_ACCURACY_CAPABILITY"


@pytest.mark.skipif(ACCURACY_RUN_ENV in os.environ, reason="already a run under one capability")
@pytest.mark.parametrize("capability", ["default", "avx2"])
def test_accuracy_under_capability(capability: str) -> None:
    """The accuracy tests of this file (forward, backward, reduced types exhaustively, special
    values) again, in a process whose kernels are those of `capability`."""
    if missing_cpu_flags(capability):
        pytest.skip(f"this CPU lacks {missing_cpu_flags(capability)} (per /proc/cpuinfo): no {capability} kernel here")
    env = dict(os.environ, ATEN_CPU_CAPABILITY=capability, **{ACCURACY_RUN_ENV: CAPABILITIES[capability]})
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
         "-k", "forward or backward or special or subnormal or premature or underflows"],
        env=env, capture_output=True, text=True, timeout=900, cwd=Path(__file__).parent,
    )
    output = f"{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    assert result.returncode == 0, f"ATEN_CPU_CAPABILITY={capability}:\n{output}"
    assert " passed" in result.stdout and " failed" not in result.stdout


def test_capability_of_this_run() -> None:
    expected = os.environ.get(ACCURACY_RUN_ENV)
    if expected is None:
        pytest.skip("not a run under one capability")
    assert torch.backends.cpu.get_cpu_capability() == expected
