"""`tools/lelu lint`: PyTorch's own linters, with PyTorch's configuration, on what the series adds.

The files are the series' results at the pin: the new files, and every upstream file the wheel
ships with the series' hunks applied (its full pinned context, as lintrunner would see it in a
checkout). Only findings on lines the series adds count; upstream's own lines are upstream's.

* clang-format (tools/lint/clang-format.yaml): the new C++/CUDA files whole, the C++ hunks of
  shipped headers with --lines;
* ruff (tools/lint/ruff.toml) and flake8 (tools/lint/flake8.ini) on the patched Python files, run
  from a tree with upstream's layout so that per-file ignores apply;
* mypy (tools/lint/mypy.ini) on the patched torch/ Python files, in a copy of the wheel's whole
  torch package (its .py and .pyi files) with the series applied and the two stubs a build
  generates for it in torch/_C/_nn.pyi, imports followed into it as in a checkout (the first
  run takes about 2 minutes; its cache is build/mypy-cache), with a stub of triton
  (tools/lint/stubs) standing in for the installed package lintrunner's environment has;
* the NATIVEFUNCTIONS check: native_functions.yaml must survive a ruamel.yaml round trip with the
  settings of tools/linter/adapters/nativefunctions_linter.py, byte for byte.

tools/lint/UPSTREAM.toml records the commit each configuration comes from. Not applied, and why:
mypy's PyTorch plugins (mypy_plugins/ is not in the wheel) and mypy on test/ files (upstream's
mypy.ini lists a few test files, none of the series'), flake8's plugins (flake8-bugbear and
the others are not installed; ruff's B, C4 and SIM rules cover them), hunks of files the wheel
does not ship (their context is a public copy, not the pin), clang-tidy (needs a build's
compile_commands.json).
"""

from __future__ import annotations

import argparse
import difflib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .common import REPO_ROOT, LeluError
from .pin import WheelPin, wheel_path

CONFIG = REPO_ROOT / "tools" / "lint"
CPP_SUFFIXES = (".h", ".hpp", ".cpp", ".cc", ".cu", ".cuh")
NATIVE_FUNCTIONS = "aten/src/ATen/native/native_functions.yaml"
RUFF_JSON = "json"


@dataclass(frozen=True)
class Finding:
    tool: str
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: [{self.tool}] {self.message}"


def added_lines(before: str, after: str) -> set[int]:
    """1-based numbers of the lines of `after` that `before` does not have (the series' lines)."""
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    lines: set[int] = set()
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag in ("insert", "replace"):
            lines.update(range(j1 + 1, j2 + 1))
    return lines


def ranges(lines: set[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for n in sorted(lines):
        if out and n == out[-1][1] + 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def tool_path(name: str) -> str:
    """The tool from the interpreter's environment (the overlay venv), else from PATH."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.is_file() else shutil.which(name)
    if found is None:
        raise LeluError(f"{name} is not installed: `tools/lelu build` installs tools/requirements-overlay.txt")
    return found


def clang_format(tree: Path, files: dict[str, set[int] | None]) -> list[Finding]:
    """files: path -> the lines to check (None: the whole file)."""
    findings: list[Finding] = []
    exe = tool_path("clang-format")
    for path, lines in sorted(files.items()):
        cmd = [exe, f"--style=file:{CONFIG / 'clang-format.yaml'}", "--dry-run", "--Werror"]
        if lines is not None:
            if not lines:
                continue
            cmd += [f"--lines={a}:{b}" for a, b in ranges(lines)]
        done = subprocess.run([*cmd, str(tree / path)], capture_output=True, text=True, check=False)
        for match in re.finditer(r"^.*?:(\d+):\d+: (?:error|warning): (.*)$", done.stderr, re.MULTILINE):
            line = int(match.group(1))
            if lines is None or line in lines:
                findings.append(Finding("clang-format", path, line, match.group(2).strip()))
        if done.returncode != 0 and not findings and "error:" in done.stderr and "code should be" not in done.stderr:
            raise LeluError(f"clang-format failed on {path}:\n{done.stderr[-2000:]}")
    return findings


def ruff(tree: Path, files: dict[str, set[int]]) -> list[Finding]:
    if not files:
        return []
    cmd = [tool_path("ruff"), "check", "--config", str(CONFIG / "ruff.toml"), "--no-cache",
           "--output-format", RUFF_JSON, *sorted(files)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=tree)
    if done.returncode not in (0, 1):
        raise LeluError(f"ruff failed:\n{done.stderr[-2000:]}")
    findings = []
    for item in json.loads(done.stdout or "[]"):
        path = Path(item["filename"]).resolve().relative_to(tree.resolve()).as_posix()
        line = int(item["location"]["row"])
        if line in files.get(path, set()):
            findings.append(Finding("ruff", path, line, f"{item['code']} {item['message']}"))
    return findings


def flake8(tree: Path, files: dict[str, set[int]]) -> list[Finding]:
    if not files:
        return []
    cmd = [sys.executable, "-m", "flake8", "--config", str(CONFIG / "flake8.ini"), *sorted(files)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=tree)
    if done.returncode not in (0, 1) or "Traceback" in done.stderr:
        raise LeluError(f"flake8 failed:\n{done.stderr[-2000:]}")
    findings = []
    for match in re.finditer(r"^(?:\./)?(.+?):(\d+):\d+: (\w+ .*)$", done.stdout, re.MULTILINE):
        path, line = match.group(1), int(match.group(2))
        if line in files.get(path, set()):
            findings.append(Finding("flake8", path, line, match.group(3)))
    return findings


def mypy(tree: Path, files: dict[str, set[int]]) -> list[Finding]:
    """mypy with PyTorch's mypy.ini on the patched torch/ files, in `tree`: the wheel's whole torch
    package (its .py and .pyi files) with the series' post-images, so that imports are followed
    into the wheel's own code as in a checkout."""
    targets = sorted(p for p in files if p.startswith("torch/"))
    if not targets:
        return []
    cache = REPO_ROOT / "build" / "mypy-cache"
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(CONFIG / "mypy.ini"), "--cache-dir", str(cache),
           "--no-error-summary", "--no-pretty", *targets]
    # lintrunner's environment has triton installed; without it, mypy types triton_compat's
    # `triton` as `Any | None` and flags every `@triton.jit` of triton_helpers.py, upstream's
    # lines too: a stub of the package (tools/lint/stubs) stands in for it.
    env = dict(os.environ, MYPYPATH=str(CONFIG / "stubs"))
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=tree, env=env)
    if done.returncode not in (0, 1) or "Traceback" in done.stderr:
        raise LeluError(f"mypy failed ({done.returncode}):\n{(done.stderr or done.stdout)[-3000:]}")
    findings = []
    # (paths relative to the tree: the cache replays the errors of unchanged files with the path
    # they were found under, and every run has a new tree)
    for match in re.finditer(r"^(.+?):(\d+):\d+: error: (.*)$", done.stdout, re.MULTILINE):
        path = match.group(1)
        line = int(match.group(2))
        if line in files.get(path, set()):
            findings.append(Finding("mypy", path, line, match.group(3)))
    return findings


