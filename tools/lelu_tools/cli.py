"""The `tools/lelu` command line: one entry point, subcommands, lazy imports."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .common import REPO_ROOT, LeluError

# Subcommands that belong to lelu_tools.overlay; everything after their name is passed through.
OVERLAY_COMMANDS = {
    "demo": "run the LELU demo on the overlay build",
    "test": "run the tests on the overlay build (pytest arguments pass through)",
    "python": "run python with the overlay build importable (arguments pass through)",
    "build": "build the overlay on the pinned wheel",
    "bench": "benchmark lelu against its peers on the overlay build (--help: the options)",
    "accuracy": "measure the ULP error of lelu and its peers against mpmath (--help: the options)",
    "lint": "PyTorch's linters with PyTorch's configuration on the lines the series adds (no build needed)",
    "train": "train a small network with GELU, SiLU and LELU, several seeds: an MLP on digits, or with --task lm "
    "a small transformer language model (--help: the options)",
}


def _patches(args: argparse.Namespace) -> int:
    from .manifest import load_series
    from .pin import WheelPin, wheel_path
    from .series import generate, write

    series = load_series(REPO_ROOT / "series.toml")
    patches_dir = REPO_ROOT / "patches"
    with WheelPin(wheel_path(series.torch_version), series.pin) as pin:
        if args.check:
            from .check import check

            return 0 if check(series, pin, patches_dir) else 1
        changes = write(generate(series, pin), patches_dir)
    for change in changes:
        print(change)
    print(f"patches/ holds {len(series.patches)} patches{'' if changes else ' (unchanged)'}")
    return 0


def _cuda_check(args: argparse.Namespace) -> int:
    from .cuda_check import CudaCheckError, check
    from .overlay import pinned_torch_include

    source: Path = args.source
    if not source.is_file():
        raise CudaCheckError(f"{source}: no such file")
    check(pinned_torch_include(), source.resolve(), args.out.resolve(), fmad_check=not args.no_fmad_check)
    return 0


def _docs(args: argparse.Namespace) -> int:
    from .docs import run

    out: Path = args.out
    return run(out.resolve())


def _overlay(command: str, rest: list[str], torch_python: str | None) -> int:
    overlay = importlib.import_module("lelu_tools.overlay")  # (sys.modules first: the tests replace it)
    target = overlay.PINNED if torch_python is None else overlay.torch_target(torch_python)
    run: Callable[[list[str], Any], int] = getattr(overlay, f"run_{command}")
    return run(rest, target)


def _split_torch(args: list[str]) -> tuple[str | None, list[str]]:
    """`--torch PYTHON` (or `--torch=PYTHON`) in front of an overlay command: (PYTHON, the rest)."""
    if args and args[0].startswith("--torch="):
        return args[0].removeprefix("--torch="), args[1:]
    if args and args[0] == "--torch":
        if len(args) < 2 or args[1].startswith("-"):
            raise LeluError("--torch needs the interpreter whose torch to build on: tools/lelu --torch PYTHON COMMAND")
        return args[1], args[2:]
    return None, args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tools/lelu", description="Tools for the LELU patch series.",
        epilog="--torch PYTHON, before an overlay command (build, demo, test, python, bench, accuracy, train), builds "
        "and runs the overlay on the torch that interpreter imports (torch 2.11-2.13, CPU or CUDA) instead of the "
        "pinned wheel; PYTHON's environment is not modified.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    patches = commands.add_parser("patches", help="regenerate patches/ from series.toml (--check: verify it)")
    patches.add_argument(
        "--check",
        action="store_true",
        help="do not write: fail if patches/ is stale or does not apply to the pinned wheel",
    )
    patches.set_defaults(run=_patches)
    cuda = commands.add_parser(
        "cuda-check",
        help="compile the CUDA kernel with nvcc for sm_80 and sm_90 and check its device code (no GPU needed)",
    )
    cuda.add_argument("--source", type=Path, default=REPO_ROOT / "aten_native/aten/src/ATen/native/cuda/LeluKernel.cu",
                      help="the .cu file to compile (default: the series' kernel)")
    cuda.add_argument("--out", type=Path, default=REPO_ROOT / "build/cuda-check",
                      help="where the objects and generated headers go (default: build/cuda-check)")
    cuda.add_argument("--no-fmad-check", action="store_true",
                      help="skip the second compile that compares the machine code with --fmad=false")
    cuda.set_defaults(run=_cuda_check)
    docs = commands.add_parser(
        "docs", help="render the LELU docs pages (docstrings, docs_rst/, the plot) to HTML with Sphinx in the overlay"
    )
    docs.add_argument("--out", type=Path, default=REPO_ROOT / "build/docs",
                      help="where the Sphinx project and its HTML (OUT/html) go (default: build/docs)")
    docs.set_defaults(run=_docs)
    from . import apply, cross_check, gpu_check, triton_check, wheel

    apply.register(commands)  # apply, branch
    wheel.register(commands)  # build-wheel
    cross_check.register(commands)  # cross-check
    gpu_check.register(commands)  # gpu-check
    triton_check.register(commands)  # triton-check
    for name, text in OVERLAY_COMMANDS.items():
        sub = commands.add_parser(name, help=text, add_help=False)
        sub.add_argument("rest", nargs=argparse.REMAINDER, help="passed through")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        torch_python, args = _split_torch(args)
        if args and args[0] in OVERLAY_COMMANDS:
            # Not through argparse: it would take `-k`, `-x`, `-c`, `-h` for its own options.
            return _overlay(args[0], args[1:], torch_python)
        if torch_python is not None:
            raise LeluError(f"--torch goes with an overlay command ({', '.join(OVERLAY_COMMANDS)}), "
                            f"not with {args[0] if args else 'nothing'}")
        parsed = build_parser().parse_args(args)
        code: int = parsed.run(parsed)
        return code
    except LeluError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
