"""Property tests: every shape, layout, dtype and variant agrees with a float64 reference and
with the contiguous result."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from lelu_reference import bits_differ, ulp, ulp_error, worst

K = math.pi / math.sqrt(3)
DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)
LAYOUTS = ("contiguous", "transposed", "sliced", "expanded")
VARIANTS = ("functional", "module", "inplace_clone", "out")
DLELU_PEAK = 1.0998393201288669  # the maximum of lelu' (LELU_MATH.md)


def reference_lelu(x: np.ndarray) -> np.ndarray:
    """float64 x / (1 + exp(-k x)); exp overflow gives the right -0.0, -inf is selected."""
    with np.errstate(over="ignore", invalid="ignore"):
        y = x / (1.0 + np.exp(-K * x))
    return np.where(np.isneginf(x), -0.0, y)


def allowed_ulps(x: np.ndarray, ref: np.ndarray, dtype: torch.dtype) -> np.ndarray:
    if dtype == torch.float32:
        return np.full(ref.shape, 3.0)
    if dtype == torch.float64:
        # the kernel's 3 ULP plus the float64 reference's own error, about 2 |k x| + 1 ULP
        with np.errstate(invalid="ignore"):
            return 3.0 + 2.0 * np.minimum(np.nan_to_num(np.abs(K * x)), 2.0**12) + 1.0
    # rounded once from float: 0.5 ULP of the output plus the float error before it
    return 0.5 + 3.0 * ulp(ref, torch.float32) / ulp(ref, dtype)


@dataclass(frozen=True)
class Case:
    values: np.ndarray  # float64, shaped like the logical input
    dtype: torch.dtype
    layout: str
    variant: str


special_values = st.sampled_from([math.inf, -math.inf, math.nan, 0.0, -0.0, -59.5, -60.0, -415.0, 1e-40, -1e-45])
finite_values = st.floats(min_value=-80, max_value=80, allow_nan=False, width=32)
wide_values = st.floats(allow_nan=False, allow_infinity=False, width=32)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    dtype = draw(st.sampled_from(DTYPES))
    layout = draw(st.sampled_from(LAYOUTS))
    variant = draw(st.sampled_from(VARIANTS))
    ndim = draw(st.integers(0, 4))
    if layout in ("transposed", "expanded"):
        ndim = max(ndim, 2)
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=ndim, max_size=ndim)))
    elements = st.one_of(finite_values, special_values, wide_values)
    values = draw(hnp.arrays(np.float64, shape, elements=elements))
    return Case(values=values, dtype=dtype, layout=layout, variant=variant)


def make_input(case: Case) -> torch.Tensor:
    """A tensor holding ``case.values`` (rounded to the dtype) in the requested layout."""
    base = torch.from_numpy(case.values).to(case.dtype)
    if case.layout == "contiguous":
        return base
    if case.layout == "transposed":
        # the transpose of a contiguous tensor of the transposed shape
        return base.transpose(0, -1).contiguous().transpose(0, -1)
    if case.layout == "sliced":
        # every other element of a larger tensor along the last dimension
        if base.dim() == 0:
            return base
        wide = torch.zeros(*base.shape[:-1], base.shape[-1] * 2, dtype=case.dtype)
        wide[..., ::2] = base
        return wide[..., ::2]
    # expanded: broadcast the first row along dimension 0
    row = base[:1]
    if base.shape[0] == 0:
        return base
    return row.expand(base.shape)


def apply(case: Case, x: torch.Tensor) -> torch.Tensor:
    if case.variant == "functional":
        return F.lelu(x)
    if case.variant == "module":
        return torch.nn.LELU()(x)
    if case.variant == "inplace_clone":
        clone = x.clone()
        result = F.lelu(clone, inplace=True)
        assert result is clone
        return result
    out = torch.empty(0, dtype=x.dtype)
    result = torch._C._nn.lelu(x, out=out)
    assert result is out
    return out


def same_bits_or_both_nan(a: torch.Tensor, b: torch.Tensor) -> bool:
    return not bool(bits_differ(a, b).any())


@settings(max_examples=300, deadline=None)
@given(cases())
def test_lelu_properties(case: Case) -> None:
    x = make_input(case)
    logical = x.detach().clone()
    y = apply(case, x)
    assert y.shape == x.shape and y.dtype == case.dtype
    assert same_bits_or_both_nan(x, logical), "the input was modified"
    x64 = logical.double().numpy()
    ref = reference_lelu(x64)
    err = ulp_error(y, ref, case.dtype)
    assert (err <= allowed_ulps(x64, ref, case.dtype)).all(), worst(err, x64)
    # the sign of zero: -0.0 for -inf, -0.0 and negative underflow; +0.0 only for +0.0 and positive underflow
    zero = (y == 0).numpy()
    assert (np.signbit(y.double().numpy())[zero] == np.signbit(x64)[zero]).all()
    # layout and variant do not change a single bit
    assert same_bits_or_both_nan(y, F.lelu(logical.contiguous()))


@settings(max_examples=100, deadline=None)
@given(cases())
def test_lelu_backward_properties(case: Case) -> None:
    x = make_input(case)
    grad = torch.ones_like(x)
    g = torch.ops.aten.lelu_backward(grad, x)
    assert g.shape == x.shape and g.dtype == case.dtype
    g_contiguous = torch.ops.aten.lelu_backward(torch.ones_like(x.contiguous()), x.contiguous())
    assert same_bits_or_both_nan(g, g_contiguous)
    x64 = x.double().numpy()
    finite = np.isfinite(x64)
    values = g.double().numpy()
    # lelu' lies in [1 - PEAK, PEAK] (lelu'(x) + lelu'(-x) = 1), up to one rounding
    slack = torch.finfo(case.dtype).eps
    assert (values[finite] >= 1 - DLELU_PEAK - slack).all() and (values[finite] <= DLELU_PEAK + slack).all()
    assert (values[np.isposinf(x64)] == 1).all() and (values[np.isneginf(x64)] == 0).all()
    assert np.isnan(values[np.isnan(x64)]).all()
