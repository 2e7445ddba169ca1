"""torch.compile of lelu (the [decomp] and [dynamo] patches) with Inductor on CPU.

Dynamo records F.lelu and nn.LELU in the graph (fullgraph=True fails on a graph break), Inductor
decomposes lelu and lelu_backward into one fused C++ kernel each (no call to the ATen kernel),
and the compiled results keep the special values and stay within the tolerances of
lelu_decomp_accuracy.py, of the references and of the eager kernel.  Inductor compiles C++ with
the machine's compiler, which is slow on a small machine: the tests share a few compiled
functions (dynamic shapes, so new sizes do not recompile).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import pytest
import torch
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
from torch import nn
from torch._dynamo.testing import CompileCounterWithBackend
from torch._inductor.utils import run_and_get_code, run_fw_bw_and_get_code

Fn = Callable[..., torch.Tensor]


def kernels(code: str) -> list[str]:
    """The names of the C++ kernels that an Inductor output module defines."""
    return re.findall(r"^(cpp_fused_\w+) = async_compile\.cpp", code, flags=re.MULTILINE)


def assert_one_fused_kernel(code: str) -> None:
    assert len(kernels(code)) == 1, f"expected one fused kernel, found {kernels(code)}:\n{code}"
    call = code[code.index("def call(") :]
    assert "aten.lelu" not in code and "extern_kernels." not in call, "the ATen kernel is called:\n" + code
    # the decomposition is inlined in the kernel, vectorized
    assert ".exp()" in code and "at::vec::Vectorized<float>" in code, code


@pytest.fixture(scope="module")
def compiled_lelu() -> Fn:
    return torch.compile(F.lelu, fullgraph=True, dynamic=True)


def compiled_lelu_backward(compiled: Fn) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def lelu_backward(grad: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        leaf = x.detach().requires_grad_()
        compiled(leaf).backward(grad)
        assert leaf.grad is not None
        return leaf.grad

    return lelu_backward


# ---------------------------------------------------------------------------------------------
# Dynamo: in the graph, no graph break
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "target"),
    [
        (F.lelu, F.lelu),
        (torch._C._nn.lelu, torch._C._nn.lelu),
        (nn.LELU(), F.lelu),
        (lambda x: F.lelu(x.clone(), inplace=True), F.lelu),
    ],
    ids=["F.lelu", "torch._C._nn.lelu", "nn.LELU", "F.lelu_inplace"],
)
def test_dynamo_puts_lelu_in_the_graph(fn: Fn, target: Fn) -> None:
    """F.lelu is an in-graph function and torch._C._nn.lelu an in-graph builtin (trace_rules.py):
    Dynamo records the call as it is, in one graph."""
    graphs: list[torch.fx.GraphModule] = []

    def backend(gm: torch.fx.GraphModule, example_inputs: list[torch.Tensor]) -> Callable[..., object]:
        graphs.append(gm)
        return gm.forward

    x = torch.randn(8)
    y = torch.compile(fn, backend=backend, fullgraph=True)(x)
    assert torch.equal(y, F.lelu(x))
    assert len(graphs) == 1
    called = [node.target for node in graphs[0].graph.nodes if node.op == "call_function"]
    assert called == [target], called


def test_graph_breaks_none() -> None:
    explanation = torch._dynamo.explain(lambda x: F.lelu(torch._C._nn.lelu(x) + 1))(torch.randn(4))
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1


# ---------------------------------------------------------------------------------------------
# Inductor: the generated code
# ---------------------------------------------------------------------------------------------


def test_inductor_forward_is_one_fused_kernel() -> None:
    x = torch.tensor(SPECIALS)
    y, codes = run_and_get_code(torch.compile(F.lelu, fullgraph=True, dynamic=True), x)
    assert len(codes) == 1
    assert_one_fused_kernel(codes[0])
    check_special_forward(y)


def test_inductor_forward_and_backward_are_one_fused_kernel_each() -> None:
    x = torch.tensor(SPECIALS, requires_grad=True)
    compiled = torch.compile(F.lelu, fullgraph=True, dynamic=True)
    y, codes = run_fw_bw_and_get_code(lambda: compiled(x))
    assert len(codes) == 2, codes
    forward, backward = codes
    assert_one_fused_kernel(forward)
    assert_one_fused_kernel(backward)
    assert "lelu_backward" in kernels(backward)[0]
    check_special_forward(y.detach())
    assert x.grad is not None
    check_special_backward(x.grad)


# ---------------------------------------------------------------------------------------------
# Inductor: values
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_compiled_forward_accuracy(compiled_lelu: Fn, dtype: torch.dtype) -> None:
    check_forward(compiled_lelu, dtype)
    check_special_forward(compiled_lelu(torch.tensor(SPECIALS, dtype=dtype)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_compiled_backward_accuracy(compiled_lelu: Fn, dtype: torch.dtype) -> None:
    lelu_backward = compiled_lelu_backward(compiled_lelu)
    check_backward(lelu_backward, dtype)
    x = torch.tensor(SPECIALS, dtype=dtype)
    check_special_backward(lelu_backward(torch.ones_like(x), x))
    # a NaN grad_output propagates, also where lelu' is 0
    assert bool(lelu_backward(torch.full_like(x, math.nan), x).isnan().all())


def test_compiled_reduced_precision_every_value() -> None:
    """float16 and bfloat16 (one graph for both): every finite value, within 1 ULP of eager."""
    both = torch.compile(lambda a, b: (F.lelu(a), F.lelu(b)), fullgraph=True, dynamic=True)
    half, bfloat = all_finite_values(torch.float16), all_finite_values(torch.bfloat16)
    y_half, y_bfloat = both(half, bfloat)
    check_reduced(y_half, F.lelu(half))
    check_reduced(y_bfloat, F.lelu(bfloat))
    y_half, y_bfloat = both(torch.tensor(SPECIALS, dtype=torch.float16), torch.tensor(SPECIALS, dtype=torch.bfloat16))
    check_special_forward(y_half)
    check_special_forward(y_bfloat)


def test_dynamic_shapes_do_not_recompile() -> None:
    counter = CompileCounterWithBackend("inductor")
    compiled = torch.compile(F.lelu, backend=counter, fullgraph=True, dynamic=True)
    for shape in [(5, 7), (17, 3), (64, 130)]:
        x = torch.randn(shape) * 10
        torch.testing.assert_close(compiled(x), F.lelu(x), atol=0, rtol=5e-7)
    assert counter.frame_count == 1
    # non-contiguous input
    x = torch.randn(30, 20).t() * 10
    torch.testing.assert_close(compiled(x), F.lelu(x), atol=0, rtol=5e-7)


def test_compiled_module_and_inplace() -> None:
    module = nn.LELU()
    inplace = nn.LELU(inplace=True)

    def fn(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = module(x)
        z = x.clone()
        inplace(z)
        return y, z

    compiled = torch.compile(fn, fullgraph=True, dynamic=True)
    x = torch.tensor([*SPECIALS, -58.0, -55.0, -3.0, -0.7, 0.5, 2.0, 60.0])
    y, z = compiled(x)
    check_special_forward(y[:5])
    check_special_forward(z[:5])
    torch.testing.assert_close(y, F.lelu(x), atol=0, rtol=5e-7, equal_nan=True)
    assert torch.equal(y.nan_to_num(), z.nan_to_num())


class SmallModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(8, 32), nn.LELU(), nn.Linear(32, 32), nn.LELU(inplace=True), nn.Linear(32, 4)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.lelu(self.net(x))


def test_compiled_small_model_trains_like_eager() -> None:
    torch.manual_seed(0)
    eager = SmallModel().double()
    model = SmallModel().double()
    model.load_state_dict(eager.state_dict())
    counter = CompileCounterWithBackend("inductor")
    compiled = torch.compile(model, backend=counter, fullgraph=True, dynamic=True)
    for batch in (16, 7):
        x = torch.randn(batch, 8, dtype=torch.float64) * 4
        expected = eager(x)
        y = compiled(x)
        torch.testing.assert_close(y, expected, atol=1e-13, rtol=1e-12)
        expected.square().sum().backward()
        y.square().sum().backward()
        for (name, p_eager), p in zip(eager.named_parameters(), model.parameters(), strict=True):
            assert p.grad is not None and p_eager.grad is not None
            torch.testing.assert_close(p.grad, p_eager.grad, atol=1e-12, rtol=1e-11, msg=name)
    assert counter.frame_count == 1


def test_power_of_two_of_the_decomposition_is_exact() -> None:
    """The float64 decomposition builds exp from 2^j = pow(2.0, j), j an integer in [-600, 0]
    (torch._refs.nn.functional._lelu_exp): exact in eager and in Inductor's code, or its error
    would be the backend's again."""
    j = torch.arange(-700, 1, dtype=torch.float64)
    exact = torch.tensor([math.ldexp(1.0, int(v)) for v in j.tolist()], dtype=torch.float64)
    compiled = torch.compile(lambda t: torch.pow(2.0, t), dynamic=True)
    assert torch.equal(torch.pow(2.0, j), exact)
    assert torch.equal(compiled(j), exact)
