"""Reference values of lelu, lelu' and lelu'' and ULP-error helpers for the tests.

lelu(x) = x * sigmoid(k x), k = pi / sqrt(3) (see /work/shared/LELU_MATH.md).

Two references, used where each is provably accurate enough:

* ``mp_lelu``/``mp_dlelu``/``mp_d2lelu`` and the vectorized ``dd_reference``: mpmath at 50
  significant digits with the exact k.  Results are returned as double-double pairs
  ``(hi, lo)`` with ``hi + lo`` within 2**-106 relative of the true value, so the ULP error of
  a float64 result can be measured to far below 1e-10 ULP.  Used for float64 results and to
  check the float64 path below.  For |x| > 1000 the value is taken from the limit (x or 0 for
  lelu, 1 or 0 for lelu', 0 for lelu''); the neglected terms are below exp(-1800), under every
  float64 ULP including the subnormal one (2**-1074 ~ exp(-744)).

* ``f64_lelu``/``f64_dlelu``/``f64_d2lelu``: float64 NumPy evaluation, used only for results
  of float32 or narrower (float16, bfloat16) types, where it is fast enough for dense grids and
  exhaustive sweeps.  Error bound: z = k64 * x carries a relative error <= 2**-52 (the
  rounding of k to double and of the product), i.e. an absolute error <= |z| 2**-52 that
  becomes a relative error <= |z| 2**-52 of exp(-z); np.exp and the few remaining operations
  add a few 2**-53.  For float32 inputs the result is nonzero only for |z| < 110, so the
  relative error is below 3e-14, i.e. below 1e-6 float32 ULP, for normal and subnormal float32
  results alike (a float32 subnormal is a normal double).  lelu' is formed as s (1 + z (1 - s))
  with 1 - s = sigmoid(-z) computed directly (no cancellation) except at the zero x0 of lelu'
  (see X0), where 1 + z (1 - s) cancels: there the absolute error stays below 1e-15.  The tests
  check this bound against mpmath (``test_accuracy.py::test_float64_reference_matches_mpmath``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import mpmath
import numpy as np
import torch

MP_DPS = 50

with mpmath.workdps(MP_DPS):
    K_MP: mpmath.mpf = +(mpmath.pi / mpmath.sqrt(3))
#: k rounded to double, 1.8137993642342178 (LELU_MATH.md)
K64: float = float(K_MP)
#: k rounded to float, 1.8137993812561035 (LELU_MATH.md)
K32: float = float(np.float32(K64))
#: the minimum of lelu, where lelu' = 0 (LELU_MATH.md)
X0: float = -0.70485444419638924
#: lelu(X0) (LELU_MATH.md)
LELU_MIN: float = -0.15352554877459719

# Values a kernel gets wrong first: the infinities, NaN, signed zeros, x0, both sides of the
# float32 underflow (-59.6) and of the float64 one (-415), and subnormals.
STRESS_VALUES = (-math.inf, math.inf, math.nan, -0.0, 0.0, X0, -59.5, -59.7, -415.0, 1e-40, -1e-40, 5e-324)

# |x| above which the mpmath reference uses the limits (see the module docstring)
_MP_LIMIT_X = 1000.0


# ---------------------------------------------------------------------------------------------
# mpmath reference (scalar)
# ---------------------------------------------------------------------------------------------


def _special(x: float, pos_inf: float, neg_inf: float) -> mpmath.mpf | None:
    if math.isnan(x):
        return mpmath.mpf("nan")
    if x == math.inf:
        return mpmath.mpf(pos_inf)
    if x == -math.inf:
        return mpmath.mpf(neg_inf)
    return None


def mp_lelu(x: float) -> mpmath.mpf:
    """lelu(x) to MP_DPS digits (x is taken exactly)."""
    special = _special(x, math.inf, 0.0)
    if special is not None:
        return special
    if x > _MP_LIMIT_X:
        return mpmath.mpf(x)
    if x < -_MP_LIMIT_X:
        return mpmath.mpf(0)
    with mpmath.workdps(MP_DPS):
        xm = mpmath.mpf(x)
        return xm / (1 + mpmath.exp(-K_MP * xm))


def mp_dlelu(x: float) -> mpmath.mpf:
    """lelu'(x) = s + k x s (1 - s), s = sigmoid(k x)."""
    special = _special(x, 1.0, 0.0)
    if special is not None:
        return special
    if x > _MP_LIMIT_X:
        return mpmath.mpf(1)
    if x < -_MP_LIMIT_X:
        return mpmath.mpf(0)
    with mpmath.workdps(MP_DPS):
        xm = mpmath.mpf(x)
        z = K_MP * xm
        s = 1 / (1 + mpmath.exp(-z))
        sc = 1 / (1 + mpmath.exp(z))
        return s + z * s * sc


def mp_d2lelu(x: float) -> mpmath.mpf:
    """lelu''(x) = k s (1 - s) (2 + k x (1 - 2 s))."""
    special = _special(x, 0.0, 0.0)
    if special is not None:
        return special
    if abs(x) > _MP_LIMIT_X:
        return mpmath.mpf(0)
    with mpmath.workdps(MP_DPS):
        xm = mpmath.mpf(x)
        z = K_MP * xm
        s = 1 / (1 + mpmath.exp(-z))
        sc = 1 / (1 + mpmath.exp(z))
        return K_MP * s * sc * (2 + z * (sc - s))


