"""Shared helpers: the repository root, the error type, line splitting."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


class LeluError(Exception):
    """An expected failure: the CLI prints its message without a traceback."""


def split_lines(text: str) -> list[str]:
    """Split on "\\n" only (not str.splitlines), keeping each line's newline."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def rel(path: Path, root: Path) -> str:
    """`path` relative to `root` where it lies below it, else as given."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
