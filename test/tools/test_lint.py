"""`tools/lelu lint`: each linter finds a fault on the series' lines and ignores upstream's lines."""

from __future__ import annotations

import tempfile
from pathlib import Path

from expecttest import TestCase

from lelu_tools import lint
from lelu_tools.manifest import load_series
from lelu_tools.pin import default_pin
from lelu_tools.series import postimages


class LintTest(TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.tree = Path(self.tmp.name)

    def tearDown(self) -> None:
        self.tmp.cleanup()

    def write(self, path: str, text: str) -> str:
        (self.tree / path).parent.mkdir(parents=True, exist_ok=True)
        (self.tree / path).write_text(text)
        return path


class TestLines(LintTest):
    def test_added_lines_and_ranges(self) -> None:
        before = "a\nb\nc\n"
        after = "a\nx\ny\nb\nc\nz\n"
        self.assertEqual(lint.added_lines(before, after), {2, 3, 6})
        self.assertEqual(lint.ranges({2, 3, 6}), [(2, 3), (6, 6)])


class TestLinters(LintTest):
    def test_clang_format_whole_file_and_only_added_lines(self) -> None:
        path = self.write("aten/src/ATen/native/cpu/X.cpp", "int  f( ) {\n  return 1;\n}\nint g() {\n  return 2;\n}\n")
        found = lint.clang_format(self.tree, {path: None})
        self.assertEqual([(f.tool, f.line) for f in found][:1], [("clang-format", 1)])
        self.assertEqual(lint.clang_format(self.tree, {path: {4, 5, 6}}), [])

    def test_ruff_with_pytorchs_rules_on_added_lines_only(self) -> None:
        path = self.write("torch/nn/x.py", "import os\nimport sys\n\n\ndef f(x: int = None) -> int:\n    return 1\n")
        found = lint.ruff(self.tree, {path: {2, 5}})
        self.assertEqual(sorted((f.line, f.message.split()[0]) for f in found), [(2, "F401"), (5, "RUF013")])

    def test_flake8_enforces_what_ruff_leaves_to_it(self) -> None:
        path = self.write("torch/nn/y.py", "def f( x):\n    return x\n\n\ndef g( x):\n    return x\n")
        found = lint.flake8(self.tree, {path: {5}})
        self.assertEqual([(f.line, f.message.split()[0]) for f in found], [(5, "E201")])

    def test_mypy_with_pytorchs_config_on_added_lines_only(self) -> None:
        # disallow_untyped_defs and possibly-undefined are PyTorch's settings, not mypy's defaults
        text = "def f(x):\n    return x\n\n\ndef g(c: bool) -> int:\n    if c:\n        y = 1\n    return y\n"
        path = self.write("torch/nn/z.py", text)
        found = lint.mypy(self.tree, {path: {1, 8}})
        self.assertEqual(sorted((f.line, f.message.split("[")[-1]) for f in found),
                         [(1, "no-untyped-def]"), (8, "possibly-undefined]")])
        self.assertEqual(lint.mypy(self.tree, {path: {2}}), [])

    def test_native_functions_round_trip(self) -> None:
        good = "- func: lelu(Tensor self) -> Tensor\n  structured_delegate: lelu.out\n  tags: pointwise\n"
        self.assertEqual(lint.native_functions(good), [])
        bad = "- func: lelu(Tensor self) -> Tensor\n  dispatch:\n      CPU: lelu\n"
        found = lint.native_functions(bad)
        self.assertEqual(len(found), 1)
        self.assertEqual(found[0].line, 3)


class TestSeriesFiles(TestCase):
    def test_postimages_hold_the_hunks_in_their_pinned_context(self) -> None:
        series = load_series(lint.REPO_ROOT / "series.toml")
        with default_pin() as pin:
            files = postimages(series, pin)
        before, after = files["aten/src/ATen/native/native_functions.yaml"]
        self.assertIn("- func: mish(Tensor self) -> Tensor", before)
        self.assertNotIn("lelu", before)
        self.assertIn("- func: lelu(Tensor self) -> Tensor", after)
        self.assertEqual(files["aten/src/ATen/native/cpu/LeluVec.h"][0], "")
        # files the wheel does not ship are left out (their context is not the pin's)
        self.assertNotIn("torch/csrc/autograd/FunctionsManual.cpp", files)
