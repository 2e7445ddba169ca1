"""torch.export of modules using LELU: the exported program keeps aten.lelu (run by the ATen
kernel: equal to eager), runs with dynamic batch sizes, survives save/load, and
run_decompositions() lowers it to core ATen ops with the [decomp] patch's decomposition."""

from __future__ import annotations

import io
import math

import pytest
import torch
import torch.nn.functional as F
from lelu_decomp_accuracy import SPECIALS, check_backward, check_forward, check_special_backward, check_special_forward
from torch import nn
from torch.export import Dim, export


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(6, 6, dtype=torch.float64)
        self.act = nn.LELU()
        self.act_inplace = nn.LELU(inplace=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.act(self.linear(x))
        z = self.act_inplace(self.linear(x) * 2)
        return y + F.lelu(x), z


def inputs(batch: int) -> torch.Tensor:
    torch.manual_seed(batch)
    return torch.randn(batch, 6, dtype=torch.float64) * 5


def exported() -> torch.export.ExportedProgram:
    batch = Dim("batch", min=2, max=1024)
    return export(Block().eval(), (inputs(4),), dynamic_shapes=({0: batch},))


def called_ops(ep: torch.export.ExportedProgram) -> set[str]:
    return {str(node.target) for node in ep.graph.nodes if node.op == "call_function"}


def test_export_keeps_lelu_and_matches_eager() -> None:
    torch.manual_seed(0)
    module = Block().eval()
    ep = export(module, (inputs(4),), dynamic_shapes=({0: Dim("batch", min=2, max=1024)},))
    assert "aten.lelu.default" in called_ops(ep)
    for batch in (4, 9, 33):
        x = inputs(batch)
        for got, expected in zip(ep.module()(x), module(x), strict=True):
            assert torch.equal(got, expected)


def test_exported_program_save_and_load() -> None:
    ep = exported()
    buffer = io.BytesIO()
    torch.export.save(ep, buffer)
    buffer.seek(0)
    loaded = torch.export.load(buffer)
    x = inputs(5)
    for got, expected in zip(loaded.module()(x), ep.module()(x), strict=True):
        assert torch.equal(got, expected)


def test_run_decompositions_lowers_lelu_to_core_aten() -> None:
    ep = exported()
    decomposed = ep.run_decompositions()
    ops = called_ops(decomposed)
    assert not any("lelu" in op for op in ops), ops
    not_core = [n.target for n in decomposed.graph.nodes
                if n.op == "call_function" and isinstance(n.target, torch._ops.OpOverload)
                and torch.Tag.core not in n.target.tags and n.target.namespace == "aten"]
    assert not not_core, f"not core ATen ops: {not_core}"
    x = inputs(7)
    for got, expected in zip(decomposed.module()(x), ep.module()(x), strict=True):
        torch.testing.assert_close(got, expected, atol=0, rtol=2e-15)


def test_exported_special_values() -> None:
    """A module that is only LELU, exported as is and decomposed, at -inf, inf, NaN, -0.0, 0.0."""
    x = torch.tensor(SPECIALS)
    ep = export(nn.LELU(), (x,))
    check_special_forward(ep.module()(x))
    check_special_forward(ep.run_decompositions().module()(x))


class Grad(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            leaf = x.detach().requires_grad_()
            (grad,) = torch.autograd.grad(F.lelu(leaf).sum(), leaf)
        return grad


def test_export_of_a_training_step_decomposes_the_backward() -> None:
    """The joint graph (forward and backward) with the core decompositions: no lelu, no
    lelu_backward, and the gradient keeps lelu'(inf) = 1, lelu'(-inf) = 0."""
    x = torch.tensor([*SPECIALS, -50.0, -1.0, 2.0])
    ep = export(Grad(), (x,)).run_decompositions()
    ops = called_ops(ep)
    assert not any("lelu" in op for op in ops), ops
    grad = ep.module()(x)
    check_special_backward(grad[:5])
    expected = torch.ops.aten.lelu_backward(torch.ones(3), x[5:])
    torch.testing.assert_close(grad[5:], expected)
    assert not math.isnan(grad[0].item())


def decomposed(module: nn.Module, dtype: torch.dtype) -> torch.export.ExportedProgram:
    return export(module, (torch.randn(16, dtype=dtype),), dynamic_shapes=({0: Dim("n")},)).run_decompositions()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=str)
def test_decomposed_graph_has_no_float64(dtype: torch.dtype) -> None:
    """The core ATen graph computes in the input's opmath type (float32), forward and backward."""
    for module in (nn.LELU(), Grad()):
        ep = decomposed(module, dtype)
        dtypes = {v.dtype for n in ep.graph.nodes if isinstance(v := n.meta.get("val"), torch.Tensor)}
        assert dtypes <= {dtype, torch.float32, torch.bool}, dtypes


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_decomposed_graph_within_the_bounds(dtype: torch.dtype) -> None:
    """The exported core ATen graph itself, run on the accuracy inputs: within the decomposition's
    bounds of the references and of the kernel (lelu_decomp_accuracy)."""
    forward, backward = decomposed(nn.LELU(), dtype).module(), decomposed(Grad(), dtype).module()
    check_forward(forward, dtype)
    check_backward(lambda grad, x: grad * backward(x), dtype)
