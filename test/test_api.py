"""The Python API of the series: F.lelu, nn.LELU, exports, docs, overrides, out=."""

from __future__ import annotations

import copy
import inspect
import pickle
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from lelu_reference import bits_differ, dd_reference, f64_lelu, ulp_error, worst
from torch import nn
from torch.overrides import get_testing_overrides

DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)


def sample(dtype: torch.dtype = torch.float32, n: int = 257, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(n, generator=gen, dtype=torch.float64) * 6).to(dtype)


def assert_close_to_reference(y: torch.Tensor, x: torch.Tensor) -> None:
    """Result within the accuracy contract: <= 3 ULP for float32 and float64 (mpmath reference),
    0.5 ULP after the final rounding (plus the float error before it) for the 16-bit types."""
    x64 = x.double().numpy()
    if x.dtype == torch.float64:
        hi, lo = dd_reference("lelu", x64)
        err = ulp_error(y, hi, x.dtype, lo)
    else:
        err = ulp_error(y, f64_lelu(x64), x.dtype)
    tolerance = 3.0 if x.dtype in (torch.float32, torch.float64) else 1.0
    assert err.max() <= tolerance, worst(err, x64)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_functional_matches_native_op(dtype: torch.dtype) -> None:
    x = sample(dtype)
    y = F.lelu(x)
    assert y.dtype == dtype and y.shape == x.shape
    assert torch.equal(y, torch._C._nn.lelu(x))
    assert torch.equal(y, torch.ops.aten.lelu(x))
    assert_close_to_reference(y, x)


def test_functional_signature_like_mish() -> None:
    assert inspect.signature(F.lelu) == inspect.signature(F.mish)
    assert list(inspect.signature(F.lelu).parameters) == ["input", "inplace"]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_functional_inplace(dtype: torch.dtype) -> None:
    x = sample(dtype)
    expected = F.lelu(x)
    x_clone = x.clone()
    version = x_clone._version
    out = F.lelu(x_clone, inplace=True)
    assert out is x_clone
    assert x_clone._version > version
    assert torch.equal(x_clone, expected)
    y = x.clone()
    assert torch._C._nn.lelu_(y) is y and torch.equal(y, expected)


def test_functional_not_inplace_leaves_input() -> None:
    x = sample()
    before = x.clone()
    F.lelu(x)
    F.lelu(x, inplace=False)
    assert torch.equal(x, before)


@pytest.mark.parametrize("inplace", [False, True])
def test_module_forward(inplace: bool) -> None:
    x = sample()
    expected = F.lelu(x)
    m = nn.LELU(inplace=inplace)
    assert m.inplace is inplace
    arg = x.clone()
    y = m(arg)
    assert torch.equal(y, expected)
    assert (y is arg) is inplace
    assert torch.equal(arg, expected if inplace else x)


def test_module_defaults_and_constants() -> None:
    m = nn.LELU()
    assert m.inplace is False
    assert nn.LELU.__constants__ == ["inplace"]
    assert list(m.parameters()) == [] and list(m.buffers()) == []
    assert inspect.signature(nn.LELU.__init__) == inspect.signature(nn.Mish.__init__)


def test_extra_repr_and_repr() -> None:
    assert nn.LELU().extra_repr() == ""
    assert nn.LELU(inplace=True).extra_repr() == "inplace=True"
    assert repr(nn.LELU()) == "LELU()"
    assert repr(nn.LELU(inplace=True)) == "LELU(inplace=True)"
    # the same conventions as its model
    assert repr(nn.Mish(inplace=True)) == repr(nn.LELU(inplace=True)).replace("LELU", "Mish")


@pytest.mark.parametrize("inplace", [False, True])
def test_module_pickle_deepcopy_state_dict(inplace: bool) -> None:
    m = nn.LELU(inplace=inplace)
    for clone in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert isinstance(clone, nn.LELU) and clone.inplace is inplace
        x = sample()
        assert torch.equal(clone(x.clone()), F.lelu(x))
    assert m.state_dict() == {}


def test_module_in_sequential() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.LELU(), nn.Linear(3, 2))
    x = torch.randn(5, 4)
    expected = model[2](F.lelu(model[0](x)))
    assert torch.equal(model(x), expected)


