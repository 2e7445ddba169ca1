"""The reference and decompositions of lelu (the [decomp] patch), run eagerly: registration in the
decomposition tables torch.compile, torch.export and the ONNX exporter use, accuracy and special
values against the references and the kernel (lelu_decomp_accuracy.py has the tolerances), the
Python reference's OpInfo entry, and tracing with fake tensors."""

from __future__ import annotations

import math
from typing import Any

import mpmath
import numpy as np
import pytest
import torch
import torch._refs.nn.functional as refs_nn
import torch.nn.functional as F
from lelu_decomp_accuracy import (
    SPECIALS,
    check_backward,
    check_forward,
    check_reduced,
    check_special_backward,
    check_special_forward,
)
from lelu_reference import all_finite_values
from torch._decomp import core_aten_decompositions, decomposition_table, get_decompositions
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.fx.experimental.proxy_tensor import make_fx
from torch.testing._internal.common_methods_invocations import python_ref_db

aten = torch.ops.aten
DECOMPOSED = (
    aten.lelu.default,
    aten.lelu.out,
    aten.lelu_.default,
    aten.lelu_backward.default,
    aten.lelu_backward.grad_input,
)


def lelu_decomposition(x: torch.Tensor) -> torch.Tensor:
    return decomposition_table[aten.lelu.default](x)  # type: ignore[no-any-return]


def lelu_backward_decomposition(grad: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return decomposition_table[aten.lelu_backward.default](grad, x)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------
# registration
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", DECOMPOSED, ids=str)
def test_registered_in_the_decomposition_tables(op: torch._ops.OpOverload) -> None:
    assert op in decomposition_table
    assert op in core_aten_decompositions(), "not in the core ATen decompositions (torch.export, ONNX)"
    from torch._inductor.decomposition import decompositions as inductor_decompositions
    from torch._inductor.lowering import lowerings

    # Inductor lowers lelu to the kernel's element functions instead ([inductor] patch)
    assert op not in inductor_decompositions
    assert op in lowerings or op.overloadpacket is aten.lelu_, "no Inductor lowering"


def test_the_reference_is_the_forward_decomposition() -> None:
    assert decomposition_table[aten.lelu.default] is refs_nn.lelu
    assert decomposition_table[aten.lelu_.default] is refs_nn.lelu_
    assert {"lelu", "lelu_"} <= set(refs_nn.__all__)
    assert get_decompositions([aten.lelu_backward])[aten.lelu_backward.default].__name__ == "lelu_backward"


# ---------------------------------------------------------------------------------------------
# accuracy and special values
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_forward_accuracy(dtype: torch.dtype) -> None:
    check_forward(lelu_decomposition, dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_backward_accuracy(dtype: torch.dtype) -> None:
    check_backward(lelu_backward_decomposition, dtype)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_reduced_precision_every_value(dtype: torch.dtype) -> None:
    x = all_finite_values(dtype)
    check_reduced(lelu_decomposition(x), F.lelu(x))
    grad = torch.ones_like(x)
    check_reduced(lelu_backward_decomposition(grad, x), aten.lelu_backward(grad, x))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16], ids=str)
def test_special_values(dtype: torch.dtype) -> None:
    x = torch.tensor(SPECIALS, dtype=dtype)
    check_special_forward(lelu_decomposition(x))
    check_special_forward(refs_nn.lelu(x.clone(), inplace=True))
    check_special_backward(lelu_backward_decomposition(torch.ones_like(x), x))
    # a NaN grad_output propagates, also where lelu' is 0
    assert bool(lelu_backward_decomposition(torch.full_like(x, math.nan), x).isnan().all())


def test_the_naive_decomposition_fails_where_this_one_does_not() -> None:
    """What the decomposition is for: x * sigmoid(k x) gives NaN at -inf and flushes the
    float32 tail to zero below -48.9 (pytorch#86781, #88558, #154150)."""
    x = torch.tensor([-math.inf, -55.0])
    naive = x * torch.sigmoid(math.pi / math.sqrt(3) * x)
    assert math.isnan(naive[0].item()) and naive[1].item() == 0.0
    y = lelu_decomposition(x)
    assert y[0].item() == 0.0 and y[1].item() != 0.0
    assert abs(y[1].item() / F.lelu(x)[1].item() - 1) < 1e-6


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.complex64], ids=str)
def test_unsupported_dtype(dtype: torch.dtype) -> None:
    x = torch.zeros(3, dtype=dtype)
    with pytest.raises(NotImplementedError, match="not implemented for"):
        F.lelu(x)
    with pytest.raises(NotImplementedError, match="lelu is not implemented for"):
        lelu_decomposition(x)
    with pytest.raises(NotImplementedError, match="lelu is not implemented for"):
        lelu_backward_decomposition(x, x)


# ---------------------------------------------------------------------------------------------
# the Python reference and its OpInfo entry
# ---------------------------------------------------------------------------------------------


def _ref_opinfo() -> Any:
    found = [op for op in python_ref_db if op.name == "_refs.nn.functional.lelu"]
    assert len(found) == 1, "expected one _refs.nn.functional.lelu entry in python_ref_db"
    return found[0]


