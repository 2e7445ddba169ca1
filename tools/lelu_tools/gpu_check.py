"""`tools/lelu gpu-check`: the whole GPU check as one command, prepared for a machine with a GPU.

Steps (each logged to OUT/<step>.log, and summed up in OUT/gpu-check.json):
1. gpu:    the interpreter's torch is a CUDA build and sees a GPU; else it stops (exit 2) before
           building anything, saying why.
2. build:  the overlay on that torch (`tools/lelu --torch PYTHON build`), the CUDA kernel for the
           GPU's architecture only (TORCH_CUDA_ARCH_LIST, unless set), pip offline
           (PIP_NO_INDEX) from build/wheelhouse when it is there (`--download-wheels` fills it).
3. demo:   `tools/lelu --torch PYTHON demo` (on a GPU it compares CUDA with the CPU kernel).
4. tests:  test/test_cuda.py (CPU/CUDA bits, accuracy against mpmath, special values, gradcheck)
           and test/test_opinfo.py's CUDA instances (OpInfo and ModuleInfo on cuda).
5. bench:  lelu_tools.gpu_bench: GPU accuracy and speed, into OUT/gpu-accuracy.json and
           OUT/gpu-bench.json, which `tools/lelu bench --render` / `tools/lelu accuracy --render`
           turn into the GPU sections of BENCHMARKS.md and ACCURACY.md (with --publish).

`--dry-run` prints every step and runs none.  Sized for one device call of under 10 minutes on a
16-core machine: `--quick` halves the benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .common import REPO_ROOT, LeluError, rel

DEFAULT_PYTHON = "/opt/torch/.venv/bin/python3"  # the device machine's torch (the device tool's README)
DEFAULT_OUT = REPO_ROOT / "build" / "gpu-check"
WHEELHOUSE = REPO_ROOT / "build" / "wheelhouse"
LELU = str(REPO_ROOT / "tools" / "lelu")
# The platforms of the wheels fetched for a machine without network (x86-64 Linux, glibc >= 2.28).
WHEEL_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")

_GPU_PROBE = ("import json, torch; ok = torch.cuda.is_available(); print(json.dumps({'torch': torch.__version__, "
              "'cuda': torch.version.cuda, 'gpu': ok, 'name': torch.cuda.get_device_name(0) if ok else None, "
              "'capability': '%d.%d' % torch.cuda.get_device_capability(0) if ok else None}))")


@dataclass
class Step:
    name: str
    cmd: list[str]
    env: dict[str, str] = field(default_factory=dict)
    what: str = ""

    def show(self) -> str:
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        return f"{self.name:<6} {env + ' ' if env else ''}{shlex.join(self.cmd)}\n       ({self.what})"


def steps(python: str, out: Path, arch: str, quick: bool) -> list[Step]:
    torch = ["--torch", python]
    env = {"TORCH_CUDA_ARCH_LIST": os.environ.get("TORCH_CUDA_ARCH_LIST", arch)}
    if WHEELHOUSE.is_dir():
        env["PIP_NO_INDEX"] = "1"
    bench = ["--sizes", "20", "24", "26", "28"] if quick else []
    pytest = ["-q", "-rs", "-p", "no:cacheprovider"]
    return [
        Step("build", [LELU, *torch, "build"], env, "the overlay on that torch, the CUDA kernel for its GPU"),
        Step("demo", [LELU, *torch, "demo"], {}, "LELU on that torch; the CUDA results next to the CPU's"),
        Step("tests", [LELU, *torch, "test", "test/test_cuda.py", *pytest, f"--junitxml={out / 'test_cuda.xml'}"],
             {}, "CPU/CUDA bits, accuracy against mpmath, special values, gradcheck on cuda"),
        Step("opinfo", [LELU, *torch, "test", "test/test_opinfo.py", "-k", "cuda", *pytest,
                        f"--junitxml={out / 'test_opinfo_cuda.xml'}"], {}, "the OpInfo and ModuleInfo tests on cuda"),
        Step("bench", [LELU, *torch, "python", "-m", "lelu_tools.gpu_bench", "--out", str(out), *bench,
                       "--command", "tools/lelu gpu-check" + (" --quick" if quick else "")], {},
             "GPU accuracy and speed: gpu-accuracy.json, gpu-bench.json"),
    ]


def probe_gpu(python: str) -> dict[str, object]:
    done = subprocess.run([python, "-c", _GPU_PROBE], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    if done.returncode != 0:
        raise LeluError(f"gpu-check: {python} cannot import torch:\n{done.stderr.strip()[-2000:]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(python: str, out: Path, quick: bool, dry_run: bool) -> int:
    if dry_run:
        print(f"gpu-check --dry-run: the steps it would run, with reports in {rel(out, REPO_ROOT)}/")
        print(f"gpu    {python} -c '<is torch a CUDA build, and does it see a GPU?>' (stops here if not)")
        for step in steps(python, out, "<the GPU's compute capability>", quick):
            print(step.show())
        print(f"then:  tools/lelu bench --render {rel(out, REPO_ROOT)}/gpu-bench.json --publish; "
              f"tools/lelu accuracy --render {rel(out, REPO_ROOT)}/gpu-accuracy.json --publish")
        return 0
    if not Path(python).exists():
        raise LeluError(f"gpu-check: no interpreter {python} (give the one whose CUDA torch to use: --python)")
    gpu = probe_gpu(python)
    if not gpu["cuda"]:
        print(f"gpu-check: no GPU check possible: {python} has torch {gpu['torch']}, a CPU-only build", file=sys.stderr)
        return 2
    if not gpu["gpu"]:
        print(f"gpu-check: no GPU check possible: torch {gpu['torch']} (CUDA {gpu['cuda']}) of {python} sees no "
              "GPU (torch.cuda.is_available() is False). Run it on a machine with one; --dry-run shows the steps.",
              file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    print(f"gpu-check: {gpu['name']} (compute capability {gpu['capability']}), torch {gpu['torch']}", flush=True)
    results: list[dict[str, object]] = []
    summary = {"gpu": gpu, "steps": results}
    failed = 0
    for step in steps(python, out, str(gpu["capability"]), quick):
        start = time.monotonic()
        print(f"gpu-check: {step.name}: {step.what}", flush=True)
        with open(out / f"{step.name}.log", "w") as log:
            code = subprocess.run(step.cmd, env={**os.environ, **step.env}, stdout=log, stderr=subprocess.STDOUT,
                                  cwd=REPO_ROOT).returncode
        seconds = time.monotonic() - start
        tail = (out / f"{step.name}.log").read_text().strip().splitlines()[-3:]
        print(f"gpu-check: {step.name}: {'ok' if code == 0 else f'FAILED ({code})'} in {seconds:.0f} s; "
              + " | ".join(tail), flush=True)
        results.append({"step": step.name, "rc": code, "seconds": round(seconds, 1)})
        (out / "gpu-check.json").write_text(json.dumps(summary, indent=1))
        if code != 0:
            failed += 1
            if step.name == "build":
                break
    return 1 if failed else 0


def download_wheels(python_version: str) -> int:
    """Fill build/wheelhouse with the overlay's core requirements for a machine without network."""
    from .torchenv import CORE, pinned_requirements

    pinned = pinned_requirements(REPO_ROOT / "tools" / "requirements-overlay.txt")
    platforms = [f for p in WHEEL_PLATFORMS for f in ("--platform", p)]
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--python-version",
           python_version, *platforms, "-d", str(WHEELHOUSE), *(pinned[n] for n in CORE)]
    done = subprocess.run(cmd)
    if done.returncode == 0:
        total = sum(f.stat().st_size for f in WHEELHOUSE.iterdir())
        print(f"gpu-check: {len(list(WHEELHOUSE.iterdir()))} wheels, {total / 2**20:.1f} MiB in "
              f"{rel(WHEELHOUSE, REPO_ROOT)} (carry it to the GPU machine)")
    return done.returncode


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "gpu-check", help="on a GPU machine: build the overlay on its CUDA torch, run the CUDA tests and the GPU "
        "benchmark (--dry-run: show the steps)", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default=DEFAULT_PYTHON,
                        help=f"the interpreter whose CUDA torch to use (default: {DEFAULT_PYTHON})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the reports go (default: build/gpu-check)")
    parser.add_argument("--quick", action="store_true", help="fewer benchmark sizes (2^20, 2^24, 2^26, 2^28)")
    parser.add_argument("--dry-run", action="store_true", help="print the steps, run nothing")
    parser.add_argument("--download-wheels", metavar="PYTHON_VERSION",
                        help="instead: fetch the core requirements' wheels for that Python (e.g. 3.12) into "
                        "build/wheelhouse, for a machine without network")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    if args.download_wheels:
        return download_wheels(args.download_wheels)
    out: Path = args.out
    return run(args.python, out.resolve(), args.quick, args.dry_run)