# What a build of the series generates into torch/_C/_nn.pyi for the new functions (from
# native_functions.yaml, by tools/pyi/gen_pyi.py, which the wheel does not ship), as for mish.
NN_STUBS = "def lelu(input: Tensor) -> Tensor: ...\ndef lelu_(input: Tensor) -> Tensor: ...\n"


def wheel_python_tree(pin: WheelPin, dest: Path) -> int:
    """The wheel's torch package, its .py and .pyi files (and py.typed), under dest, with the
    stubs a build of the series generates; returns the count of files."""
    names = [n for n in pin.names() if n.startswith("torch/") and n.endswith((".py", ".pyi", "py.typed"))]
    for name in names:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_bytes(pin.read_bytes(name))
    with open(dest / "torch/_C/_nn.pyi", "a") as stubs:
        stubs.write(NN_STUBS)
    return len(names)


def native_functions(text: str) -> list[Finding]:
    """PyTorch's NATIVEFUNCTIONS lint: a ruamel.yaml round trip must give the file back unchanged."""
    import ruamel.yaml

    yaml = ruamel.yaml.YAML()
    yaml.preserve_quotes = True
    yaml.width = 1000
    yaml.boolean_representation = ["False", "True"]
    try:
        data = yaml.load(text)
    except Exception as err:  # the adapter reports any load failure
        return [Finding("nativefunctions", NATIVE_FUNCTIONS, 1, f"YAML load failure: {err}")]
    stream = io.StringIO()
    yaml.dump(data, stream)
    again = stream.getvalue()
    if again == text:
        return []
    for n, (a, b) in enumerate(zip(text.splitlines(), again.splitlines(), strict=False), 1):
        if a != b:
            return [Finding("nativefunctions", NATIVE_FUNCTIONS, n, f"round trip changes {a!r} into {b!r}")]
    return [Finding("nativefunctions", NATIVE_FUNCTIONS, 1, "round trip changes the end of the file")]


def lint() -> list[Finding]:
    from .manifest import load_series
    from .series import postimages

    series = load_series(REPO_ROOT / "series.toml")
    findings: list[Finding] = []
    with tempfile.TemporaryDirectory(prefix="lelu-lint-") as tmp, \
            WheelPin(wheel_path(series.torch_version), series.pin) as pin:
        files = postimages(series, pin)
        tree = Path(tmp)
        wheel_python_tree(pin, tree)
        cpp: dict[str, set[int] | None] = {}
        python: dict[str, set[int]] = {}
        for path, (before, after) in files.items():
            (tree / path).parent.mkdir(parents=True, exist_ok=True)
            (tree / path).write_text(after)
            lines = added_lines(before, after)
            if path.endswith(CPP_SUFFIXES):
                cpp[path] = None if not before else lines
            elif path.endswith(".py"):
                python[path] = lines
            elif path == NATIVE_FUNCTIONS:
                findings += native_functions(after)
        findings += clang_format(tree, cpp)
        findings += ruff(tree, python)
        findings += flake8(tree, python)
        findings += mypy(tree, python)
    counts = (f"{sum(1 for v in cpp.values() if v is None)} new C++ files, "
              f"{sum(1 for v in cpp.values() if v is not None)} patched C++ headers, "
              f"{len(python)} patched Python files, native_functions.yaml")
    for finding in findings:
        print(finding)
    print(f"lint: {len(findings)} finding(s) on the series' lines ({counts}; clang-format, ruff, flake8, "
          "mypy, nativefunctions with PyTorch's configuration, tools/lint/UPSTREAM.toml)")
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/lelu lint", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(sys.argv[1:] if argv is None else argv)
    return 1 if lint() else 0


if __name__ == "__main__":
    sys.exit(main())
