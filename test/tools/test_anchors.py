"""Anchors: each kind, insertion, and the errors for a missing or ambiguous anchor."""

from __future__ import annotations

from expecttest import TestCase

from lelu_tools.anchors import AnchorError, Span, find, place
from tiny import FUNCTIONAL, NATIVE

YAML = """\
- func: silu_backward.grad_input(Tensor grad_output, Tensor self, *, Tensor(a!) grad_input) -> Tensor(a!)
  python_module: nn

- func: silu_backward(Tensor grad_output, Tensor self) -> Tensor
  python_module: nn
  # a comment inside the entry

- name: mish(Tensor self) -> Tensor
  self: mish_backward(grad, self)


"""

PY = """\
import functools


@functools.cache
@staticmethod
def mish(x):
    return x


class Mish:
    def forward(self, x):
        return mish(x)

    def extra_repr(self):
        return ""


op_db = [
    UnaryUfuncInfo('nn.functional.relu', ref=None),
    UnaryUfuncInfo(
        "nn.functional.mish",
        ref=lambda x: x,
    ),
    ModuleInfo(torch.nn.Mish,
               skips=()),
]
"""

CPP = """\
namespace torch::autograd {
at::Tensor mish_backward(
    const at::Tensor& grad_output,
    const at::Tensor& input);
Tensor infinitely_differentiable_mish_backward(
    const Tensor& grad_output,
    const Tensor& input) {
  if (true) {
    return grad_output;
  }
}
// mish_backward(x) is the derivative
Tensor tanh_backward(const Tensor& x);
}
"""


class TestKinds(TestCase):
    def test_yaml_overload_and_trailing_blank_lines(self) -> None:
        self.assertEqual(find("yaml:silu_backward.grad_input", YAML, "f.yaml"), Span(1, 2))
        self.assertEqual(find("yaml:silu_backward", YAML, "f.yaml"), Span(4, 6))
        self.assertEqual(find("yaml:mish", YAML, "f.yaml"), Span(8, 9))

    def test_yaml_name_is_not_a_prefix(self) -> None:
        self.assertEqual(find("yaml:mish", NATIVE, "n.yaml"), Span(4, 5))

    def test_py_def_includes_decorators(self) -> None:
        self.assertEqual(find("py:def mish", PY, "f.py"), Span(4, 7))

    def test_py_class_and_method(self) -> None:
        self.assertEqual(find("py:class Mish", PY, "f.py"), Span(10, 15))
        self.assertEqual(find("py:Mish.extra_repr", PY, "f.py"), Span(14, 15))

    def test_pycall_normalizes_quotes_and_takes_the_trailing_comma(self) -> None:
        self.assertEqual(find("pycall:UnaryUfuncInfo('nn.functional.mish')", PY, "f.py"), Span(20, 23))
        self.assertEqual(find("pycall:ModuleInfo(torch.nn.Mish)", PY, "f.py"), Span(24, 25))

    def test_cpp_declaration_and_definition(self) -> None:
        self.assertEqual(find("cpp:mish_backward", CPP, "f.h"), Span(2, 4))
        self.assertEqual(find("cpp:infinitely_differentiable_mish_backward", CPP, "f.cpp"), Span(5, 11))
        self.assertEqual(find("cpp:tanh_backward", CPP, "f.h"), Span(13, 13))

    def test_line(self) -> None:
        self.assertEqual(find(r"line:^\s+return torch\.mish", FUNCTIONAL, "f.py"), Span(9, 9))


class TestInsert(TestCase):
    def test_after_with_blank_lines(self) -> None:
        placed = place(FUNCTIONAL, "f.py", "py:def relu", "def lelu():\n    pass\n", "after", 2)
        self.assertEqual((placed.first_line, placed.added), (6, 4))
        self.assertExpectedInline(
            placed.text,
            """\
import torch


def relu(input, inplace=False):
    return torch.relu(input)


def lelu():
    pass


def mish(input, inplace=False):
    return torch.mish(input)


def tanh(input):
    return input.tanh()
""",
        )

    def test_before_with_blank_lines(self) -> None:
        text = place(NATIVE, "n.yaml", "yaml:tanh", "- func: lelu(Tensor self) -> Tensor\n", "before", 1).text
        self.assertExpectedInline(
            text,
            """\
- func: relu(Tensor self) -> Tensor
  variants: function, method

- func: mish(Tensor self) -> Tensor
  structured_delegate: mish.out

- func: mish.out(Tensor self, *, Tensor(a!) out) -> Tensor(a!)
  dispatch:
    CPU: mish_out

- func: lelu(Tensor self) -> Tensor

- func: tanh(Tensor self) -> Tensor
  variants: function, method
""",
        )


class TestErrors(TestCase):
    def error(self, anchor: str, text: str, path: str) -> str:
        with self.assertRaises(AnchorError) as caught:
            find(anchor, text, path)
        return str(caught.exception)

    def test_no_match(self) -> None:
        self.assertExpectedInline(
            self.error("py:def lelu", FUNCTIONAL, "torch/nn/functional.py"),
            """anchor 'py:def lelu' in torch/nn/functional.py: no match""",
        )

    def test_ambiguous(self) -> None:
        self.assertExpectedInline(
            self.error("line:return", FUNCTIONAL, "torch/nn/functional.py"),
            """anchor 'line:return' in torch/nn/functional.py: matches 3 times (lines 5, 9, 13)""",
        )

    def test_unknown_kind(self) -> None:
        self.assertExpectedInline(
            self.error("rust:fn lelu", FUNCTIONAL, "torch/nn/functional.py"),
            """anchor 'rust:fn lelu' in torch/nn/functional.py: unknown kind 'rust' (use yaml:, py:, pycall:, cpp:, line:)""",  # noqa: E501
        )

    def test_python_that_does_not_parse(self) -> None:
        self.assertExpectedInline(
            self.error("py:def f", "def f(:\n", "x.py"),
            """anchor 'py:def f' in x.py: cannot parse the file as Python (line 1: invalid syntax)""",
        )