@pytest.mark.parametrize("inplace", [False, True])
def test_module_scripts(inplace: bool) -> None:
    """TorchScript compiles nn.LELU (F.lelu's torch._C._nn.lelu / lelu_ are builtins)."""
    x = torch.randn(5, 4)
    scripted = torch.jit.script(nn.LELU(inplace=inplace))
    assert torch.equal(scripted(x.clone()), F.lelu(x))


def test_exports() -> None:
    assert nn.LELU is nn.modules.LELU is nn.modules.activation.LELU
    assert "LELU" in nn.modules.__all__
    assert "LELU" in nn.modules.activation.__all__
    assert "lelu" in dir(F)
    assert F.lelu.__module__ == "torch.nn.functional"
    assert nn.LELU.__module__ == "torch.nn.modules.activation"


def test_all_lists_stay_sorted_like_upstream() -> None:
    """nn.modules.__all__ is sorted (case-sensitively); adding LELU must keep it so."""
    names = list(nn.modules.__all__)
    assert names == sorted(names)


def test_docstrings() -> None:
    fdoc = F.lelu.__doc__
    mdoc = nn.LELU.__doc__
    assert fdoc and mdoc
    for doc in (fdoc, mdoc):
        assert r"\sigma(k x)" in doc
        assert r"\tanh" in doc
        assert r"\frac{\pi}{\sqrt{3}}" in doc
        assert "165982" in doc
    assert "See :class:`~torch.nn.LELU` for more details." in fdoc
    assert "Shape:" in mdoc and "Examples::" in mdoc
    assert ">>> m = nn.LELU()" in mdoc
    assert ".. image:: ../scripts/activation_images/LELU.png" in mdoc
    assert r"\text{LELU}(-\infty) = -0" in mdoc


def test_docstring_example_runs() -> None:
    """The module docstring's example, executed."""
    doc = nn.LELU.__doc__ or ""
    lines = [line.strip()[4:] for line in doc.splitlines() if line.strip().startswith(">>> ")]
    assert lines, "no example in nn.LELU's docstring"
    namespace: dict[str, Any] = {"torch": torch, "nn": nn}
    exec("\n".join(lines), namespace)
    assert namespace["output"].shape == namespace["input"].shape


def test_testing_overrides_lists_lelu() -> None:
    overrides = get_testing_overrides()
    assert F.lelu in overrides
    lambda_sig = inspect.signature(overrides[F.lelu])
    assert list(lambda_sig.parameters) == list(inspect.signature(F.lelu).parameters)
    assert lambda_sig.parameters["inplace"].default is False


class Logged(torch.Tensor):
    """A subclass that records every function reaching __torch_function__."""

    seen: list[Any] = []

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        cls.seen.append(func)
        return super().__torch_function__(func, types, args, kwargs or {})


@pytest.mark.parametrize("inplace", [False, True])
def test_torch_function_reaches_functional_and_module(inplace: bool) -> None:
    Logged.seen.clear()
    x = sample().as_subclass(Logged)
    y = F.lelu(x.clone(), inplace=inplace)
    assert F.lelu in Logged.seen
    assert type(y) is Logged
    assert torch.equal(y.as_subclass(torch.Tensor), F.lelu(sample()))
    Logged.seen.clear()
    z = nn.LELU(inplace=inplace)(x.clone())
    assert F.lelu in Logged.seen
    assert type(z) is Logged


def test_torch_function_override_replaces_result() -> None:
    class Replaced:
        @classmethod
        def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            return ("handled", func, kwargs)

    result = F.lelu(Replaced(), inplace=True)  # type: ignore[arg-type]
    assert result == ("handled", F.lelu, {"inplace": True})


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_native_out(dtype: torch.dtype) -> None:
    x = sample(dtype)
    out = torch.empty_like(x)
    returned = torch._C._nn.lelu(x, out=out)
    assert returned is out
    assert torch.equal(out, F.lelu(x))
    # a zero-element out= is resized silently
    out0 = torch.empty(0, dtype=dtype)
    torch._C._nn.lelu(x, out=out0)
    assert out0.shape == x.shape and torch.equal(out0, F.lelu(x))


