"""torch.func over LELU: the batching rules of lelu, lelu_ and lelu_backward.

Every test runs with the vmap fallback disabled, so an op without a batching rule raises
instead of silently looping over the batch; results are compared with a loop over the batch
or with eager autograd (torch.autograd.functional, which does not use vmap).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import grad, hessian, jacfwd, jacrev, jvp, vmap

DTYPES = (torch.float32, torch.float64)


@pytest.fixture(autouse=True)
def no_vmap_fallback() -> Iterator[None]:
    was = torch._C._functorch._is_vmap_fallback_enabled()
    torch._C._functorch._set_vmap_fallback_enabled(False)
    try:
        yield
    finally:
        torch._C._functorch._set_vmap_fallback_enabled(was)


def sample(*shape: int, dtype: torch.dtype = torch.float64, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=gen, dtype=torch.float64) * 4
    flat = x.view(-1)
    flat[: min(4, flat.numel())] = torch.tensor([float("-inf"), float("inf"), -0.0, 0.0])[: min(4, flat.numel())]
    return x.to(dtype)


def loop(fn: Callable[..., torch.Tensor], *args: torch.Tensor | None, dim: int = 0) -> torch.Tensor:
    """fn over the batch one example at a time; None marks an argument that is not batched."""
    size = next(a.shape[dim] for a in args if a is not None)
    return torch.stack([fn(*(a if a is None else a.select(dim, i) for a in args)) for i in range(size)])


def assert_identical(actual: torch.Tensor, expected: torch.Tensor) -> None:
    torch.testing.assert_close(actual, expected, rtol=0, atol=0, equal_nan=True)
    assert torch.equal(torch.signbit(actual), torch.signbit(expected))


@pytest.mark.parametrize("op", ["lelu", "lelu_", "lelu_backward"])
def test_batching_rules_are_registered(op: str) -> None:
    assert torch._C._dispatch_has_kernel_for_dispatch_key(f"aten::{op}", "FuncTorchBatched")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("in_dim", [0, 1, -1])
def test_vmap_forward(dtype: torch.dtype, in_dim: int) -> None:
    x = sample(5, 3, 7, dtype=dtype)
    assert_identical(vmap(F.lelu, in_dims=in_dim)(x), loop(F.lelu, x, dim=in_dim))
    assert_identical(vmap(nn.LELU(), in_dims=in_dim, out_dims=in_dim)(x), F.lelu(x))


def test_nested_vmap() -> None:
    x = sample(4, 3, 5)
    assert_identical(vmap(vmap(F.lelu))(x), F.lelu(x))
    assert_identical(vmap(vmap(F.lelu, in_dims=1), in_dims=2)(x), F.lelu(x).permute(2, 1, 0))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_vmap_inplace(dtype: torch.dtype) -> None:
    x = sample(6, 5, dtype=dtype)
    y = x.clone()
    out = vmap(lambda t: F.lelu(t, inplace=True), in_dims=1, out_dims=1)(y)
    assert_identical(y, F.lelu(x))
    assert out.data_ptr() == y.data_ptr()
    z = x.clone()
    vmap(nn.LELU(inplace=True))(z)
    assert_identical(z, F.lelu(x))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(
    "in_dims, grad_shape, input_shape",
    [
        ((0, 0), (6, 4, 3), (6, 4, 3)),
        ((None, 0), (4, 3), (6, 4, 3)),
        ((0, None), (6, 4, 3), (4, 3)),
        ((1, 0), (4, 6, 3), (6, 4, 3)),
        ((None, 0), (3,), (6, 4, 3)),  # broadcasting across different logical ranks
        ((0, None), (6, 3), (4, 3)),
    ],
)
def test_vmap_lelu_backward(
    dtype: torch.dtype, in_dims: tuple[int | None, int | None], grad_shape: tuple[int, ...],
    input_shape: tuple[int, ...],
) -> None:
    g = sample(*grad_shape, dtype=dtype, seed=1)
    x = sample(*input_shape, dtype=dtype, seed=2)
    batched = vmap(torch.ops.aten.lelu_backward, in_dims=in_dims)(g, x)
    gd, xd = in_dims
    size = g.shape[gd] if gd is not None else x.shape[xd or 0]
    expected = torch.stack([
        torch.ops.aten.lelu_backward(g if gd is None else g.select(gd, i), x if xd is None else x.select(xd, i))
        for i in range(size)
    ])
    assert_identical(batched, expected)


def test_vmap_lelu_backward_promotes_like_eager() -> None:
    # A batch of 0-d inputs against an unbatched 1-d gradient: each example promotes like a
    # 0-d tensor (the gradient's dtype wins), not like the 1-d physical batch.
    g = sample(3, dtype=torch.float64, seed=1)
    x = sample(5, dtype=torch.float32, seed=2)
    batched = vmap(torch.ops.aten.lelu_backward, in_dims=(None, 0))(g, x)
    expected = loop(lambda xi: torch.ops.aten.lelu_backward(g, xi), x)
    assert batched.dtype == expected.dtype == torch.float64
    assert_identical(batched, expected)


def finite_sample(*shape: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=torch.float64) * 3


def test_vmap_of_grad() -> None:
    xs = finite_sample(6, 7)
    batched = vmap(grad(lambda t: F.lelu(t).sum()))(xs)
    leaf = xs.clone().requires_grad_()
    F.lelu(leaf).sum().backward()
    torch.testing.assert_close(batched, leaf.grad, rtol=1e-14, atol=0)


def test_per_sample_gradients() -> None:
    w = finite_sample(4, 3, seed=1)
    xs = finite_sample(8, 4, seed=2)

    def loss(weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return nn.LELU()(x @ weight).square().sum()

    batched = vmap(grad(loss), in_dims=(None, 0))(w, xs)
    expected = torch.stack([torch.autograd.grad(loss(w.requires_grad_(), x), w)[0] for x in xs])
    torch.testing.assert_close(batched, expected, rtol=1e-13, atol=1e-15)


# The Jacobians and Hessians are taken for a batch of inputs (vmap over the transform), so
# that lelu itself runs batched: jacrev, jacfwd and hessian of one input batch only the
# tangents, which flow through the derivative formulas.
@pytest.mark.parametrize("transform", [jacrev, jacfwd], ids=lambda t: t.__name__)
def test_jacobian(transform: Callable[..., Callable[..., torch.Tensor]]) -> None:
    xs = finite_sample(3, 2, 5)
    jac = vmap(transform(F.lelu))(xs)
    expected = torch.stack([torch.autograd.functional.jacobian(F.lelu, x) for x in xs])
    torch.testing.assert_close(jac, expected, rtol=1e-14, atol=0)


@pytest.mark.parametrize("transform", [jacrev, jacfwd], ids=lambda t: t.__name__)
def test_jacobian_of_lelu_backward(transform: Callable[..., Callable[..., torch.Tensor]]) -> None:
    # The double backward and its forward-mode formula, batched.
    g = finite_sample(6, seed=1)
    x = finite_sample(6, seed=2)
    jac = transform(torch.ops.aten.lelu_backward, argnums=(0, 1))(g, x)
    expected = torch.autograd.functional.jacobian(torch.ops.aten.lelu_backward, (g, x))
    for a, b in zip(jac, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-16)


def test_hessian() -> None:
    xs = finite_sample(4, 6)

    def f(t: torch.Tensor) -> torch.Tensor:
        return F.lelu(t).sum()

    h = vmap(hessian(f))(xs)
    expected = torch.stack([torch.autograd.functional.hessian(f, x) for x in xs])
    torch.testing.assert_close(h, expected, rtol=1e-13, atol=1e-16)
    # lelu is elementwise: each hessian is diagonal, with lelu''(0) = k / 2 at 0.
    assert torch.equal(h, torch.diag_embed(torch.diagonal(h, dim1=1, dim2=2)))
    torch.testing.assert_close(vmap(hessian(f))(torch.zeros(2, 1, dtype=torch.float64)),
                               torch.full((2, 1, 1), 0.90689968211710893, dtype=torch.float64))


def test_vmap_of_jvp() -> None:
    x = finite_sample(5, 4)
    t = finite_sample(5, 4, seed=3)
    out, tangent = vmap(lambda p, v: jvp(F.lelu, (p,), (v,)))(x, t)
    assert_identical(out, F.lelu(x))
    torch.testing.assert_close(tangent, torch.ops.aten.lelu_backward(t, x), rtol=1e-14, atol=0)
