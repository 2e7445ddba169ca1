"""`patches --check`: up to date, stale, and patches that do not apply to the pin."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from expecttest import TestCase

import tiny
from lelu_tools.check import apply_check, check
from lelu_tools.series import generate, write

FIRST = "0001-ATen-Add-lelu.patch"
SECOND = "0002-nn-Add-F.lelu.patch"


class TestCheck(TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.root = Path(self.tmp.name)
        self.series = tiny.make(self.root)
        self.patches = self.root / "patches"
        write(generate(self.series, tiny.pin()), self.patches)

    def tearDown(self) -> None:
        self.tmp.cleanup()

    def run_check(self) -> tuple[bool, str]:
        out = io.StringIO()
        ok = check(self.series, tiny.pin(), self.patches, out)
        return ok, out.getvalue()

    def test_up_to_date(self) -> None:
        ok, out = self.run_check()
        self.assertTrue(ok)
        self.assertExpectedInline(
            out,
            """\
patches/ is up to date (2 patches)
applied  0001-ATen-Add-lelu.patch
applied  0002-nn-Add-F.lelu.patch
note: 0002-nn-Add-F.lelu.patch: torch/csrc/autograd/Manual.cpp (hunk at line 105) is not in the wheel; its context comes from pytorch/pytorch@002ca67 and is not verified at the pin
all 2 patches apply to torch 2.13.0 (cf30153)
""",  # noqa: E501
        )

    def test_stale_missing_and_extra(self) -> None:
        first = self.patches / FIRST
        first.write_text(first.read_text().replace("Add the op.", "Add the op, by hand."))
        (self.patches / SECOND).rename(self.patches / "0002-nn-Add-F.lelu-v2.patch")
        ok, out = self.run_check()
        self.assertFalse(ok)
        self.assertExpectedInline(
            out,
            """\
patches/ does not match series.toml and its sources:
  stale:   patches/0001-ATen-Add-lelu.patch
  missing: patches/0002-nn-Add-F.lelu.patch
  extra:   patches/0002-nn-Add-F.lelu-v2.patch
first difference:
--- patches/0001-ATen-Add-lelu.patch (committed)
+++ patches/0001-ATen-Add-lelu.patch (regenerated)
@@ -4,5 +4,5 @@
 Subject: [PATCH 1/2] [ATen] Add lelu
 
-Add the op, by hand.
+Add the op.
 
 Test Plan:
run `tools/lelu patches` to regenerate
patches/series lists 0002-nn-Add-F.lelu.patch, which does not exist; run `tools/lelu patches` to regenerate
""",
        )

    def test_patch_that_does_not_apply_names_patch_file_and_line(self) -> None:
        moved = tiny.FUNCTIONAL.replace("    return torch.mish(input)", "    return torch._C._nn.mish(input)")
        out = io.StringIO()
        ok = apply_check(self.series, tiny.pin({"torch/nn/functional.py": moved}), self.patches, out)
        self.assertFalse(ok)
        self.assertExpectedInline(
            out.getvalue(),
            """\
applied  0001-ATen-Add-lelu.patch
patch 0002-nn-Add-F.lelu.patch does not apply: file torch/nn/functional.py, line 9 (context differs from the pin)
""",
        )

    def test_excerpt_that_does_not_match(self) -> None:
        upstream = tiny.UPSTREAM.replace("mish_backward_twice(const Tensor& x) {\n  return x;", "m() {\n  return y;")
        other = tiny.make(self.root / "other", {"fragments/UPSTREAM.toml": upstream})
        out = io.StringIO()
        self.assertFalse(apply_check(other, tiny.pin(), self.patches, out))
        self.assertExpectedInline(
            out.getvalue(),
            """\
applied  0001-ATen-Add-lelu.patch
patch 0002-nn-Add-F.lelu.patch does not apply: file torch/csrc/autograd/Manual.cpp, line 105 (context differs from the excerpt in fragments/UPSTREAM.toml (pytorch/pytorch@002ca67))
""",  # noqa: E501
        )

    def test_first_patch_fails_and_the_rest_are_not_tried(self) -> None:
        out = io.StringIO()
        pin = tiny.pin({"aten/src/ATen/native/native_functions.yaml": "- func: x\n"})
        self.assertFalse(apply_check(self.series, pin, self.patches, out))
        self.assertExpectedInline(
            out.getvalue(),
            """\
patch 0001-ATen-Add-lelu.patch does not apply: file aten/src/ATen/native/native_functions.yaml, line 8 (context differs from the pin)
not tried 0002-nn-Add-F.lelu.patch
""",  # noqa: E501
        )
