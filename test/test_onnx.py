"""ONNX export of LELU, run in onnxruntime and compared with eager.

* The TorchScript-based exporter (dynamo=False) uses the [onnx] patch's symbolic, registered
  from opset 9: Mul(x, Sigmoid(Mul(x, k))).  That is the plain formula (ONNX has no operator
  with LELU's limits): NaN at -inf, like silu's symbolic, and in onnxruntime as accurate as its
  Sigmoid (1.7e-7 absolute, 0 below -16: the result is 0 below x = -8.8).
* The dynamo-based exporter (dynamo=True) uses the torchlib translation of the [onnx] patches:
  the same three standard nodes in the input's dtype, which onnxruntime fuses into one
  (QuickGelu), chosen for speed (tools/lelu bench --onnx).  Measured here: within torch.testing's
  float32 tolerances of the float64 reference on [-20, 20], NaN at -inf (documented), +inf at
  +inf, NaN propagates, signed zeros kept.

onnx, onnxruntime and onnxscript are pinned in tools/requirements-overlay.txt.
"""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
import torch.nn.functional as F
from lelu_decomp_accuracy import (
    SPECIALS,
    check_special_forward,
)
from lelu_reference import f64_lelu
from torch import nn
from torch.export import Dim

K = math.pi / math.sqrt(3)


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.act = nn.LELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x)


class TwoActivations(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(8, 8)
        self.act = nn.LELU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.lelu(self.act(self.linear(x)))


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (name,) = [i.name for i in session.get_inputs()]
    (y,) = session.run(None, {name: x})
    return np.asarray(y)


def export_torchscript(module: nn.Module, x: torch.Tensor, opset: int) -> onnx.ModelProto:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # the TorchScript-based exporter is deprecated in favour of dynamo=True
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            module, (x,), buffer, dynamo=False, opset_version=opset, input_names=["x"], dynamic_axes={"x": {0: "n"}}
        )
    return onnx.load_from_string(buffer.getvalue())


def export_dynamo(module: nn.Module, x: torch.Tensor) -> onnx.ModelProto:
    program = torch.onnx.export(module, (x,), dynamo=True, dynamic_shapes=({0: Dim("n")},), verbose=False)
    assert program is not None
    return program.model_proto


def op_types(model: onnx.ModelProto) -> list[str]:
    return [node.op_type for node in model.graph.node]


# ---------------------------------------------------------------------------------------------
# TorchScript-based exporter
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("opset", [9, 18])
def test_torchscript_exporter_symbolic(opset: int) -> None:
    model = export_torchscript(Model().eval(), torch.randn(4), opset)
    onnx.checker.check_model(model)
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [opset]
    assert sorted(op_types(model)) == ["Constant", "Mul", "Mul", "Sigmoid"], op_types(model)
    (k,) = [onnx.numpy_helper.to_array(node.attribute[0].t) for node in model.graph.node if node.op_type == "Constant"]
    assert k.dtype == np.float32 and float(k) == np.float32(K)
    x = np.linspace(-20, 20, 40_001, dtype=np.float32)
    expected = F.lelu(torch.from_numpy(x)).numpy()
    # onnxruntime's Sigmoid (MLAS) is accurate to 1.7e-7 absolute and flushes to 0 below -16,
    # so the error is absolute, up to 20 * 1.7e-7 here
    np.testing.assert_allclose(run(model, x), expected, rtol=2e-6, atol=4e-6)
    # the plain formula's limits: lelu(inf) = inf, but -inf * Sigmoid(-inf) = -inf * 0 = NaN
    y = run(model, np.array(SPECIALS, dtype=np.float32))
    assert y[1] == math.inf and math.isnan(y[2]) and y[3] == 0 and y[4] == 0
    assert math.isnan(y[0])


def test_torchscript_exporter_model() -> None:
    module = TwoActivations().eval()
    x = torch.randn(5, 8) * 4
    model = export_torchscript(module, x, 9)
    assert op_types(model).count("Sigmoid") == 2
    x2 = torch.randn(11, 8) * 4
    np.testing.assert_allclose(run(model, x2.numpy()), module(x2).detach().numpy(), rtol=1e-5, atol=4e-6)


# ---------------------------------------------------------------------------------------------
# dynamo-based exporter
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dynamo_model() -> onnx.ModelProto:
    return export_dynamo(Model().eval(), torch.randn(4))


def test_dynamo_exporter_translates_lelu(dynamo_model: onnx.ModelProto) -> None:
    onnx.checker.check_model(dynamo_model)
    assert sorted(op_types(dynamo_model)) == ["Mul", "Mul", "Sigmoid"], op_types(dynamo_model)
    assert not dynamo_model.functions, "expected standard ONNX ops only"
    assert all(node.domain in ("", "ai.onnx") for node in dynamo_model.graph.node)
    doubles = [t.name for t in dynamo_model.graph.initializer if t.data_type == onnx.TensorProto.DOUBLE]
    assert not doubles, doubles


def test_dynamo_exporter_is_fused_by_onnxruntime(dynamo_model: onnx.ModelProto, tmp_path: Path) -> None:
    options = onnxruntime.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    onnxruntime.InferenceSession(dynamo_model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    assert op_types(onnx.load(options.optimized_model_filepath)) == ["QuickGelu"]


def test_dynamo_exporter_within_float32_tolerances(dynamo_model: onnx.ModelProto) -> None:
    """Over [-20, 20]: within torch.testing's float32 tolerances of the float64 reference (and so
    of the ATen kernel)."""
    x = np.linspace(-20, 20, 400_001, dtype=np.float32)
    y = torch.from_numpy(run(dynamo_model, x)).double()
    torch.testing.assert_close(y, torch.from_numpy(f64_lelu(x.astype(np.float64))), rtol=1.3e-6, atol=1e-5)
    torch.testing.assert_close(y.float(), F.lelu(torch.from_numpy(x)))


def test_dynamo_exporter_special_values(dynamo_model: onnx.ModelProto) -> None:
    """+inf at +inf, NaN propagates, signed zeros kept; at -inf, NaN (-inf * 0: README)."""
    y = run(dynamo_model, np.array(SPECIALS, dtype=np.float32))
    assert math.isnan(y[0]), y
    check_special_forward(torch.tensor([-0.0, *y[1:].tolist()]))


def test_dynamo_exporter_model() -> None:
    module = TwoActivations().eval()
    model = export_dynamo(module, torch.randn(5, 8))
    x = torch.randn(13, 8) * 4
    np.testing.assert_allclose(run(model, x.numpy()), module(x).detach().numpy(), rtol=1e-5, atol=1e-6)
