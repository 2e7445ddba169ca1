"""series.toml, loaded into typed dataclasses and validated."""

from __future__ import annotations

import email.utils
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from .anchors import Where, check_syntax
from .common import LeluError

MAX_SUBJECT = 72
SUBJECT_FORM = re.compile(r"\[[^\]\s][^\]]*\] \S")
# A message line that git mailinfo would take for the start of the diff.
DIFF_START = re.compile(r"^(diff -|Index: |---)")
SERIES_KEYS = {"pin", "torch_version", "author", "date", "cover_letter", "patch"}
PATCH_KEYS = {"subject", "body", "files", "root", "insert"}
INSERT_KEYS = {"target", "fragment", "anchor", "where", "blank", "unshipped"}
UPSTREAM_KEYS = {"repo", "commit", "path", "first_line", "excerpt"}


class ManifestError(LeluError):
    """series.toml (or an UPSTREAM.toml it names) is malformed or names missing files."""


@dataclass(frozen=True)
class Insert:
    target: str
    fragment: str
    anchor: str
    where: Where = "after"
    blank: int = 0
    unshipped: str | None = None


@dataclass(frozen=True)
class Patch:
    subject: str
    body: str
    files: tuple[str, ...]
    root: str | None
    inserts: tuple[Insert, ...]

    def message(self) -> str:
        """The commit message: subject, blank line, body."""
        body = self.body.strip("\n")
        return f"{self.subject}\n\n{body}\n" if body else f"{self.subject}\n"

    def source(self, path: str) -> str:
        """Where the text of new file `path` lives, relative to the manifest's directory."""
        return f"{self.root}/{path}"


@dataclass(frozen=True)
class Upstream:
    """An UPSTREAM.toml: the public excerpt that stands in for a file the wheel does not ship."""

    repo: str
    commit: str
    path: str
    first_line: int
    excerpt: str
    source: str  # the UPSTREAM.toml, relative to the manifest's directory

    @property
    def short(self) -> str:
        return f"{self.repo}@{self.commit[:7]}"


@dataclass(frozen=True)
class Series:
    root: Path  # the directory of series.toml; every path in it is relative to this
    pin: str
    torch_version: str
    author: str
    date: str
    patches: tuple[Patch, ...]
    upstreams: dict[str, Upstream]  # unshipped target -> its excerpt
    cover_letter: str | None = None  # the cover letter's source (lelu_tools.coverletter)

    def new_files(self) -> list[str]:
        return [path for patch in self.patches for path in patch.files]

    def targets(self) -> list[str]:
        """Existing upstream files the series changes, in first-touched order (their pre-images are needed)."""
        created = set(self.new_files())
        seen: dict[str, None] = {}
        for patch in self.patches:
            for ins in patch.inserts:
                if ins.target not in created:
                    seen[ins.target] = None
        return list(seen)

    def identity(self) -> tuple[str, str]:
        name, mail = email.utils.parseaddr(self.author)
        return name, mail