_MP_FUNCTIONS: dict[str, Callable[[float], mpmath.mpf]] = {
    "lelu": mp_lelu,
    "dlelu": mp_dlelu,
    "d2lelu": mp_d2lelu,
}


@functools.lru_cache(maxsize=1 << 18)
def _dd_scalar(name: str, x: float) -> tuple[float, float]:
    value = _MP_FUNCTIONS[name](x)
    if mpmath.isnan(value) or mpmath.isinf(value):
        return float(value), 0.0
    with mpmath.workdps(MP_DPS):
        hi = float(value)
        lo = float(value - hi)
    return hi, lo


def dd_reference(name: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """mpmath reference of ``name`` ("lelu", "dlelu" or "d2lelu") at every element of ``x``.

    Returns the double-double pair (hi, lo), both float64 arrays shaped like ``x``.  Values are
    cached per (name, x), so repeated and duplicated points are cheap; expect ~30 us per new point.
    """
    flat = np.asarray(x, dtype=np.float64).ravel()
    unique, inverse = np.unique(flat, return_inverse=True)
    pairs = np.array([_dd_scalar(name, float(v)) for v in unique], dtype=np.float64).reshape(-1, 2)
    # (np.unique merges -0.0 and +0.0: the sign of a zero reference is not kept)
    return pairs[inverse, 0].reshape(np.shape(x)), pairs[inverse, 1].reshape(np.shape(x))


# ---------------------------------------------------------------------------------------------
# float64 reference (vectorized), for float32 and narrower results only
# ---------------------------------------------------------------------------------------------


def _sigmoids(x64: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z = k x, s = sigmoid(z) and sc = 1 - s = sigmoid(-z), each without cancellation."""
    z = K64 * x64
    s = 1.0 / (1.0 + np.exp(-z))
    sc = 1.0 / (1.0 + np.exp(z))
    return z, s, sc


def f64_lelu(x: np.ndarray) -> np.ndarray:
    """lelu in float64 with the limits at the infinities (lelu(-inf) = -0.0)."""
    x64 = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.where(np.isinf(x64), 0.0, x64)
        y = finite / (1.0 + np.exp(-K64 * finite))
    return np.where(np.isposinf(x64), np.inf, np.where(np.isneginf(x64), -0.0, y))


def f64_dlelu(x: np.ndarray) -> np.ndarray:
    """lelu'(x) = s (1 + z (1 - s)) in float64; 1 at +inf, 0 at -inf."""
    x64 = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        finite = np.where(np.isinf(x64), 0.0, x64)
        z, s, sc = _sigmoids(finite)
        # z * sc is -0 * 1 or huge * 0 only in the limits, where it is 0 anyway
        d = s * (1.0 + np.where(sc == 0, 0.0, z * sc))
    return np.where(np.isposinf(x64), 1.0, np.where(np.isneginf(x64), 0.0, d))


def f64_d2lelu(x: np.ndarray) -> np.ndarray:
    """lelu''(x) = k s (1 - s) (2 + z (1 - 2 s)) in float64; 0 at +-inf."""
    x64 = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        finite = np.where(np.isinf(x64), 0.0, x64)
        z, s, sc = _sigmoids(finite)
        w = s * sc
        d2 = K64 * w * (2.0 + np.where(w == 0, 0.0, z * (sc - s)))
    return np.where(np.isinf(x64), 0.0, d2)


F64_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "lelu": f64_lelu,
    "dlelu": f64_dlelu,
    "d2lelu": f64_d2lelu,
}


# ---------------------------------------------------------------------------------------------
# ULP helpers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FloatFormat:
    """Binary floating-point format: ``precision`` significand bits (incl. the hidden one) and
    ``emin``, the exponent of the smallest normal number."""

    precision: int
    emin: int

    @property
    def smallest_subnormal(self) -> float:
        return math.ldexp(1.0, self.emin - self.precision + 1)


FORMATS: dict[torch.dtype, FloatFormat] = {
    torch.float64: FloatFormat(precision=53, emin=-1022),
    torch.float32: FloatFormat(precision=24, emin=-126),
    torch.float16: FloatFormat(precision=11, emin=-14),
    torch.bfloat16: FloatFormat(precision=8, emin=-126),
}


def ulp(ref: np.ndarray, dtype: torch.dtype) -> np.ndarray:
    """The ULP of ``dtype`` at each (float64) value of ``ref``: 2**(e - p + 1) for
    2**e <= |ref| < 2**(e+1), and the smallest subnormal for subnormals and zero."""
    fmt = FORMATS[dtype]
    mag = np.abs(np.asarray(ref, dtype=np.float64))
    _, exp = np.frexp(np.where(np.isfinite(mag), mag, 0.0))  # mag = m 2**exp, m in [0.5, 1)
    leading = np.where(mag == 0, fmt.emin, exp - 1)
    return np.ldexp(1.0, np.maximum(leading, fmt.emin) - (fmt.precision - 1))


_BITS = {2: torch.int16, 4: torch.int32, 8: torch.int64}


def bits_differ(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Where a and b (CPU tensors of one dtype and shape) differ bit for bit: the sign of a zero
    counts, a NaN matches a NaN whatever its payload."""
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    bits = _BITS[a.element_size()]
    differ = a.contiguous().view(bits) != b.contiguous().view(bits)
    return differ & ~(a.isnan() & b.isnan())


def to_float64(result: torch.Tensor | np.ndarray) -> np.ndarray:
    """Exact float64 copy of a tensor (any floating dtype) or array."""
    if isinstance(result, torch.Tensor):
        return result.detach().to(device="cpu", dtype=torch.float64).numpy()
    return np.asarray(result, dtype=np.float64)


def ulp_error(
    result: torch.Tensor | np.ndarray,
    ref_hi: np.ndarray,
    dtype: torch.dtype,
    ref_lo: np.ndarray | None = None,
) -> np.ndarray:
    """|result - ref| in ULPs of ``dtype`` at the reference value (ref = ref_hi + ref_lo).

    NaN results are 0 where the reference is NaN and inf otherwise; an infinite reference
    must be matched exactly (0, else inf); a result that is infinite where the reference is
    finite is inf.  The sign of zero is not considered (tested separately)."""
    res = to_float64(result)
    hi = np.asarray(ref_hi, dtype=np.float64)
    lo = np.zeros_like(hi) if ref_lo is None else np.asarray(ref_lo, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs((res - hi) - lo)
        err = diff / ulp(hi, dtype)
    both_nan = np.isnan(res) & np.isnan(hi)
    one_nan = np.isnan(res) ^ np.isnan(hi)
    ref_inf = np.isinf(hi)
    err = np.where(ref_inf, np.where(res == hi, 0.0, np.inf), err)
    err = np.where(~ref_inf & np.isinf(res), np.inf, err)
    err = np.where(one_nan, np.inf, np.where(both_nan, 0.0, err))
    return err


def worst(err: np.ndarray, x: np.ndarray) -> str:
    """A short report of the largest errors, for assertion messages."""
    flat_err = np.asarray(err).ravel()
    flat_x = np.asarray(x, dtype=np.float64).ravel()
    order = np.argsort(-np.nan_to_num(flat_err, nan=np.inf))[:5]
    pct = float(np.percentile(flat_err, 99.9)) if flat_err.size else 0.0
    cases = ", ".join(f"x={flat_x[i]!r}: {flat_err[i]:.3g}" for i in order)
    return f"max {flat_err.max() if flat_err.size else 0:.4g}, p99.9 {pct:.4g}; worst: {cases}"


# ---------------------------------------------------------------------------------------------
# input sets
# ---------------------------------------------------------------------------------------------


def all_finite_values(dtype: torch.dtype) -> torch.Tensor:
    """Every finite value of a 16-bit floating dtype (both zeros included)."""
    assert dtype in (torch.float16, torch.bfloat16)
    bits = torch.arange(-(1 << 15), 1 << 15, dtype=torch.int32).to(torch.int16)
    values = bits.view(dtype)
    return values[torch.isfinite(values)]


def float32_range(lo: float, hi: float, step: int = 1) -> np.ndarray:
    """Every ``step``-th float32 in [lo, hi] (lo < hi, same sign or zero-crossing-free)."""
    a = np.float32(lo)
    b = np.float32(hi)
    assert a < b and (a >= 0 or b <= 0), "ranges must not cross zero"
    ia = int(np.array(a).view(np.int32))
    ib = int(np.array(b).view(np.int32))
    lo_bits, hi_bits = min(ia, ib), max(ia, ib)
    return np.arange(lo_bits, hi_bits + 1, step, dtype=np.int64).astype(np.int32).view(np.float32)


def random_every_exponent(dtype: torch.dtype, per_exponent: int, seed: int) -> np.ndarray:
    """``per_exponent`` random values of each sign in every binade of ``dtype``'s finite range,
    subnormals included (as one binade), returned as float64 (exactly representable)."""
    fmt = FORMATS[dtype]
    finfo = torch.finfo(dtype)
    emax = math.frexp(finfo.max)[1] - 1
    rng = np.random.default_rng(seed)
    values: list[np.ndarray] = []
    for e in range(fmt.emin - 1, emax + 1):
        if e == fmt.emin - 1:  # subnormals: k * smallest_subnormal, 1 <= k < 2**(p-1)
            frac = rng.integers(1, 1 << (fmt.precision - 1), size=per_exponent)
            mags = frac * fmt.smallest_subnormal
        else:
            frac = rng.integers(0, 1 << (fmt.precision - 1), size=per_exponent)
            mags = np.ldexp(1.0 + frac / float(1 << (fmt.precision - 1)), e)
        values.append(mags)
        values.append(-mags)
    out = np.concatenate(values)
    # round-trip through the dtype to be sure every value is representable
    return torch.from_numpy(out).to(dtype).to(torch.float64).numpy()