def test_native_backward_out() -> None:
    x = sample(torch.float64)
    grad = torch.rand_like(x)
    out = torch.empty_like(x)
    returned = torch.ops.aten.lelu_backward.grad_input(grad, x, grad_input=out)
    assert returned is out
    assert torch.equal(out, torch.ops.aten.lelu_backward(grad, x))


def test_native_schemas() -> None:
    def schema(overload: Any) -> str:
        return str(overload._schema)

    assert schema(torch.ops.aten.lelu.default) == "aten::lelu(Tensor self) -> Tensor"
    assert schema(torch.ops.aten.lelu_.default) == "aten::lelu_(Tensor(a!) self) -> Tensor(a!)"
    assert schema(torch.ops.aten.lelu.out) == "aten::lelu.out(Tensor self, *, Tensor(a!) out) -> Tensor(a!)"
    assert schema(torch.ops.aten.lelu_backward.default) == (
        "aten::lelu_backward(Tensor grad_output, Tensor self) -> Tensor"
    )
    assert schema(torch.ops.aten.lelu_backward.grad_input) == (
        "aten::lelu_backward.grad_input(Tensor grad_output, Tensor self, *, Tensor(a!) grad_input) -> Tensor(a!)"
    )
    # the same shapes as silu's
    assert schema(torch.ops.aten.silu.out).replace("silu", "lelu") == schema(torch.ops.aten.lelu.out)
    for name in ("lelu", "lelu_", "lelu_backward"):
        assert torch.Tag.pointwise in getattr(torch.ops.aten, name).default.tags


def test_no_method_variant() -> None:
    """Like silu and mish, lelu lives in torch._C._nn (python_module: nn), not on Tensor."""
    assert not hasattr(torch.Tensor, "lelu")
    assert not hasattr(torch, "lelu")


def test_documented_values() -> None:
    """The table of LELU_MATH.md, through the op (float64 within 4 ULP)."""
    xs = torch.tensor([-57.0, -50.0, -20.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0], dtype=torch.float64)
    documented = np.array(
        [
            -7.1723373965971503e-44,
            -2.0550256456204592e-38,
            -3.5202125938991544e-15,
            -0.012944169002509226,
            -0.14017956485372646,
            -0.1438173384504411,
            0.0,
            0.3561826615495589,
            0.85982043514627354,
            2.9870558309974908,
        ]
    )
    err = ulp_error(F.lelu(xs), documented, torch.float64)
    assert err.max() <= 4, worst(err, xs.numpy())


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("n", [1, 255, 256, 257, 4095, 4097, 20011])
def test_strided_operands_give_the_contiguous_bits(dtype: torch.dtype, n: int) -> None:
    """The CPU kernel gathers operands that are not contiguous into buffers, the next chunk while the
    current one is computed (cpu/LeluKernel.cpp); lengths around and across its chunks (16 vectors),
    strided and broadcast inputs, a strided grad_output and a strided out= give the contiguous bits."""
    gen = torch.Generator().manual_seed(n)
    wide = (torch.randn(3 * n, generator=gen, dtype=torch.float64) * 30).to(dtype)
    wide[::97] = float("nan")
    wide[5::101] = float("-inf")
    grad_wide = torch.randn(3 * n, generator=gen, dtype=torch.float64).to(dtype)
    x, grad = wide[1::3], grad_wide[::3]
    expected = F.lelu(x.contiguous())
    expected_backward = torch.ops.aten.lelu_backward(grad.contiguous(), x.contiguous())
    assert not bits_differ(F.lelu(x), expected).any()
    out = torch.empty(2 * n, dtype=dtype)[::2]
    torch._C._nn.lelu(x, out=out)
    assert not bits_differ(out, expected).any()
    assert not bits_differ(torch.ops.aten.lelu_backward(grad, x), expected_backward).any()
    assert not bits_differ(torch.ops.aten.lelu_backward(grad.contiguous(), x), expected_backward).any()
    assert not bits_differ(torch.ops.aten.lelu_backward(grad, x.contiguous()), expected_backward).any()
    row = x[:1].expand(n)
    assert not bits_differ(F.lelu(row), F.lelu(row.contiguous())).any()