def test_python_ref_opinfo_entry() -> None:
    op = _ref_opinfo()
    assert op.torch_opinfo_name == "nn.functional.lelu"
    assert op.op is refs_nn.lelu
    assert op.supports_out


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16], ids=str)
def test_python_ref_matches_torch_on_the_opinfo_samples(dtype: torch.dtype) -> None:
    """What test_ops.py's test_python_ref checks: the reference against the torch op, on the
    OpInfo's samples, with the out= and in-place variants."""
    op = _ref_opinfo()
    samples = list(op.sample_inputs("cpu", dtype))
    assert samples
    for sample in samples:
        expected = F.lelu(sample.input, *sample.args, **sample.kwargs)
        actual = op(sample.input, *sample.args, **sample.kwargs)
        torch.testing.assert_close(actual, expected, atol=0, rtol=4 * torch.finfo(dtype).eps)
        out = torch.empty_like(expected)
        assert refs_nn.lelu(sample.input, out=out) is out
        torch.testing.assert_close(out, expected, atol=0, rtol=4 * torch.finfo(dtype).eps)
        inplace = sample.input.clone()
        assert refs_nn.lelu_(inplace) is inplace
        torch.testing.assert_close(inplace, expected, atol=0, rtol=4 * torch.finfo(dtype).eps)


def test_python_ref_inplace_and_out_are_exclusive() -> None:
    x = torch.randn(3)
    with pytest.raises(RuntimeError, match="Cannot set inplace=True and pass out="):
        refs_nn.lelu(x, inplace=True, out=torch.empty(3))


# ---------------------------------------------------------------------------------------------
# meta and fake tensors, tracing with the decompositions
# ---------------------------------------------------------------------------------------------


def test_meta_and_fake_tensors() -> None:
    meta = torch.empty(4, 5, device="meta", dtype=torch.float16)
    for y in (F.lelu(meta), aten.lelu_backward(meta, meta), refs_nn.lelu(meta)):
        assert y.device.type == "meta" and y.shape == (4, 5) and y.dtype == torch.float16
    with FakeTensorMode() as mode:
        fake = mode.from_tensor(torch.randn(2, 3).t())
        y = F.lelu(fake)
        assert y.shape == (3, 2) and y.stride() == fake.stride()
        assert refs_nn.lelu(fake).shape == (3, 2)
        assert lelu_backward_decomposition(fake, fake).shape == (3, 2)


@pytest.mark.parametrize("tracing_mode", ["fake", "symbolic"])
def test_make_fx_with_the_core_decompositions(tracing_mode: str) -> None:
    """The forward and backward trace to pointwise ops only: no lelu is left in the graph."""

    def fw_bw(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = F.lelu(x)
        (grad,) = torch.autograd.grad(y, x, torch.ones_like(y))
        return y, grad

    x = torch.tensor([*SPECIALS, -55.0, -1.0, 0.5, 3.0], requires_grad=True)
    gm = make_fx(fw_bw, decomposition_table=core_aten_decompositions(), tracing_mode=tracing_mode)(x)
    targets = {str(node.target) for node in gm.graph.nodes if node.op == "call_function"}
    assert not any("lelu" in t for t in targets), targets
    assert "aten.expm1.default" in targets
    y, grad = gm(x)
    check_special_forward(y[:5])
    check_special_backward(grad[:5])
    torch.testing.assert_close(y, F.lelu(x).detach(), equal_nan=True)
    expected_grad = aten.lelu_backward(torch.ones_like(x), x.detach())
    torch.testing.assert_close(grad, expected_grad, equal_nan=True)


def test_near_x0_polynomial_is_the_taylor_series_of_lelu_prime() -> None:
    """The backward's coefficients near x0 (decompositions._LELU_GRAD_NEAR_X0), recomputed with
    mpmath: the Taylor series at d = 0 of lelu'(t0 + d) / d, t = k x, t0 = -1 - W(1/e)."""
    from torch._decomp.decompositions import _LELU_GRAD_NEAR_X0

    with mpmath.workdps(60):
        t0 = -1 - mpmath.lambertw(1 / mpmath.e).real
        c = mpmath.exp(t0)

        def grad(d: Any) -> Any:  # lelu' in terms of d = t - t0: E N / (1 + E)^2
            e = c * mpmath.exp(d)
            return e * (d + c * mpmath.expm1(d)) / (1 + e) ** 2

        series = mpmath.taylor(grad, 0, len(_LELU_GRAD_NEAR_X0) + 1)
        assert series[0] == 0 or abs(series[0]) < mpmath.mpf(10) ** -50  # lelu'(x0) = 0
        expected = [float(v) for v in series[1:]]
    assert list(_LELU_GRAD_NEAR_X0) == expected[: len(_LELU_GRAD_NEAR_X0)]
    # truncated below 2e-18 of lelu' on |d| < 0.5
    rest = sum(abs(v) * 0.5**n for n, v in enumerate(expected[len(_LELU_GRAD_NEAR_X0):], len(_LELU_GRAD_NEAR_X0)))
    assert rest < 2e-18 * abs(float(grad(mpmath.mpf(-0.5)))) / 0.5


def test_float64_exp_of_the_reference_against_mpmath() -> None:
    """_lelu_exp (exp from a polynomial and an exact power of two) on its whole domain."""
    from lelu_reference import ulp_error

    rng = np.random.default_rng(21)
    r_hi = np.concatenate([rng.uniform(-400, 0, 20_000), rng.uniform(-1, 0, 5_000), [0.0, -400.0]])
    r_lo = rng.uniform(-1e-5, 1e-5, r_hi.size)
    got = refs_nn._lelu_exp(torch.from_numpy(r_hi), torch.from_numpy(r_lo))
    with mpmath.workdps(40):
        exact = [mpmath.exp(mpmath.mpf(a) + mpmath.mpf(b)) for a, b in zip(r_hi, r_lo, strict=True)]
        hi = np.array([float(v) for v in exact])
        lo = np.array([float(v - mpmath.mpf(h)) for v, h in zip(exact, hi, strict=True)])
    err = ulp_error(got, hi, torch.float64, lo)
    # (about 1 ULP; the backend's exp of the rounded sum r_hi + r_lo is off by hundreds of ULP)
    assert err.max() <= 1.25, err.max()
