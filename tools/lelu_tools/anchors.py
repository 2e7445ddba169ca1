"""Semantic anchors: find where a fragment goes in an upstream file, and put it there.

Kinds (see the header of series.toml):
  yaml:NAME       the entry whose first line is `- func: NAME(` or `- name: NAME(`
  py:def NAME     a top-level function; py:class NAME a top-level class;
  py:Class.method a method of a top-level class
  pycall:F(ARG)   the call F(ARG, ...) anywhere in the module
  cpp:NAME        the top-level declaration or definition of NAME
  line:REGEX      the one line that matches REGEX
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .common import LeluError, split_lines

Where = Literal["after", "before"]
KINDS = ("yaml", "py", "pycall", "cpp", "line")


class AnchorError(LeluError):
    """An anchor that matches nothing, more than once, or cannot be read."""


@dataclass(frozen=True)
class Span:
    """Lines `start`..`end` of a text, 1-based and inclusive."""

    start: int
    end: int


@dataclass(frozen=True)
class Placed:
    """The result of an insertion: the new text, where the fragment went, how many lines were added."""

    text: str
    first_line: int  # 1-based line of the first added line (blank or fragment)
    added: int


def _error(anchor: str, path: str, what: str) -> AnchorError:
    return AnchorError(f"anchor {anchor!r} in {path}: {what}")


def _bare(lines: list[str]) -> list[str]:
    return [line.rstrip("\n") for line in lines]


def _yaml(name: str, lines: list[str]) -> list[Span]:
    heads = (f"- func: {name}(", f"- name: {name}(")
    spans = []
    for i, line in enumerate(lines):
        if not line.startswith(heads):
            continue
        end = i + 1
        while end < len(lines) and not lines[end].startswith("- "):
            end += 1
        while end > i + 1 and not lines[end - 1].strip():
            end -= 1
        spans.append(Span(i + 1, end))
    return spans


def _parse_python(text: str, anchor: str, path: str) -> ast.Module:
    try:
        return ast.parse(text, filename=path)
    except SyntaxError as err:
        raise _error(anchor, path, f"cannot parse the file as Python (line {err.lineno}: {err.msg})") from None


def _node_span(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> Span:
    start = min([node.lineno] + [d.lineno for d in node.decorator_list])
    return Span(start, node.end_lineno or node.lineno)


def _defs(body: list[ast.stmt], kind: str, name: str) -> list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
    found: list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef] = []
    for node in body:
        if kind == "class" and isinstance(node, ast.ClassDef) and node.name == name:
            found.append(node)
        if kind == "def" and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            found.append(node)
    return found


def _py(spec: str, text: str, anchor: str, path: str) -> list[Span]:
    words = spec.split()
    if len(words) == 2 and words[0] in ("def", "class") and words[1].isidentifier():
        module = _parse_python(text, anchor, path)
        return [_node_span(node) for node in _defs(module.body, words[0], words[1])]
    names = spec.split(".")
    if len(names) == 2 and all(n.isidentifier() for n in names):
        module = _parse_python(text, anchor, path)
        classes = _defs(module.body, "class", names[0])
        return [_node_span(m) for cls in classes for m in _defs(cls.body, "def", names[1])]
    raise _error(anchor, path, "expected `py:def NAME`, `py:class NAME` or `py:Class.method`")


def _pycall(spec: str, text: str, anchor: str, path: str) -> list[Span]:
    try:
        want = ast.parse(spec, mode="eval").body
    except SyntaxError:
        want = None
    if not isinstance(want, ast.Call) or len(want.args) != 1 or want.keywords:
        raise _error(anchor, path, "expected `pycall:F(ARG)` with exactly one argument")
    func, arg = ast.unparse(want.func), ast.unparse(want.args[0])
    lines = split_lines(text)
    spans = []
    for node in ast.walk(_parse_python(text, anchor, path)):
        if not (isinstance(node, ast.Call) and node.args and ast.unparse(node.func) == func):
            continue
        if ast.unparse(node.args[0]) != arg:
            continue
        end = node.end_lineno or node.lineno
        first, last = lines[node.lineno - 1], lines[end - 1].rstrip("\n")
        tail = last.encode()[node.end_col_offset or 0 :].decode(errors="replace").strip()
        head = first.encode()[: node.col_offset].decode(errors="replace").strip()
        if head or tail not in ("", ","):
            raise _error(anchor, path, f"the call on line {node.lineno} shares its lines with other code")
        spans.append(Span(node.lineno, end))
    return spans


def _cpp(name: str, lines: list[str], anchor: str, path: str) -> list[Span]:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_:]*", name):
        raise _error(anchor, path, "expected `cpp:NAME` with a C++ name")
    pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}\(")
    bare = _bare(lines)
    spans = []
    for i, line in enumerate(bare):
        if not line[:1].strip() or line.startswith("//"):
            continue
        found = pattern.search(line)
        if found:
            spans.append(Span(i + 1, _cpp_end(bare, i, found.end(), anchor, path)))
    return spans


def _cpp_end(bare: list[str], first: int, column: int, anchor: str, path: str) -> int:
    """The last line of the declaration (up to `;`) or definition (up to a line `}`) at line `first`."""
    rest = "\n".join([bare[first][column:]] + bare[first + 1 :])
    brace, semicolon = rest.find("{"), rest.find(";")
    if brace >= 0 and (semicolon < 0 or brace < semicolon):
        for j in range(first + 1, len(bare)):
            if bare[j] == "}":
                return j + 1
        raise _error(anchor, path, f"no line `}}` closes the definition on line {first + 1}")
    for j in range(first, len(bare)):
        if bare[j].rstrip().endswith(";"):
            return j + 1
    raise _error(anchor, path, f"no `{{` or `;` after line {first + 1}")


def _line(regex: str, lines: list[str], anchor: str, path: str) -> list[Span]:
    try:
        pattern = re.compile(regex)
    except re.error as err:
        raise _error(anchor, path, f"bad regular expression ({err})") from None
    return [Span(i + 1, i + 1) for i, line in enumerate(_bare(lines)) if pattern.search(line)]


def _matchers(text: str, anchor: str, path: str) -> dict[str, Callable[[str], list[Span]]]:
    lines = split_lines(text)
    return {
        "yaml": lambda spec: _yaml(spec, lines),
        "py": lambda spec: _py(spec, text, anchor, path),
        "pycall": lambda spec: _pycall(spec, text, anchor, path),
        "cpp": lambda spec: _cpp(spec, lines, anchor, path),
        "line": lambda spec: _line(spec, lines, anchor, path),
    }


def check_syntax(anchor: str) -> str | None:
    """What is wrong with the form of `anchor`, or None (the manifest calls this before any text is read)."""
    kind, colon, spec = anchor.partition(":")
    if not colon or kind not in KINDS:
        return f"unknown kind {kind!r} (use {', '.join(k + ':' for k in KINDS)})"
    if not spec:
        return "nothing after the kind"
    return None


def find_all(anchor: str, text: str, path: str) -> list[Span]:
    """Every span that `anchor` matches in `text` (the text of upstream file `path`)."""
    problem = check_syntax(anchor)
    if problem:
        raise _error(anchor, path, problem)
    kind, _, spec = anchor.partition(":")
    return _matchers(text, anchor, path)[kind](spec)


def find(anchor: str, text: str, path: str) -> Span:
    """The one span that `anchor` matches; an AnchorError unless there is exactly one."""
    spans = find_all(anchor, text, path)
    if not spans:
        raise _error(anchor, path, "no match")
    if len(spans) > 1:
        where = ", ".join(str(s.start) for s in spans)
        raise _error(anchor, path, f"matches {len(spans)} times (lines {where})")
    return spans[0]


def insertion_index(span: Span, where: Where) -> int:
    """How many lines of the text come before the inserted block."""
    return span.end if where == "after" else span.start - 1


def insert(text: str, fragment: str, span: Span, where: Where, blank: int) -> Placed:
    """Insert `fragment` after (blank lines first) or before (blank lines last) `span`."""
    lines = split_lines(text)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    block = split_lines(fragment)
    block = ["\n"] * blank + block if where == "after" else block + ["\n"] * blank
    at = insertion_index(span, where)
    return Placed("".join(lines[:at] + block + lines[at:]), at + 1, len(block))


def place(text: str, path: str, anchor: str, fragment: str, where: Where = "after", blank: int = 0) -> Placed:
    """Resolve `anchor` in `text` and insert `fragment` there."""
    return insert(text, fragment, find(anchor, text, path), where, blank)
