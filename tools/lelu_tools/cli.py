"""The `tools/lelu` command line: one entry point, subcommands, lazy imports."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from .common import REPO_ROOT, LeluError

# Subcommands that belong to lelu_tools.overlay; everything after their name is passed through.
OVERLAY_COMMANDS = {
    "demo": "run the LELU demo on the overlay build",
    "test": "run the tests on the overlay build (pytest arguments pass through)",
    "python": "run python with the overlay build importable (arguments pass through)",
    "build": "build the overlay on the pinned wheel",
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


def _overlay(command: str, rest: list[str]) -> int:
    try:
        overlay = importlib.import_module("lelu_tools.overlay")
    except ModuleNotFoundError as err:
        if err.name != "lelu_tools.overlay":
            raise
        raise LeluError(f"`tools/lelu {command}` needs tools/lelu_tools/overlay.py, which is not there yet") from None
    run: Callable[[list[str]], int] = getattr(overlay, f"run_{command}")
    return run(rest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tools/lelu", description="Tools for the LELU patch series.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    patches = commands.add_parser("patches", help="regenerate patches/ from series.toml (--check: verify it)")
    patches.add_argument(
        "--check",
        action="store_true",
        help="do not write: fail if patches/ is stale or does not apply to the pinned wheel",
    )
    patches.set_defaults(run=_patches)
    for name, text in OVERLAY_COMMANDS.items():
        sub = commands.add_parser(name, help=text, add_help=False)
        sub.add_argument("rest", nargs=argparse.REMAINDER, help="passed through")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] in OVERLAY_COMMANDS:
            # Not through argparse: it would take `-k`, `-x`, `-c`, `-h` for its own options.
            return _overlay(args[0], args[1:])
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
