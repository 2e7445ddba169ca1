"""The series' additions to PyTorch's own tests (fragments/test/..., and the MPS lists of
torch/testing/_internal/common_mps.py), run here against the overlay.

The upstream test files are not in the wheel, so each fragment runs inside a stand-in for the part
of its file that it needs: the C++ API cases with googletest (Debian's libgtest-dev, unpacked into
build/gtest) and a stand-in for test/cpp/api/support.h; TestONNXRuntime.test_lelu with a run_test
that exports with the TorchScript exporter at every opset the test class covers, scripted and
traced, and compares onnxruntime with eager through torch.onnx's own verification; the torchlib
entry on the OpInfo samples in onnxruntime; the constructor table of test_module_init.py and the
tracing table of test_fx.py with the checks those tests make.  BUILD.md lists every upstream test
the series touches and what runs where.
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
import re
import subprocess
import textwrap
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from cpp_build import build_program

from lelu_tools import debian

REPO = Path(__file__).resolve().parents[1]
FRAGMENTS = REPO / "fragments"
CPP_DRIVER = Path(__file__).resolve().parent / "cpp" / "upstream_api.cpp"
# the opsets of test_pytorch_onnx_onnxruntime.py's parameterization that lelu's symbolic supports
ONNX_OPSETS = range(9, 21)


def fragment(path: str) -> str:
    return (FRAGMENTS / path).read_text()


# ---------------------------------------------------------------- test/cpp/api


def test_cpp_api_cases_pass_with_googletest(tmp_path: Path) -> None:
    include, lib = debian.googletest()
    exe = build_program(
        CPP_DRIVER, tmp_path / "upstream_api",
        flags=[f"-isystem{include}", f"-I{FRAGMENTS / 'test/cpp/api'}"],
        libs=[str(lib / "libgtest_main.a"), str(lib / "libgtest.a"), "-lpthread"],
    )
    done = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    ran = set(re.findall(r"^\[       OK \] (\S+) ", done.stdout, flags=re.MULTILINE))
    expected = {"ModulesTest.LELU", "ModulesTest.PrettyPrintLELU", "FunctionalTest.LELU",
                "FunctionalTest.LELUDefaultOptions"}
    assert ran == expected, done.stdout
    assert "[  PASSED  ] 4 tests." in done.stdout, done.stdout


# ---------------------------------------------------------------- test/onnx


class _StandInONNXRuntime:
    """What test_lelu uses of onnx_test_common._TestONNXRuntime, for one parameterization."""

    def __init__(self, opset_version: int, is_script: bool, keep_initializers_as_inputs: bool) -> None:
        self.opset_version = opset_version
        self.is_script = is_script
        self.keep_initializers_as_inputs = keep_initializers_as_inputs
        self.runs = 0

    def run_test(self, model: torch.nn.Module, input_args: tuple[Any, ...], rtol: float = 1e-3,
                 atol: float = 1e-7) -> None:
        from torch.onnx._internal.torchscript_exporter import verification

        if self.is_script:
            model = torch.jit.script(model)
        verification.verify(
            model, input_args, opset_version=self.opset_version,
            keep_initializers_as_inputs=self.keep_initializers_as_inputs,
            options=verification.VerificationOptions(rtol=rtol, atol=atol),
        )
        self.runs += 1


def _onnx_test_method(directory: Path) -> Callable[[Any], None]:
    """test_lelu from the fragment, its decorator checked (the opsets run start at its floor).  It
    goes through a module file: torch.jit.script reads the models' source."""
    source = textwrap.dedent(fragment("test/onnx/test_pytorch_onnx_onnxruntime.py/lelu.py"))
    tree = ast.parse(source)
    (function,) = tree.body
    assert isinstance(function, ast.FunctionDef) and function.name == "test_lelu"
    (decorator,) = function.decorator_list
    assert ast.unparse(decorator) == f"skipIfUnsupportedMinOpsetVersion({ONNX_OPSETS[0]})"
    path = directory / "lelu_onnx_case.py"
    path.write_text("import torch\n\n\ndef skipIfUnsupportedMinOpsetVersion(opset):\n    return lambda f: f\n\n\n"
                    + source)
    spec = importlib.util.spec_from_file_location("lelu_onnx_case", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    method: Callable[[Any], None] = module.test_lelu
    return method


@pytest.mark.parametrize("opset", ONNX_OPSETS)
def test_onnx_torchscript_exporter_case(opset: int, tmp_path: Path) -> None:
    method = _onnx_test_method(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for is_script, keep in itertools.product((False, True), (False, True)):
            case = _StandInONNXRuntime(opset, is_script, keep)
            for seed in range(3):  # upstream's setUp seeds 0; the tolerances must not need a lucky seed
                torch.manual_seed(seed)
                method(case)
            assert case.runs == 6


def test_onnx_torchlib_entry_names_the_exporters_translation() -> None:
    """ops_test_data.py's entry: the OpInfo's samples, exported with dynamo=True (which uses the
    translation the entry names), match eager in onnxruntime at torch.testing's tolerances."""
    import numpy as np
    import onnxruntime  # type: ignore[import-untyped, unused-ignore]
    from torch.onnx._internal.exporter._torchlib.ops import nn as nn_ops
    from torch.testing._internal.common_methods_invocations import op_db

    entries: list[tuple[str, Any]] = []
    namespace = {"TorchLibOpInfo": lambda name, function, **kw: entries.append((name, function)),
                 "nn_ops": nn_ops}
    exec(fragment("test/onnx/torchlib/ops_test_data.py/lelu.py").strip().rstrip(","), namespace)
    ((name, function),) = entries
    assert function is nn_ops.aten_lelu
    (op,) = [o for o in op_db if o.name == name]

    class Lelu(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.lelu(x)

    checked = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for dtype in (torch.float16, torch.float32):
            for sample in op.sample_inputs("cpu", dtype):
                if sample.input.numel() == 0:
                    continue
                program = torch.onnx.export(Lelu(), (sample.input,), dynamo=True, verbose=False)
                assert "Sigmoid" in [n.op_type for n in program.model_proto.graph.node]
                session = onnxruntime.InferenceSession(program.model_proto.SerializeToString(),
                                                       providers=["CPUExecutionProvider"])
                (out,) = session.run(None, {session.get_inputs()[0].name: sample.input.numpy()})
                torch.testing.assert_close(torch.from_numpy(np.asarray(out)), op(sample.input), equal_nan=True)
                checked += 1
    assert checked >= 4


# ---------------------------------------------------------------- test/test_module_init.py, test/test_fx.py


def test_module_init_constructor_entry() -> None:
    """test_module_init.py: every module of torch.nn.modules.__all__ has constructor arguments;
    modules without parameters or buffers must still reject an unknown keyword."""
    table = eval("{" + fragment("test/test_module_init.py/lelu.py") + "}", {"torch": torch})
    assert list(table) == [torch.nn.LELU]
    args, kwargs = table[torch.nn.LELU]
    module = torch.nn.LELU(*args, **kwargs)
    assert not list(module.parameters()) and not list(module.buffers())
    with pytest.raises(TypeError):
        torch.nn.LELU(*args, **kwargs, nonexistent_arg="foo")


def test_fx_functional_tracing_entry() -> None:
    """test_fx.py's TestFunctionalTracing: F.lelu is listed as CONTROL_FLOW, and symbolic tracing
    fails with that error (as it does for F.silu and F.mish), with torch_function dispatch off as
    in that test."""
    from torch.fx import symbolic_trace
    from torch.fx.proxy import TraceError

    control_flow = (TraceError, r"symbolically traced variables cannot be used as inputs to control flow")
    table = eval("{" + fragment("test/test_fx.py/lelu.py") + "}", {"CONTROL_FLOW": control_flow})
    assert table == {"lelu": control_flow}
    exception, message = table["lelu"]
    names = ("has_torch_function", "has_torch_function_unary", "has_torch_function_variadic")
    saved = {name: getattr(F, name) for name in names}
    for name in names:
        setattr(F, name, lambda *args: False)
    try:
        for function in (F.lelu, F.silu, F.mish):
            with pytest.raises(exception, match=message):
                symbolic_trace(function)
    finally:
        for name, value in saved.items():
            setattr(F, name, value)


# ---------------------------------------------------------------- MPS lists (shipped file)


def test_mps_lists_name_lelu_as_unimplemented() -> None:
    """test_mps.py runs every OpInfo on MPS; lelu has no MPS kernel, so common_mps.py (patched in
    this overlay) expects the forward and the gradient consistency tests to fail, for every dtype,
    and the OpInfo expects TestCommon to fail on MPS.  No MPS device here: read, not run."""
    from torch.testing._internal import common_mps
    from torch.testing._internal.common_methods_invocations import op_db

    source = Path(common_mps.__file__).read_text()
    assert source.count('"nn.functional.lelu": None,') == 2
    (op,) = [o for o in op_db if o.name == "nn.functional.lelu"]
    assert any(d.device_type == "mps" and d.cls_name == "TestCommon" for d in op.decorators)
