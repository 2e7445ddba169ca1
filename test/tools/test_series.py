"""Generation: determinism, the format of a patch, excerpts of unshipped files, manifest errors."""

from __future__ import annotations

import tempfile
from pathlib import Path

from expecttest import TestCase

import tiny
from lelu_tools.common import LeluError
from lelu_tools.manifest import ManifestError
from lelu_tools.patchfile import hunks
from lelu_tools.series import generate, write


class TestGenerate(TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.root = Path(self.tmp.name)

    def tearDown(self) -> None:
        self.tmp.cleanup()

    def test_two_runs_give_identical_bytes(self) -> None:
        series = tiny.make(self.root)
        first, second = self.root / "a", self.root / "b"
        write(generate(series, tiny.pin()), first)
        write(generate(series, tiny.pin()), second)
        names = sorted(p.name for p in first.iterdir())
        self.assertEqual(names, sorted(p.name for p in second.iterdir()))
        self.assertEqual(len(names), 3)
        for name in names:
            self.assertEqual((first / name).read_bytes(), (second / name).read_bytes(), name)
        self.assertExpectedInline(
            (first / "series").read_text(),
            """\
0001-ATen-Add-lelu.patch
0002-nn-Add-F.lelu.patch
""",
        )

    def test_patch_format(self) -> None:
        generated = generate(tiny.make(self.root), tiny.pin())
        self.assertExpectedInline(
            generated.files[generated.names[0]].decode(),
            """\
From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: LELU series <lelu-series@users.noreply.github.com>
Date: Mon, 23 Nov 2026 00:00:00 +0000
Subject: [PATCH 1/2] [ATen] Add lelu

Add the op.

Test Plan:
  run it

diff --git a/aten/src/ATen/native/Lelu.h b/aten/src/ATen/native/Lelu.h
new file mode 100644
index 0000000000000000000000000000000000000000..6f70f09beec2219624baeca92e2cd7deaa104fb4
--- /dev/null
+++ b/aten/src/ATen/native/Lelu.h
@@ -0,0 +1 @@
+#pragma once
diff --git a/aten/src/ATen/native/native_functions.yaml b/aten/src/ATen/native/native_functions.yaml
index d8b59f6a70e165756db111bfbf2ff2b3f1296982..d7c103cc8eef820e55b40ccb67e11ecf66588b76 100644
--- a/aten/src/ATen/native/native_functions.yaml
+++ b/aten/src/ATen/native/native_functions.yaml
@@ -8,5 +8,8 @@
   dispatch:
     CPU: mish_out
 
+- func: lelu(Tensor self) -> Tensor
+  variants: function
+
 - func: tanh(Tensor self) -> Tensor
   variants: function, method
""",
        )

    def test_write_removes_orphans(self) -> None:
        patches = self.root / "patches"
        patches.mkdir()
        (patches / "0009-old.patch").write_text("old\n")
        (patches / "README").write_text("kept\n")
        changes = write(generate(tiny.make(self.root), tiny.pin()), patches)
        self.assertIn("removed patches/0009-old.patch", changes)
        self.assertEqual(sorted(p.name for p in patches.iterdir())[-2:], ["README", "series"])

    def test_unshipped_hunk_shows_only_excerpt_lines(self) -> None:
        generated = generate(tiny.make(self.root), tiny.pin())
        [hunk] = [h for h in hunks(generated.files[generated.names[1]].decode()) if h.path.endswith(".cpp")]
        # The excerpt holds lines 100-111 of the upstream copy; the filler before it never shows.
        self.assertEqual((hunk.old_start, hunk.old_end), (105, 110))

    def test_excerpt_too_short_around_the_anchor(self) -> None:
        upstream = tiny.UPSTREAM.replace("\nTensor tanh_backward_twice(const Tensor& x) {\n  return x;\n}\n", "\n")
        series = tiny.make(self.root, {"fragments/UPSTREAM.toml": upstream})
        with self.assertRaises(LeluError) as caught:
            generate(series, tiny.pin())
        self.assertExpectedInline(
            str(caught.exception),
            """anchor 'cpp:mish_backward_twice' in torch/csrc/autograd/Manual.cpp: the excerpt in fragments/UPSTREAM.toml has 1 line(s) after the insertion point; git needs 3 lines of context: extend the excerpt""",  # noqa: E501
        )

    def test_unshipped_target_that_the_wheel_ships(self) -> None:
        series = tiny.make(self.root)
        with self.assertRaises(LeluError) as caught:
            generate(series, tiny.pin({"torch/csrc/autograd/Manual.cpp": "x\n"}))
        self.assertExpectedInline(
            str(caught.exception),
            """torch/csrc/autograd/Manual.cpp is in the wheel: drop `unshipped` from its inserts in series.toml""",
        )

    def test_manifest_errors_are_listed_together(self) -> None:
        manifest = tiny.MANIFEST.replace("[ATen] Add lelu", "[ATen] Add lelu" + " and more" * 8)
        manifest = manifest.replace('fragment = "fragments/lelu.py"', 'fragment = "fragments/nope.py"')
        with self.assertRaises(ManifestError) as caught:
            tiny.make(self.root, {"series.toml": manifest})
        self.assertExpectedInline(
            str(caught.exception),
            """\
series.toml is not valid:
  patch 1 ([ATen] Add lelu and more and more and more and more and more and more and more and more): subject is 87 characters, at most 72 are allowed
  patch 2 ([nn] Add F.lelu) insert 1: fragment fragments/nope.py does not exist""",  # noqa: E501
        )

    def test_test_plan_names_only_upstream_commands(self) -> None:
        manifest = tiny.MANIFEST.replace("  run it\n", "  python test/test_ops.py -k lelu\n  tools/lelu test -k api\n")
        with self.assertRaises(ManifestError) as caught:
            tiny.make(self.root, {"series.toml": manifest})
        self.assertExpectedInline(
            str(caught.exception),
            """\
series.toml is not valid:
  patch 1 ([ATen] Add lelu): its Test Plan names a tool outside PyTorch ('tools/lelu test -k api'); name the upstream commands a reviewer runs in a PyTorch checkout (tools/lelu belongs in the cover letter)""",  # noqa: E501
        )
        # outside the Test Plan (the message's prose) the name is allowed
        prose = tiny.MANIFEST.replace("Add the op.\n", "Add the op (see tools/lelu).\n")
        tiny.make(self.root, {"series.toml": prose})

