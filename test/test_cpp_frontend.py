"""The C++ frontend: torch::nn::functional::lelu, LELUOptions and the torch::nn::LELU module.

test/cpp/lelu_frontend.cpp is compiled against the overlay as a user program would be built
against a source build (the wheel's headers behind the series' patched ones and the generated
ATen headers), linked to libtorch and the overlay's native library, and run; what it prints is
compared with the Python API on the same inputs, bit for bit.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from cpp_build import build_program
from torch import nn

SOURCE = Path(__file__).resolve().parent / "cpp" / "lelu_frontend.cpp"


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """What the program prints: name -> the rest of its line."""
    exe = build_program(SOURCE, tmp_path_factory.mktemp("cpp_frontend") / "lelu_frontend")
    done = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{exe.name} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert len(lines) == len(done.stdout.splitlines()), done.stdout
    return lines


def values(printed: dict[str, str], name: str, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.tensor([float.fromhex(v) for v in printed[name].split()], dtype=torch.float64).to(dtype)


def assert_identical(cpp: torch.Tensor, py: torch.Tensor) -> None:
    """Same values bit for bit, including the sign of zeros; NaN where NaN."""
    assert cpp.dtype == py.dtype and cpp.shape == py.shape
    for a, b in zip(cpp.tolist(), py.tolist(), strict=True):
        if math.isnan(b):
            assert math.isnan(a)
        else:
            assert a == b and math.copysign(1.0, a) == math.copysign(1.0, b), (a, b)


def test_inputs_cover_the_special_values(printed: dict[str, str]) -> None:
    x = values(printed, "x")
    assert x.isneginf().any() and x.isposinf().any() and x.isnan().any()
    assert (x == 0).sum() == 2 and torch.signbit(x[x == 0]).tolist() == [True, False]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_functional_matches_python(printed: dict[str, str], dtype: torch.dtype) -> None:
    x = values(printed, "x", dtype)
    name = str(dtype).removeprefix("torch.")
    expected = F.lelu(x)
    assert_identical(values(printed, f"functional.{name}", dtype), expected)
    assert_identical(values(printed, f"functional_default.{name}", dtype), expected)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_functional_inplace_matches_python(printed: dict[str, str], dtype: torch.dtype) -> None:
    x = values(printed, "x", dtype)
    name = str(dtype).removeprefix("torch.")
    y = x.clone()
    assert F.lelu(y, inplace=True) is y
    assert printed[f"inplace_aliases.{name}"] == "true"
    assert_identical(values(printed, f"inplace.{name}", dtype), y)


def test_module_matches_python(printed: dict[str, str]) -> None:
    x = values(printed, "x")
    assert_identical(values(printed, "module"), nn.LELU()(x))
    z = x.clone()
    assert nn.LELU(inplace=True)(z) is z
    assert printed["module_inplace_aliases"] == "true"
    assert_identical(values(printed, "module_inplace"), z)


def test_pretty_print_matches_python_repr(printed: dict[str, str]) -> None:
    # As for SELU and ReLU, inplace is shown only when set, as nn.LELU's extra_repr does.
    assert printed["repr"] == "torch::nn::LELU()"
    assert printed["repr_inplace"] == "torch::nn::LELU(inplace=true)"
    assert printed["repr"] == "torch::nn::" + repr(nn.LELU())
    assert printed["repr_inplace"] == "torch::nn::" + repr(nn.LELU(inplace=True)).replace("True", "true")


def test_options_and_clone(printed: dict[str, str]) -> None:
    assert printed["options_inplace"] == "true"
    assert printed["clone_inplace"] == "true"


def test_gradient_matches_python(printed: dict[str, str]) -> None:
    x = values(printed, "x").requires_grad_()
    nn.LELU()(x).sum().backward()
    assert x.grad is not None
    assert_identical(values(printed, "grad"), x.grad)
