"""`tools/lelu apply` and `tools/lelu branch` end to end on scratch checkouts of the pinned files."""

from __future__ import annotations

import dataclasses
import io
import os
import tempfile
from pathlib import Path
from unittest import mock

from expecttest import TestCase

import tiny
from checkouts import GIT_ENV, TINY_PIN, commit_all, git, scratch_checkout
from lelu_tools.anchors import find
from lelu_tools.apply import apply, branch
from lelu_tools.common import LeluError
from lelu_tools.manifest import Series, load_series
from lelu_tools.pin import WheelPin, wheel_path
from lelu_tools.series import generate, write

FIRST = "0001-ATen-Add-lelu.patch"
SECOND = "0002-nn-Add-F.lelu.patch"
FUNCTIONAL = "torch/nn/functional.py"
REPO = Path(__file__).resolve().parents[2]


class CheckoutCase(TestCase):
    """A tiny series whose pin is the HEAD of a scratch checkout of its pre-images."""

    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.root = Path(self.tmp.name) / "project"
        self.checkout = Path(self.tmp.name) / "checkout"
        env = mock.patch.dict(os.environ, GIT_ENV)
        env.start()
        self.addCleanup(env.stop)
        self.pin = scratch_checkout(self.checkout, tiny.make(self.root), tiny.pin())
        self.series = tiny.make(self.root, {"series.toml": tiny.MANIFEST.replace(TINY_PIN, self.pin)})
        self.patches = self.root / "patches"
        write(generate(self.series, tiny.pin()), self.patches)

    def tearDown(self) -> None:
        self.tmp.cleanup()

    def run_tool(self, command: str = "apply", rebase: bool = False, **kwargs: str) -> tuple[int | str, str]:
        """The exit code (or the LeluError's text) and the output, with the temporary folder as TMP."""
        out = io.StringIO()
        tool = apply if command == "apply" else branch
        try:
            code: int | str = tool(self.checkout, rebase=rebase, series=self.series, patches_dir=self.patches,
                                   out=out, **kwargs)  # type: ignore[arg-type]
        except LeluError as err:
            code = f"error: {err}\n"
        return self.masked(code), self.masked(out.getvalue())

    def masked(self, value: int | str) -> int | str:
        if isinstance(value, int):
            return value
        return value.replace(str(Path(self.tmp.name).resolve()), "TMP").replace(self.pin, "PIN").replace(
            self.pin[:12], "PIN12")

    def state(self) -> tuple[str, str, str]:
        """HEAD, the current branch and git's short status: what must not change when a command refuses."""
        return (git(self.checkout, "rev-parse", "HEAD"), git(self.checkout, "branch", "--show-current"),
                git(self.checkout, "status", "--short"))

    def log(self, count: int = 3) -> str:
        return git(self.checkout, "log", f"-{count}", "--format=%s")


