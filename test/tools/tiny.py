"""A tiny synthetic series (manifest, sources, fragments, pre-images) built in a tmp dir."""

from __future__ import annotations

from pathlib import Path

from lelu_tools.manifest import Series, load_series
from lelu_tools.pin import DictPin

FUNCTIONAL = '''\
import torch


def relu(input, inplace=False):
    return torch.relu(input)


def mish(input, inplace=False):
    return torch.mish(input)


def tanh(input):
    return input.tanh()
'''

NATIVE = """\
- func: relu(Tensor self) -> Tensor
  variants: function, method

- func: mish(Tensor self) -> Tensor
  structured_delegate: mish.out

- func: mish.out(Tensor self, *, Tensor(a!) out) -> Tensor(a!)
  dispatch:
    CPU: mish_out

- func: tanh(Tensor self) -> Tensor
  variants: function, method
"""

UPSTREAM = '''\
repo = "pytorch/pytorch"
commit = "002ca6715ba1ab4d2369262b487eeb30bf249911"
path = "torch/csrc/autograd/Manual.cpp"
first_line = 100
excerpt = """
Tensor silu_backward_twice(const Tensor& x) {
  return x;
}

Tensor mish_backward_twice(const Tensor& x) {
  return x;
}

Tensor tanh_backward_twice(const Tensor& x) {
  return x;
}
"""
'''

MANIFEST = '''\
pin = "cf30153c4c131c8164ee7798e5022d810682e2cb"
torch_version = "2.13.0"
author = "LELU series <lelu-series@users.noreply.github.com>"
date = "Mon, 23 Nov 2026 00:00:00 +0000"

[[patch]]
subject = "[ATen] Add lelu"
body = """
Add the op.

Test Plan:
  run it
"""
files = ["aten/src/ATen/native/Lelu.h"]
root = "aten_native"

[[patch.insert]]
target = "aten/src/ATen/native/native_functions.yaml"
fragment = "fragments/native.yaml"
anchor = "yaml:mish.out"
blank = 1

[[patch]]
subject = "[nn] Add F.lelu"
body = """
The Python API and its derivative.
"""

[[patch.insert]]
target = "torch/nn/functional.py"
fragment = "fragments/lelu.py"
anchor = "py:def mish"
blank = 2

[[patch.insert]]
target = "torch/csrc/autograd/Manual.cpp"
fragment = "fragments/lelu.cpp"
anchor = "cpp:mish_backward_twice"
blank = 1
unshipped = "fragments/UPSTREAM.toml"
'''

FILES = {
    "aten_native/aten/src/ATen/native/Lelu.h": "#pragma once\n",
    "fragments/native.yaml": "- func: lelu(Tensor self) -> Tensor\n  variants: function\n",
    "fragments/lelu.py": "def lelu(input, inplace=False):\n    return torch.lelu(input)\n",
    "fragments/lelu.cpp": "Tensor lelu_backward_twice(const Tensor& x) {\n  return x;\n}\n",
    "fragments/UPSTREAM.toml": UPSTREAM,
    "series.toml": MANIFEST,
}

PRE_IMAGES = {
    "torch/nn/functional.py": FUNCTIONAL,
    "aten/src/ATen/native/native_functions.yaml": NATIVE,
}


def make(root: Path, changes: dict[str, str] | None = None) -> Series:
    """Write the tiny project under `root` (`changes` replaces or adds files) and load its manifest."""
    for name, text in {**FILES, **(changes or {})}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return load_series(root / "series.toml")


def pin(changes: dict[str, str] | None = None) -> DictPin:
    """The pre-images as a PinSource; `changes` replaces or adds texts."""
    return DictPin({**PRE_IMAGES, **(changes or {})})