def _table(value: object, where: str, keys: set[str], problems: list[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        problems.append(f"{where}: expected a table")
        return {}
    table = cast(dict[str, Any], value)
    for key in sorted(set(table) - keys):
        problems.append(f"{where}: unknown key {key!r} (known: {', '.join(sorted(keys))})")
    return table


def _str(table: dict[str, Any], key: str, where: str, problems: list[str], default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or (not value and default is None):
        problems.append(f"{where}: `{key}` must be a non-empty string")
        return ""
    return value


def _int(table: dict[str, Any], key: str, where: str, problems: list[str], default: int | None = None) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.append(f"{where}: `{key}` must be an integer >= 0")
        return 0
    return value


# The Test Plan of a patch names commands a PyTorch checkout has; this repository's tools do not count.
TEST_PLAN = re.compile(r"^Test Plan\b", re.MULTILINE)
NOT_IN_PYTORCH = re.compile(r"\btools/lelu\b|\blelu_tools\b|\.ci/(run|quick)\b")


def _exists(root: Path, path: str, what: str, where: str, problems: list[str]) -> None:
    if path and not (root / path).is_file():
        problems.append(f"{where}: {what} {path} does not exist")


def _check_subject(subject: str, where: str, problems: list[str]) -> None:
    if len(subject) > MAX_SUBJECT:
        problems.append(f"{where}: subject is {len(subject)} characters, at most {MAX_SUBJECT} are allowed")
    if "\n" in subject or not SUBJECT_FORM.match(subject):
        problems.append(f"{where}: subject must be one line `[area] imperative summary`")


def _check_body(body: str, where: str, problems: list[str]) -> None:
    for line in body.splitlines():
        if DIFF_START.match(line):
            problems.append(f"{where}: body line {line!r} would be read as the start of the diff")
    plan = TEST_PLAN.search(body)
    if plan is None:
        return
    for line in body[plan.start():].splitlines():
        if NOT_IN_PYTORCH.search(line):
            problems.append(
                f"{where}: its Test Plan names a tool outside PyTorch ({line.strip()!r}); name the upstream "
                "commands a reviewer runs in a PyTorch checkout (tools/lelu belongs in the cover letter)"
            )


def load_upstream(root: Path, source: str) -> Upstream:
    """Read an UPSTREAM.toml (path relative to `root`)."""
    problems: list[str] = []
    try:
        data = tomllib.loads((root / source).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ManifestError(f"{source}: cannot read it ({err})") from None
    table = _table(data, source, UPSTREAM_KEYS, problems)
    up = Upstream(
        repo=_str(table, "repo", source, problems),
        commit=_str(table, "commit", source, problems),
        path=_str(table, "path", source, problems),
        first_line=_int(table, "first_line", source, problems),
        excerpt=_str(table, "excerpt", source, problems),
        source=source,
    )
    if up.first_line < 1 and not problems:
        problems.append(f"{source}: `first_line` must be >= 1")
    if up.excerpt and not up.excerpt.endswith("\n"):
        problems.append(f"{source}: `excerpt` must end with a newline")
    if problems:
        raise ManifestError("\n".join(problems))
    return up


def _load_insert(data: object, root: Path, where: str, problems: list[str], check_files: bool) -> Insert:
    table = _table(data, where, INSERT_KEYS, problems)
    anchor = _str(table, "anchor", where, problems)
    side = table.get("where", "after")
    if side not in ("after", "before"):
        problems.append(f"{where}: `where` must be \"after\" or \"before\", not {side!r}")
        side = "after"
    unshipped = table.get("unshipped")
    if unshipped is not None and not isinstance(unshipped, str):
        problems.append(f"{where}: `unshipped` must be the path of an UPSTREAM.toml")
        unshipped = None
    ins = Insert(
        target=_str(table, "target", where, problems),
        fragment=_str(table, "fragment", where, problems),
        anchor=anchor,
        where=cast(Where, side),
        blank=_int(table, "blank", where, problems, 0),
        unshipped=unshipped,
    )
    problem = check_syntax(anchor) if anchor else None
    if problem:
        problems.append(f"{where}: anchor {anchor!r}: {problem}")
    if check_files:
        _exists(root, ins.fragment, "fragment", where, problems)
    if ins.unshipped:
        _exists(root, ins.unshipped, "UPSTREAM.toml", where, problems)
    return ins


def _load_patch(data: object, number: int, root: Path, problems: list[str], check_files: bool) -> Patch:
    where = f"patch {number}"
    table = _table(data, where, PATCH_KEYS, problems)
    subject = _str(table, "subject", where, problems)
    where = f"patch {number} ({subject})"
    body = _str(table, "body", where, problems, "")
    files = table.get("files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) and f for f in files):
        problems.append(f"{where}: `files` must be a list of paths")
        files = []
    patch_root = table.get("root")
    if files and not (isinstance(patch_root, str) and patch_root):
        problems.append(f"{where}: `root` (where the new files live) is required with `files`")
        patch_root = None
    raw_inserts = table.get("insert", [])
    if not isinstance(raw_inserts, list):
        problems.append(f"{where}: `insert` must be an array of tables ([[patch.insert]])")
        raw_inserts = []
    inserts = tuple(
        _load_insert(item, root, f"{where} insert {i}", problems, check_files) for i, item in enumerate(raw_inserts, 1)
    )
    patch = Patch(subject, body, tuple(files), patch_root if isinstance(patch_root, str) else None, inserts)
    _check_subject(subject, where, problems)
    _check_body(body, where, problems)
    if not files and not inserts:
        problems.append(f"{where}: no `files` and no inserts: the patch would be empty")
    if check_files:
        for path in files:
            _exists(root, patch.source(path), f"source of {path}:", where, problems)
    return patch


def _load_upstreams(root: Path, patches: tuple[Patch, ...], problems: list[str]) -> dict[str, Upstream]:
    marks: dict[str, set[str | None]] = {}
    for patch in patches:
        for ins in patch.inserts:
            marks.setdefault(ins.target, set()).add(ins.unshipped)
    upstreams: dict[str, Upstream] = {}
    for target, sources in marks.items():
        if len(sources) > 1:
            problems.append(f"{target}: every insert into it must name the same `unshipped` (or none)")
            continue
        source = next(iter(sources))
        if source is None or not (root / source).is_file():
            continue
        try:
            up = load_upstream(root, source)
        except ManifestError as err:
            problems.append(str(err))
            continue
        if up.path != target:
            problems.append(f"{source}: `path` is {up.path!r} but the insert targets {target!r}")
        upstreams[target] = up
    return upstreams


def load_series(path: Path, *, check_files: bool = True) -> Series:
    """Load and validate series.toml; `check_files=False` skips the existence of fragments and sources."""
    root = path.parent
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ManifestError(f"cannot read {path}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise ManifestError(f"{path.name} is not valid TOML: {err}") from None
    problems: list[str] = []
    top = _table(data, path.name, SERIES_KEYS, problems)
    pin = _str(top, "pin", path.name, problems)
    torch_version = _str(top, "torch_version", path.name, problems)
    if pin and not re.fullmatch(r"[0-9a-f]{40}", pin):
        problems.append(f"{path.name}: `pin` must be a full 40-digit commit hash")
    date = _str(top, "date", path.name, problems)
    if date and email.utils.parsedate_tz(date) is None:
        problems.append(f"{path.name}: `date` must be an RFC 2822 date like 'Mon, 23 Nov 2026 00:00:00 +0000'")
    author = _str(top, "author", path.name, problems)
    if author and not all(email.utils.parseaddr(author)):
        problems.append(f"{path.name}: `author` must be 'Name <email>'")
    raw = top.get("patch", [])
    if not isinstance(raw, list) or not raw:
        problems.append(f"{path.name}: no [[patch]] entries")
        raw = []
    patches = tuple(_load_patch(item, n, root, problems, check_files) for n, item in enumerate(raw, 1))
    new = [f for p in patches for f in p.files]
    for dup in sorted({f for f in new if new.count(f) > 1}):
        problems.append(f"{path.name}: new file {dup} is added by more than one patch")
    upstreams = _load_upstreams(root, patches, problems)
    cover_letter = None
    if "cover_letter" in top:
        cover_letter = _str(top, "cover_letter", path.name, problems)
        _exists(root, cover_letter, "cover letter", path.name, problems)
    if problems:
        raise ManifestError(f"{path.name} is not valid:\n  " + "\n  ".join(problems))
    return Series(root, pin, torch_version, author, date, patches, upstreams, cover_letter or None)