class TestApply(CheckoutCase):
    def test_clean_apply_then_again(self) -> None:
        code, out = self.run_tool()
        self.assertEqual(code, 0)
        self.assertExpectedInline(out, """\
applying 2 patches to TMP/checkout at PIN12 (the pin) with git am
applied  0001-ATen-Add-lelu.patch
applied  0002-nn-Add-F.lelu.patch
TMP/checkout: 2 commits on top of PIN12; `git log --oneline -2` lists them
""")
        self.assertEqual(self.log(), "[nn] Add F.lelu\n[ATen] Add lelu\nbase: pre-images at the pin\n")
        self.assertIn("def lelu(input, inplace=False):", (self.checkout / FUNCTIONAL).read_text())
        self.assertEqual(git(self.checkout, "status", "--short"), "")
        before = self.state()
        code, out = self.run_tool()
        self.assertEqual(code, 0)
        self.assertExpectedInline(out, """\
the series is already applied in TMP/checkout: its 2 commits are on top of PIN12; nothing to do
""")
        self.assertEqual(self.state(), before)

    def test_dirty_tree_is_refused(self) -> None:
        path = self.checkout / FUNCTIONAL
        path.write_text(path.read_text() + "# mine\n")
        (self.checkout / "notes.txt").write_text("untracked files do not matter\n")
        before = self.state()
        code, out = self.run_tool()
        self.assertExpectedInline(code, """\
error: TMP/checkout has changes to tracked files (git status):
     M torch/nn/functional.py
commit or stash them first; nothing was done
""")
        self.assertEqual((out, self.state()), ("", before))
        self.assertTrue(path.read_text().endswith("# mine\n"))

    def test_untracked_file_in_the_way_is_refused(self) -> None:
        new = self.checkout / "aten/src/ATen/native/Lelu.h"
        new.write_text("// mine\n")
        code, out = self.run_tool()
        self.assertExpectedInline(code, """\
error: the series adds files that already exist, untracked, in TMP/checkout:
    aten/src/ATen/native/Lelu.h
move them away first; nothing was done
""")
        self.assertEqual(new.read_text(), "// mine\n")
        self.assertEqual(self.log(1), "base: pre-images at the pin\n")

    def test_wrong_commit_is_refused(self) -> None:
        (self.checkout / "README").write_text("later\n")
        commit_all(self.checkout, "A later commit")
        before = self.state()
        code, out = self.run_tool()
        self.assertExpectedInline(self.masked(str(code).replace(before[0].strip(), "HEAD")), """\
error: TMP/checkout is at HEAD (A later commit),
not at the pin PIN (torch 2.13.0):
  check out the pin:   git -C TMP/checkout checkout PIN
  or regenerate the series against this commit:   tools/lelu apply --rebase TMP/checkout
""")
        self.assertEqual(self.state(), before)

    def test_rebase_carries_the_checkouts_context(self) -> None:
        path = self.checkout / FUNCTIONAL
        path.write_text(path.read_text().replace("def tanh(input):", "def tanh(input):  # moved on"))
        commit_all(self.checkout, "Change the context after mish")
        code, out = self.run_tool(rebase=True)
        self.assertEqual(code, 0)
        self.assertExpectedInline(out, """\
applying 2 patches to TMP/checkout at c44c5ad9a6c4 (--rebase: the series regenerated from its files) with git am
applied  0001-ATen-Add-lelu.patch
applied  0002-nn-Add-F.lelu.patch
TMP/checkout: 2 commits on top of c44c5ad9a6c4; `git log --oneline -2` lists them
""")
        self.assertIn("    return torch.lelu(input)\n\n\ndef tanh(input):  # moved on\n", path.read_text())
        code, out = self.run_tool(rebase=True)
        self.assertEqual(code, 0)
        self.assertIn("already applied", out)

    def test_rebase_names_every_missing_anchor_and_applies_nothing(self) -> None:
        path = self.checkout / FUNCTIONAL
        path.write_text(path.read_text().replace("def mish(", "def mish_v2("))
        yaml = self.checkout / "aten/src/ATen/native/native_functions.yaml"
        yaml.write_text(yaml.read_text().replace("mish.out(", "mish_out("))
        (self.checkout / "torch/csrc/autograd/Manual.cpp").unlink()
        commit_all(self.checkout, "Rename mish, remove Manual.cpp")
        before = self.state()
        code, out = self.run_tool(rebase=True)
        self.assertExpectedInline(code, """\
error: --rebase: 3 insert(s) of the series cannot be placed in TMP/checkout at 430e2c720996:
  patch 0001 [ATen] Add lelu: anchor 'yaml:mish.out' in aten/src/ATen/native/native_functions.yaml: no match
  patch 0002 [nn] Add F.lelu: anchor 'py:def mish' in torch/nn/functional.py: no match
  patch 0002 [nn] Add F.lelu: anchor 'cpp:mish_backward_twice' in torch/csrc/autograd/Manual.cpp: the file does not exist
nothing was applied to TMP/checkout
""")  # noqa: E501
        self.assertEqual((out, self.state()), ("", before))

    def test_failure_in_the_middle_is_undone(self) -> None:
        stale = self.patches / SECOND
        stale.write_text(stale.read_text().replace(" def tanh(input):", " def tanh(x):"))
        before = self.state()
        code, out = self.run_tool()
        self.assertEqual(code, 1)
        self.assertExpectedInline(out, """\
applying 2 patches to TMP/checkout at PIN12 (the pin) with git am
applied  0001-ATen-Add-lelu.patch (undone below)
patch 0002-nn-Add-F.lelu.patch does not apply: file torch/nn/functional.py, line 9 (the context differs)
git am --abort: TMP/checkout is back at PIN12 (branch main), its tracked files unchanged
""")
        self.assertEqual(self.state(), before)
        self.assertFalse((self.checkout / "aten/src/ATen/native/Lelu.h").exists())

    def test_other_changes_under_the_same_subjects(self) -> None:
        self.assertEqual(self.run_tool()[0], 0)
        edited = self.patches / SECOND
        edited.write_text(edited.read_text().replace("return torch.lelu(input)", "return torch.lelu(input * 1)"))
        code, out = self.run_tool()
        self.assertExpectedInline(code, """\
error: TMP/checkout has commits with the subjects of the series, but the one of 0002-nn-Add-F.lelu.patch makes other changes than the patch (if it was applied with --rebase, check with --rebase); nothing was done
""")  # noqa: E501

    def test_partly_applied(self) -> None:
        git(self.checkout, "am", "--keep-non-patch", str(self.patches / FIRST))
        code, out = self.run_tool()
        self.assertExpectedInline(code, """\
error: TMP/checkout already has the first 1 of the 2 patches on top of PIN12 (by subject); remove those commits or start from a fresh checkout of the pin; nothing was done
""")  # noqa: E501

    def test_am_in_progress_is_left_alone(self) -> None:
        stale = self.patches / FIRST
        stale.write_text(stale.read_text().replace("    CPU: mish_out", "    CPU: mish_out_v2"))
        self.assertNotEqual(subprocess_rc(self.checkout, "am", str(stale)), 0)
        code, out = self.run_tool()
        self.assertExpectedInline(code, """\
error: TMP/checkout is in the middle of a `git am` or `git rebase` (finish it, or `git am --abort` / `git rebase --abort`); nothing was done
""")  # noqa: E501
        self.assertTrue((self.checkout / ".git/rebase-apply").is_dir())


