"""torch.compile of lelu (the [dynamo] and [inductor] patches) with Inductor on CPU.

Dynamo records F.lelu and nn.LELU in the graph (fullgraph=True fails on a graph break).  Inductor
lowers aten.lelu and aten.lelu_backward as pointwise ops whose C++ is the ATen kernel's element
functions (at::native::lelu_opmath / lelu_backward_opmath of cpu/LeluVec.h, through
cpp_prefix.h), inlined in its fused loops: one fused kernel for the forward and one for the
backward, no call to the ATen kernel, no float64 for a float32, bfloat16 or float16 input, the
input alone saved for the backward (as silu), and the eager kernel's bits in every dtype.  Inductor
compiles C++ with the machine's compiler, which is slow on a small machine: the tests share a few
compiled functions (dynamic shapes, so new sizes do not recompile).
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from lelu_decomp_accuracy import SPECIALS, check_special_backward, check_special_forward, inputs
from lelu_reference import all_finite_values, bits_differ
from torch import nn
from torch._dynamo.testing import CompileCounterWithBackend
from torch._inductor.utils import run_and_get_code, run_fw_bw_and_get_code

Fn = Callable[..., torch.Tensor]


def kernels(code: str) -> list[str]:
    """The names of the C++ kernels that an Inductor output module defines."""
    return re.findall(r"^(cpp_fused_\w+) = async_compile\.cpp", code, flags=re.MULTILINE)


def assert_one_fused_kernel(code: str, element_function: str, dtype: torch.dtype = torch.float32) -> None:
    assert len(kernels(code)) == 1, f"expected one fused kernel, found {kernels(code)}:\n{code}"
    call = code[code.index("def call(") :]
    assert "aten.lelu" not in code and "extern_kernels." not in call, "the ATen kernel is called:\n" + code
    # the kernel's element function is inlined in the vectorized loop
    assert f"at::native::{element_function}(" in code and "at::vec::Vectorized<float>" in code, code
    if dtype != torch.float64:
        assert "double" not in code[code.index("extern \"C\"") :], "float64 in the kernel:\n" + code


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
    assert_one_fused_kernel(codes[0], "lelu_opmath")
    check_special_forward(y)


def test_inductor_forward_and_backward_are_one_fused_kernel_each() -> None:
    x = torch.tensor(SPECIALS, requires_grad=True)
    compiled = torch.compile(F.lelu, fullgraph=True, dynamic=True)
    y, codes = run_fw_bw_and_get_code(lambda: compiled(x))
    assert len(codes) == 2, codes
    forward, backward = codes
    assert_one_fused_kernel(forward, "lelu_opmath")
    assert_one_fused_kernel(backward, "lelu_backward_opmath")
    assert "lelu_backward" in kernels(backward)[0]
    check_special_forward(y.detach())
    assert x.grad is not None
    check_special_backward(x.grad)


def test_inductor_fuses_lelu_with_its_neighbours() -> None:
    """As silu does: lelu between two pointwise ops, forward and backward, is one kernel each."""
    x = torch.randn(1000, requires_grad=True)
    compiled = torch.compile(lambda t: F.lelu(t * 2.0) + 1.0, fullgraph=True, dynamic=True)
    y, codes = run_fw_bw_and_get_code(lambda: compiled(x))
    forward, backward = codes
    assert_one_fused_kernel(forward, "lelu_opmath")
    assert_one_fused_kernel(backward, "lelu_backward_opmath")
    assert torch.equal(y.detach(), F.lelu(x.detach() * 2.0) + 1.0)


# ---------------------------------------------------------------------------------------------
# Inductor: values
# ---------------------------------------------------------------------------------------------


def assert_same_bits(actual: torch.Tensor, expected: torch.Tensor, x: torch.Tensor) -> None:
    """Bit for bit (NaN matches NaN; the sign of a zero counts)."""
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    same = ~bits_differ(actual, expected)
    if not bool(same.all()):
        i = int((~same).nonzero()[0])
        raise AssertionError(
            f"{int((~same).sum())} results differ from the eager kernel's, first at x = {x[i].item()!r}: "
            f"{actual[i].item()!r} against {expected[i].item()!r}"
        )


def kernel_inputs(dtype: torch.dtype) -> torch.Tensor:
    """The accuracy tests' dense inputs (float32, float64: lelu_decomp_accuracy.inputs, with the
    underflow bands, the neighbourhood of x0 and every binade) or every finite value (float16,
    bfloat16), and the special values."""
    if dtype in (torch.float32, torch.float64):
        x = torch.from_numpy(inputs(dtype)).to(dtype)
    else:
        x = all_finite_values(dtype)
    return torch.cat([x, torch.tensor(SPECIALS, dtype=dtype)])


DTYPES = [torch.float32, torch.float64, torch.bfloat16, torch.float16]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_compiled_forward_is_the_kernel_bit_for_bit(compiled_lelu: Fn, dtype: torch.dtype) -> None:
    """The compiled forward runs the kernel's element functions: the eager kernel's bits (which
    test_accuracy.py holds to its ULP bounds against mpmath) on every dense input, specials kept."""
    x = kernel_inputs(dtype)
    y = compiled_lelu(x)
    assert_same_bits(y, F.lelu(x), x)
    check_special_forward(y[-len(SPECIALS) :])


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_compiled_backward_is_the_kernel_bit_for_bit(compiled_lelu: Fn, dtype: torch.dtype) -> None:
    lelu_backward = compiled_lelu_backward(compiled_lelu)
    x = kernel_inputs(dtype)
    grad = torch.linspace(-3, 3, x.numel(), dtype=torch.float64).to(dtype)
    assert_same_bits(lelu_backward(grad, x), torch.ops.aten.lelu_backward(grad, x), x)
    specials = torch.tensor(SPECIALS, dtype=dtype)
    check_special_backward(lelu_backward(torch.ones_like(specials), specials))
    # a NaN grad_output propagates, also where lelu' is 0
    assert bool(lelu_backward(torch.full_like(specials, math.nan), specials).isnan().all())


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_compiled_forward_saves_only_the_input(dtype: torch.dtype) -> None:
    """What the compiled forward keeps for the backward: the input alone, as for silu (no mask,
    nothing in float64)."""

    def saved_bytes(fn: Fn) -> int:
        saved: list[torch.Tensor] = []
        x = torch.randn(1000, dtype=dtype, requires_grad=True)
        with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
            torch.compile(fn, fullgraph=True)(x * 1).sum().backward()
        return sum(t.numel() * t.element_size() for t in saved)

    torch._dynamo.reset()
    assert saved_bytes(F.lelu) == saved_bytes(F.silu) == 1000 * torch.finfo(dtype).bits // 8


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.bool, torch.complex64], ids=str)
def test_compiled_bad_dtype_gets_the_eager_error(dtype: torch.dtype) -> None:
    x = torch.ones(4, dtype=dtype)
    with pytest.raises(NotImplementedError) as eager:
        F.lelu(x)
    torch._dynamo.reset()
    with pytest.raises(Exception) as compiled:
        torch.compile(F.lelu, fullgraph=True)(x)
    # Dynamo reports the error of running the op on fake tensors, with that error as its cause
    root: BaseException = compiled.value
    while root.__cause__ is not None:
        root = root.__cause__
    assert type(root) is NotImplementedError and str(root) == str(eager.value), (eager.value, compiled.value)


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


def test_inductor_cache_is_keyed_on_the_installed_headers() -> None:
    """Inductor's cache keys cover the code it generates, not the headers that code includes: the
    overlay gives each build's headers (cpu/LeluVec.h, through cpp_prefix.h) a cache directory of
    its own, so a kernel compiled against older element functions is never reused.  A directory the
    user sets is kept."""
    import lelu_overlay

    from lelu_tools.overlay import HEADERS_KEY

    key = (Path(lelu_overlay.__file__).parent / HEADERS_KEY).read_text().strip()
    probe = "import os, torch; print(os.environ['TORCHINDUCTOR_CACHE_DIR'])"
    env = {k: v for k, v in os.environ.items() if k != "TORCHINDUCTOR_CACHE_DIR"}
    keyed = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert keyed.stdout.strip().endswith(key[:16]), keyed.stdout
    env["TORCHINDUCTOR_CACHE_DIR"] = "/somewhere/else"
    kept = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert kept.stdout.strip() == "/somewhere/else"
