"""TorchScript: torch.jit.script of F.lelu, torch._C._nn.lelu and nn.LELU compiles them to the
aten::lelu / aten::lelu_ builtins (the overlay adds torch._C._nn.lelu and lelu_ to TorchScript's
table of builtins at load, as a source build has them from the start), the scripted code gives
the eager results bit for bit, and survives torch.jit.save / load and torch.jit.trace."""

from __future__ import annotations

import io
import math

import torch
import torch.nn.functional as F
from lelu_decomp_accuracy import SPECIALS, check_special_forward
from torch import nn


def lelu_function(x: torch.Tensor) -> torch.Tensor:
    return F.lelu(x) + torch._C._nn.lelu(x * 2)


def lelu_inplace_function(x: torch.Tensor) -> torch.Tensor:
    y = x.clone()
    F.lelu(y, inplace=True)
    return y


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(5, 5)
        self.act = nn.LELU()
        self.act_inplace = nn.LELU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act_inplace(self.linear(self.act(x)))


def sample() -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(6, 5, generator=gen) * 8
    x[0] = torch.tensor([*SPECIALS])
    return x


def graph_ops(graph: torch._C.Graph) -> set[str]:
    """The kinds of every node of the graph, inside blocks (prim::If) too."""
    kinds: set[str] = set()
    pending = list(graph.nodes())
    while pending:
        node = pending.pop()
        kinds.add(node.kind())
        for block in node.blocks():
            pending.extend(block.nodes())
    return kinds


def test_script_function_uses_the_builtin() -> None:
    scripted = torch.jit.script(lelu_function)
    assert "aten::lelu" in graph_ops(scripted.inlined_graph), scripted.inlined_graph
    x = sample()
    assert torch.equal(scripted(x).nan_to_num(), lelu_function(x).nan_to_num())
    check_special_forward(torch.jit.script(F.lelu)(torch.tensor(SPECIALS)))


def test_script_inplace_function() -> None:
    scripted = torch.jit.script(lelu_inplace_function)
    assert "aten::lelu_" in graph_ops(scripted.inlined_graph), scripted.inlined_graph
    x = torch.tensor(SPECIALS)
    check_special_forward(scripted(x))
    assert math.isinf(x[0].item()), "the input must not change"


def test_script_module() -> None:
    torch.manual_seed(0)
    model = Model()
    scripted = torch.jit.script(model)
    act_graph = scripted.act.inlined_graph
    assert "aten::lelu" in graph_ops(act_graph), act_graph
    assert "aten::lelu_" in graph_ops(scripted.act_inplace.inlined_graph)
    assert scripted.act_inplace.inplace and not scripted.act.inplace
    x = sample()[1:]
    assert torch.equal(scripted(x), model(x))
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    assert torch.equal(loaded(x), model(x))


def test_script_module_special_values() -> None:
    scripted = torch.jit.script(nn.LELU())
    check_special_forward(scripted(torch.tensor(SPECIALS)))
    for dtype in (torch.float64, torch.bfloat16, torch.float16):
        x = sample().to(dtype)
        assert torch.equal(scripted(x).nan_to_num(), F.lelu(x).nan_to_num())


def test_script_autograd() -> None:
    scripted = torch.jit.script(lelu_function)
    x = sample()[1:].double().requires_grad_()
    (grad,) = torch.autograd.grad(scripted(x).sum(), x)
    (expected,) = torch.autograd.grad(lelu_function(x).sum(), x)
    assert torch.equal(grad, expected)


def test_trace_module() -> None:
    torch.manual_seed(0)
    model = Model()
    x = sample()[1:]
    traced = torch.jit.trace(model, (x,))
    assert {"aten::lelu", "aten::lelu_"} <= graph_ops(traced.inlined_graph), traced.inlined_graph
    y = torch.randn(3, 5) * 8
    assert torch.equal(traced(y), model(y))