class TestBranch(CheckoutCase):
    def test_branch_at_the_pin(self) -> None:
        (self.checkout / "README").write_text("mine\n")
        mine = commit_all(self.checkout, "My work on main")
        code, out = self.run_tool("branch")
        self.assertEqual(code, 0)
        self.assertExpectedInline(out, """\
created branch lelu at PIN12 (the pin); applying 2 patches with git am
applied  0001-ATen-Add-lelu.patch
applied  0002-nn-Add-F.lelu.patch
branch lelu: 2 commits on top of PIN12; it is checked out in TMP/checkout
next: cd TMP/checkout && git checkout lelu && ghstack submit   (one pull request per commit; `pip install ghstack` first)
""")  # noqa: E501
        self.assertEqual(git(self.checkout, "branch", "--show-current"), "lelu\n")
        self.assertEqual(self.log(), "[nn] Add F.lelu\n[ATen] Add lelu\nbase: pre-images at the pin\n")
        self.assertEqual(git(self.checkout, "rev-parse", "main").strip(), mine)
        code, out = self.run_tool("branch")
        self.assertEqual(code, 0)
        self.assertIn("branch lelu already holds the series", out)

    def test_failed_branch_leaves_the_users_branch(self) -> None:
        stale = self.patches / SECOND
        stale.write_text(stale.read_text().replace(" def tanh(input):", " def tanh(x):"))
        before = self.state()
        code, out = self.run_tool("branch", name="pr")
        self.assertEqual(code, 1)
        self.assertExpectedInline(out, """\
created branch pr at PIN12 (the pin); applying 2 patches with git am
applied  0001-ATen-Add-lelu.patch (undone below)
patch 0002-nn-Add-F.lelu.patch does not apply: file torch/nn/functional.py, line 9 (the context differs)
git am --abort: TMP/checkout is back at PIN12 (branch pr), its tracked files unchanged
back on branch main at PIN12; branch pr deleted
""")
        self.assertEqual(self.state(), before)
        self.assertEqual(git(self.checkout, "branch", "--list", "pr"), "")

    def test_branch_at_head_with_rebase(self) -> None:
        path = self.checkout / FUNCTIONAL
        path.write_text(path.read_text().replace("def tanh(input):", "def tanh(input):  # moved on"))
        head = commit_all(self.checkout, "Change the context after mish")
        code, out = self.run_tool("branch", rebase=True, name="lelu-head")
        self.assertEqual(code, 0, out)
        self.assertEqual(git(self.checkout, "rev-parse", "lelu-head~2").strip(), head)
        self.assertEqual(git(self.checkout, "rev-parse", "main").strip(), head)
        self.assertEqual(self.log(2), "[nn] Add F.lelu\n[ATen] Add lelu\n")

    def test_existing_branch_without_the_series(self) -> None:
        git(self.checkout, "branch", "lelu")
        code, out = self.run_tool("branch")
        self.assertExpectedInline(code, """\
error: branch lelu already exists in TMP/checkout and does not hold the series; pick another name (--name) or delete it (git branch -D lelu); nothing was done
""")  # noqa: E501


