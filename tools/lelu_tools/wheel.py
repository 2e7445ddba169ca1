"""`tools/lelu build-wheel CHECKOUT`: apply the series, build a torch wheel, install it, run PyTorch's suites on LELU.

The steps are the recipe of BUILD.md; `--dry-run` prints them and runs nothing.  Each step
after the apply is one shell command run in the checkout with the build variables exported;
the first failing build step stops the run, the test suites all run and are summed up.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from .common import LeluError

CUDA_ARCHS = "8.0;9.0"
# Off for a faster build (--fast); none of them is used by the LELU ops or their tests.
FAST_OFF = ("USE_DISTRIBUTED", "USE_MKLDNN", "USE_FBGEMM", "USE_NNPACK", "USE_QNNPACK", "USE_XNNPACK", "USE_KINETO")
FAST_OFF_CUDA = ("USE_FLASH_ATTENTION", "USE_MEM_EFF_ATTENTION")
# PyTorch's own suites, filtered to LELU: the OpInfo `nn.functional.lelu` (and the
# PythonRefInfo `_refs.nn.functional.lelu`), the ModuleInfo `nn.LELU`; Inductor's OpInfo suite
# compiles the op (the [inductor] lowering) and compares it with eager.  The ONNX suites need
# onnxruntime and onnxscript, and test_api a build with BUILD_TEST=1 (BUILD.md lists them).
SUITES = (
    ("test/test_ops.py", "lelu"),
    ("test/test_ops_gradients.py", "lelu"),
    ("test/test_ops_fwd_gradients.py", "lelu"),
    ("test/test_unary_ufuncs.py", "lelu"),
    ("test/test_decomp.py", "lelu"),
    ("test/functorch/test_vmap.py", "lelu"),
    ("test/test_modules.py", "LELU"),
    ("test/inductor/test_torchinductor_opinfo.py", "lelu"),
    # tables every new module, functional and op must be in (the series' test/ hunks)
    ("test/test_module_init.py", "LELU"),
    ("test/test_fx.py", "test_nn_functional_lelu"),
    ("test/test_decomp.py", "HasDecompTest"),
)
SMOKE = 'import torch; print(torch.__version__, torch.nn.LELU()(torch.tensor([-float("inf"), 0.0, 1.0])))'


@dataclass(frozen=True)
class Step:
    command: str
    test: bool = False  # a test suite: a failure is reported, the other suites still run


@dataclass(frozen=True)
class Plan:
    checkout: Path
    rebase: bool
    env: dict[str, str]
    steps: tuple[Step, ...]


def plan(checkout: Path, *, cuda: bool, arch: str | None, jobs: int, python: str, fast: bool,
         rebase: bool = False) -> Plan:
    """The build-wheel steps for `checkout` (after `tools/lelu apply`)."""
    if arch is not None and not cuda:
        raise LeluError("--arch is for CUDA builds: add --cuda")
    if jobs < 1:
        raise LeluError("--jobs must be at least 1")
    env = {"USE_CUDA": "1" if cuda else "0"}
    if cuda:
        env["TORCH_CUDA_ARCH_LIST"] = arch or CUDA_ARCHS
    env |= {"MAX_JOBS": str(jobs), "BUILD_TEST": "0"}
    if fast:
        env |= {name: "0" for name in FAST_OFF + (FAST_OFF_CUDA if cuda else ())}
    py = shlex.quote(python)
    steps = [
        Step("git submodule sync --recursive"),
        Step("git submodule update --init --recursive"),
        Step(f"{py} -m pip install -r requirements.txt build"),
        Step(f"{py} -m build --wheel --no-isolation --outdir dist"),
        Step(f'{py} -m pip install --force-reinstall --no-deps "$(ls -t dist/torch-*.whl | head -n 1)"'),
        Step(f"(cd /tmp && {py} -c {shlex.quote(SMOKE)})"),
    ]
    steps += [Step(f"{py} {suite} -k {pattern}", test=True) for suite, pattern in SUITES]
    return Plan(checkout, rebase, env, tuple(steps))


def script(p: Plan, lelu: str = "tools/lelu") -> str:
    """The plan as the commands a user would type (what --dry-run prints)."""
    exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in p.env.items())
    lines = [
        f"{lelu} apply {'--rebase ' if p.rebase else ''}{shlex.quote(str(p.checkout))}",
        f"cd {shlex.quote(str(p.checkout))}",
        f"export {exports}",
        *(step.command for step in p.steps),
    ]
    return "\n".join(lines) + "\n"


def execute(p: Plan, out: TextIO | None = None) -> int:
    """Run the steps after the apply; 0 if the wheel was built and installed and every suite passed."""
    out = out or sys.stdout
    env = {**os.environ, **p.env}
    failed: list[str] = []
    for step in p.steps:
        print(f"+ {step.command}", file=out, flush=True)
        done = subprocess.run(["bash", "-c", step.command], cwd=p.checkout, env=env, check=False)
        if done.returncode == 0:
            continue
        if not step.test:
            raise LeluError(f"`{step.command}` failed (exit {done.returncode}) in {p.checkout}; "
                            "see Troubleshooting in BUILD.md, then run `tools/lelu build-wheel` again")
        failed.append(f"{step.command} (exit {done.returncode})")
    if failed:
        print("these suites failed:\n  " + "\n  ".join(failed), file=out)
        return 1
    print(f"the wheel is installed and all {sum(s.test for s in p.steps)} suites passed on LELU", file=out)
    return 0


def run_build_wheel(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    checkout: Path = args.checkout
    p = plan(checkout, cuda=args.cuda, arch=args.arch, jobs=args.jobs or os.cpu_count() or 1,
             python=args.python, fast=args.fast, rebase=args.rebase)
    if args.dry_run:
        print(script(p), end="", file=out)
        return 0
    from .apply import apply, open_checkout

    code = apply(checkout, rebase=p.rebase, out=out)
    if code != 0:
        return code
    return execute(Plan(open_checkout(checkout).root, p.rebase, p.env, p.steps), out)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub = commands.add_parser(
        "build-wheel", help="apply the series to a PyTorch checkout, build and install a wheel, run its LELU tests",
        description="The recipe of BUILD.md: tools/lelu apply, the build variables, python -m build, "
                    "pip install, PyTorch's OpInfo/ModuleInfo suites filtered to LELU.")
    sub.add_argument("checkout", type=Path, help="the PyTorch git checkout (at the pin)")
    sub.add_argument("--cuda", action="store_true", help="build with CUDA (USE_CUDA=1); default: CPU only")
    sub.add_argument("--arch", help=f"TORCH_CUDA_ARCH_LIST for --cuda (default: {CUDA_ARCHS!r})")
    sub.add_argument("--jobs", type=int, help="MAX_JOBS, the parallel compile jobs (default: the number of CPUs)")
    sub.add_argument("--fast", action="store_true",
                     help="switch off what LELU does not need (distributed, oneDNN, FBGEMM, NNPACK, QNNPACK, XNNPACK, "
                          "Kineto; with --cuda flash and memory-efficient attention) for a faster build")
    sub.add_argument("--python", default="python3", help="the Python to build with and install into (default: python3)")
    sub.add_argument("--rebase", action="store_true", help="apply with `tools/lelu apply --rebase` (see there)")
    sub.add_argument("--dry-run", action="store_true", help="print the steps and run nothing")
    sub.set_defaults(run=run_build_wheel)
