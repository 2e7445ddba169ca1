"""LELU on nested tensors, forward and backward, against the same ops on each component.

Strided nested tensors (the default layout) reach NestedTensor_lelu, NestedTensor_lelu_ and
lelu_backward_nested through the NestedTensorCPU dispatch key; jagged ones
(layout=torch.jagged) reach the dense kernels through the pointwise tag of the ops.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F
from torch import nn

DTYPES = (torch.float32, torch.float64)
LAYOUTS = (torch.strided, torch.jagged)


@pytest.fixture(autouse=True)
def quiet_prototype_warning() -> Iterator[None]:
    # Strided nested tensors warn that their API is a prototype; that is not under test here.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The PyTorch API of nested tensors is in prototype stage")
        yield


def components(dtype: torch.dtype, seed: int = 0) -> list[torch.Tensor]:
    """Three components with the same trailing size (jagged in dim 0), special values included."""
    gen = torch.Generator().manual_seed(seed)
    parts = [torch.randn(n, 3, generator=gen, dtype=torch.float64) * 5 for n in (2, 5, 1)]
    parts[1][0] = torch.tensor([float("-inf"), float("inf"), float("nan")])
    parts[1][1] = torch.tensor([-0.0, 0.0, -60.0])
    return [p.to(dtype) for p in parts]


def nested(parts: list[torch.Tensor], layout: torch.layout, requires_grad: bool = False) -> torch.Tensor:
    return torch.nested.nested_tensor([p.clone() for p in parts], layout=layout, requires_grad=requires_grad)


def like(nt: torch.Tensor, parts: list[torch.Tensor]) -> torch.Tensor:
    """A nested tensor with nt's layout and structure (jagged: the same offsets) holding parts."""
    if nt.layout == torch.jagged:
        return torch.nested.nested_tensor_from_jagged(torch.cat(parts), nt.offsets())
    return torch.nested.nested_tensor(parts)


def assert_identical(actual: list[torch.Tensor], expected: list[torch.Tensor]) -> None:
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        torch.testing.assert_close(a, e, rtol=0, atol=0, equal_nan=True)
        # the sign of a zero is kept; a NaN's sign is not specified (grad * NaN, NaN * grad)
        numbers = ~a.isnan()
        assert torch.equal(torch.signbit(a[numbers]), torch.signbit(e[numbers]))


@pytest.mark.parametrize("op", ["lelu", "lelu_", "lelu_backward"])
def test_strided_kernels_are_registered(op: str) -> None:
    assert torch._C._dispatch_has_kernel_for_dispatch_key(f"aten::{op}", "NestedTensorCPU")


@pytest.mark.parametrize("op", [torch.ops.aten.lelu, torch.ops.aten.lelu_, torch.ops.aten.lelu_backward])
def test_ops_are_tagged_pointwise_for_jagged(op: torch._ops.OpOverloadPacket) -> None:
    assert torch.Tag.pointwise in op.default.tags


@pytest.mark.parametrize("layout", LAYOUTS, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_forward(layout: torch.layout, dtype: torch.dtype) -> None:
    parts = components(dtype)
    nt = nested(parts, layout)
    for out in (F.lelu(nt), nn.LELU()(nt), torch.ops.aten.lelu(nt)):
        assert out.is_nested and out.layout == layout
        assert_identical(list(out.unbind()), [F.lelu(p) for p in parts])


@pytest.mark.parametrize("layout", LAYOUTS, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_inplace(layout: torch.layout, dtype: torch.dtype) -> None:
    parts = components(dtype)
    expected = [F.lelu(p) for p in parts]
    for apply in (lambda t: F.lelu(t, inplace=True), lambda t: nn.LELU(inplace=True)(t)):
        nt = nested(parts, layout)
        out = apply(nt)
        assert out is nt
        assert_identical(list(nt.unbind()), expected)


@pytest.mark.parametrize("layout", LAYOUTS, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_lelu_backward(layout: torch.layout, dtype: torch.dtype) -> None:
    parts = components(dtype)
    grads = components(dtype, seed=1)
    nt = nested(parts, layout)
    out = torch.ops.aten.lelu_backward(like(nt, grads), nt)
    assert out.is_nested and out.layout == layout
    expected = [torch.ops.aten.lelu_backward(g, p) for g, p in zip(grads, parts, strict=True)]
    assert_identical(list(out.unbind()), expected)


@pytest.mark.parametrize("layout", LAYOUTS, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_backward(layout: torch.layout, dtype: torch.dtype) -> None:
    parts = components(dtype)
    grads = components(dtype, seed=1)
    nt = nested(parts, layout, requires_grad=True)
    out = F.lelu(nt)
    (grad_in,) = torch.autograd.grad(out, nt, like(out, grads))
    expected = []
    for p, g in zip(parts, grads, strict=True):
        leaf = p.clone().requires_grad_()
        (gp,) = torch.autograd.grad(F.lelu(leaf), leaf, g)
        expected.append(gp)
    assert_identical(list(grad_in.unbind()), expected)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_jagged_double_backward(dtype: torch.dtype) -> None:
    # create_graph: the composite first derivative, then its derivative, on the jagged values.
    parts = [p.nan_to_num(posinf=4.0, neginf=-4.0) for p in components(dtype)]
    grads = components(dtype, seed=1)
    ggrads = components(dtype, seed=2)
    nt = nested(parts, torch.jagged, requires_grad=True)
    out = F.lelu(nt)
    (grad_in,) = torch.autograd.grad(out, nt, like(out, grads), create_graph=True)
    (grad2,) = torch.autograd.grad(grad_in, nt, like(out, ggrads))
    expected = []
    for p, g, gg in zip(parts, grads, ggrads, strict=True):
        leaf = p.clone().requires_grad_()
        (gp,) = torch.autograd.grad(F.lelu(leaf), leaf, g, create_graph=True)
        expected.append(torch.autograd.grad(gp, leaf, gg)[0])
    assert_identical(list(grad2.unbind()), expected)