def subprocess_rc(path: Path, *args: str) -> int:
    import subprocess

    return subprocess.run(["git", *args], cwd=path, capture_output=True, check=False).returncode


def _real_series() -> tuple[Series, WheelPin]:
    """The series and the pinned wheel (fetched with pip if missing: a missing wheel fails, never skips)."""
    series = load_series(REPO / "series.toml")
    return series, WheelPin(wheel_path(series.torch_version), series.pin)


class TestRealSeries(TestCase):
    """patches/ itself, applied to a scratch checkout of the pinned files from the wheel."""

    def test_apply_and_reapply(self) -> None:
        series, pin = _real_series()
        with tempfile.TemporaryDirectory() as tmp, mock.patch.dict(os.environ, GIT_ENV), pin:
            checkout = Path(tmp) / "pytorch"
            head = scratch_checkout(checkout, series, pin)
            series = dataclasses.replace(series, pin=head)
            out = io.StringIO()
            self.assertEqual(apply(checkout, series=series, out=out), 0, out.getvalue())
            subjects = git(checkout, "log", f"-{len(series.patches)}", "--reverse", "--format=%s").splitlines()
            self.assertEqual(subjects, [p.subject for p in series.patches])
            self.assertEqual(git(checkout, "rev-parse", f"HEAD~{len(series.patches)}").strip(), head)
            out = io.StringIO()
            self.assertEqual(apply(checkout, series=series, out=out), 0)
            self.assertIn("already applied", out.getvalue())

    def test_rebase_onto_a_later_commit(self) -> None:
        series, pin = _real_series()
        with tempfile.TemporaryDirectory() as tmp, mock.patch.dict(os.environ, GIT_ENV), pin:
            checkout = Path(tmp) / "pytorch"
            scratch_checkout(checkout, series, pin)
            functional = checkout / FUNCTIONAL
            lines = functional.read_text().splitlines(keepends=True)
            end = find("py:def mish", "".join(lines), FUNCTIONAL).end  # F.lelu goes right after mish
            functional.write_text("".join(lines[:end] + ["# a later upstream change\n"] + lines[end:]))
            later = commit_all(checkout, "A later upstream commit")
            with self.assertRaises(LeluError) as caught:
                apply(checkout, series=series, out=io.StringIO())
            self.assertIn("--rebase", str(caught.exception))
            nn_patch = next(p for p in (REPO / "patches").glob("*.patch") if "torch.nn.functional.lelu" in p.name)
            self.assertNotEqual(subprocess_rc(checkout, "apply", "--check", str(nn_patch)), 0)  # patches/ would fail
            out = io.StringIO()
            self.assertEqual(apply(checkout, rebase=True, series=series, out=out), 0, out.getvalue())
            self.assertEqual(git(checkout, "rev-parse", f"HEAD~{len(series.patches)}").strip(), later)
            self.assertIn("\ndef lelu(", functional.read_text())
            self.assertIn("# a later upstream change\n", functional.read_text())
