"""Generating patches/ from series.toml: real git commits in a scratch repository, then format-patch.

The scratch repository starts from the pre-images of the files the series changes (the
pinned texts, or a synthetic text around the excerpt of an UPSTREAM.toml for a file the
wheel does not ship), and gets one commit per patch.  Author, dates and git's
configuration are fixed, so two runs give the same bytes.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import anchors, coverletter
from .common import LeluError, rel, split_lines
from .gitrepo import Identity, ScratchRepo
from .manifest import Insert, Patch, Series, Upstream
from .patchfile import hunks
from .pin import PinSource

FORMAT_PATCH = ("format-patch", "--zero-commit", "--no-signature", "--full-index", "--no-stat", "--unified=3")
CONTEXT = 3  # lines of context git puts around a change; an excerpt needs this many on each side
SERIES_FILE = "series"


@dataclass(frozen=True)
class Generated:
    """The patch files (name -> bytes) and their order; `series` is the order file's bytes."""

    names: tuple[str, ...]
    files: dict[str, bytes]

    @property
    def series(self) -> bytes:
        return "".join(name + "\n" for name in self.names).encode()


class AnchorsMissing(LeluError):
    """Inserts whose anchor (or target file) is not there, each named by patch, target and anchor."""

    def __init__(self, problems: list[str], where: str) -> None:
        self.problems = problems
        listing = "\n  ".join(problems)
        super().__init__(f"{len(problems)} insert(s) of the series cannot be placed in {where}:\n  {listing}")


@dataclass
class Excerpt:
    """Where an UPSTREAM.toml excerpt lies in the synthetic text of its file (1-based, inclusive)."""

    upstream: Upstream
    start: int
    end: int


@dataclass
class _State:
    texts: dict[str, str]
    excerpts: dict[str, Excerpt]
    # For each patch, the excerpt bounds of each unshipped file before the patch.
    bounds: list[dict[str, tuple[int, int]]] = field(default_factory=list)


def synthetic_text(up: Upstream) -> str:
    """The stand-in for an unshipped file: first_line - 1 empty lines, then the excerpt."""
    return "\n" * (up.first_line - 1) + up.excerpt


def preimages(series: Series, pin: PinSource, *, tree: str | None = None) -> dict[str, str]:
    """The text before the series of every existing upstream file the series changes.

    `tree` names `pin` when it is a whole source tree (a checkout): then every target's text
    comes from it, unshipped ones too, and a target it lacks is left out (its inserts fail)."""
    texts: dict[str, str] = {}
    for path in series.new_files():
        if pin.pinned_text(path) is not None:
            raise LeluError(f"{path} is added as a new file, but it already exists at {tree or 'the pin'}")
    for target in series.targets():
        shipped = pin.pinned_text(target)
        if tree is not None:
            if shipped is not None:
                texts[target] = shipped
            continue
        up = series.upstreams.get(target)
        if up is not None and shipped is not None:
            raise LeluError(f"{target} is in the wheel: drop `unshipped` from its inserts in series.toml")
        if up is None and shipped is None:
            raise LeluError(
                f"{target} is not in the wheel, so its context cannot be checked; mark its inserts "
                f"`unshipped = \"fragments/{target}/UPSTREAM.toml\"` and write that file (see series.toml)"
            )
        texts[target] = synthetic_text(up) if up is not None else str(shipped)
    return texts


def _read(root: Path, path: str) -> str:
    try:
        return (root / path).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise LeluError(f"cannot read {path}: {err}") from None


def _fragment(root: Path, path: str) -> str:
    text = _read(root, path)
    if not text.strip() or not text.endswith("\n"):
        raise LeluError(f"fragment {path} must be non-empty and end with a newline")
    return text


def _check_margin(ins: Insert, span: anchors.Span, excerpt: Excerpt) -> None:
    at = anchors.insertion_index(span, ins.where)
    before, after = at - excerpt.start + 1, excerpt.end - at
    for count, side in ((before, "before"), (after, "after")):
        if count < CONTEXT:
            raise LeluError(
                f"anchor {ins.anchor!r} in {ins.target}: the excerpt in {excerpt.upstream.source} has {count} "
                f"line(s) {side} the insertion point; git needs {CONTEXT} lines of context: extend the excerpt"
            )


def _apply_insert(state: _State, root: Path, ins: Insert) -> None:
    if ins.target not in state.texts:
        raise anchors.AnchorError(f"anchor {ins.anchor!r} in {ins.target}: the file does not exist")
    text = state.texts[ins.target]
    span = anchors.find(ins.anchor, text, ins.target)
    excerpt = state.excerpts.get(ins.target)
    if excerpt is not None:
        _check_margin(ins, span, excerpt)
    placed = anchors.insert(text, _fragment(root, ins.fragment), span, ins.where, ins.blank)
    state.texts[ins.target] = placed.text
    if excerpt is not None:
        excerpt.end += placed.added


def _apply_patch(state: _State, root: Path, patch: Patch, label: str, problems: list[str]) -> dict[str, str]:
    """Apply one patch to `state`; return the files it changed or added, with their new text.

    An insert whose anchor (or target) is missing is skipped and described in `problems`."""
    state.bounds.append({path: (e.start, e.end) for path, e in state.excerpts.items()})
    changed: dict[str, str] = {}
    for path in patch.files:
        changed[path] = state.texts[path] = _read(root, patch.source(path))
    for ins in patch.inserts:
        try:
            _apply_insert(state, root, ins)
        except anchors.AnchorError as err:
            problems.append(f"{label}: {err}")
            continue
        changed[ins.target] = state.texts[ins.target]
    return changed


def _check_excerpt_context(state: _State, names: list[str], files: dict[str, bytes]) -> None:
    """Every hunk into an unshipped file must show only excerpt lines, never the synthetic filler."""
    for name, bounds in zip(names, state.bounds, strict=True):
        for hunk in hunks(files[name].decode("utf-8")):
            if hunk.path not in bounds:
                continue
            start, end = bounds[hunk.path]
            if hunk.old_start < start or hunk.old_end > end:
                source = state.excerpts[hunk.path].upstream.source
                raise LeluError(
                    f"{name}: the hunk at {hunk.path}:{hunk.old_start} shows lines {hunk.old_start}-{hunk.old_end}, "
                    f"but {source} only has lines {start}-{end}: extend its excerpt"
                )


def postimages(series: Series, pin: PinSource, *, where: str = "the pinned files") -> dict[str, tuple[str, str]]:
    """path -> (text before the series, text after it) for every upstream file the series changes
    that the wheel ships, and ("", text) for every new file; `where` names `pin` in errors."""
    base = preimages(series, pin)
    state = _State(dict(base), {})
    problems: list[str] = []
    for number, patch in enumerate(series.patches, 1):
        _apply_patch(state, series.root, patch, f"patch {number:04d} {patch.subject}", problems)
    if problems:
        raise AnchorsMissing(problems, where)
    shipped = {path for path in base if path not in series.upstreams}
    out = {path: (base[path], state.texts[path]) for path in sorted(shipped)}
    out.update({path: ("", state.texts[path]) for path in series.new_files()})
    return out


def generate(series: Series, pin: PinSource, *, tree: str | None = None) -> Generated:
    """Build the series in a scratch repository and return its patch files.

    The upstream texts come from `pin`; `tree` names it when it is a whole source tree (a
    checkout, for `tools/lelu apply --rebase`): no excerpt then, every text is the real one.
    Every insert whose anchor matches nothing is reported, together, before anything is returned."""
    base = preimages(series, pin, tree=tree)
    excerpts = {
        path: Excerpt(up, up.first_line, up.first_line + len(split_lines(up.excerpt)) - 1)
        for path, up in series.upstreams.items()
        if path in base and tree is None
    }
    state = _State(dict(base), excerpts)
    name, mail = series.identity()
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lelu-series-") as tmp:
        repo = ScratchRepo.create(Path(tmp) / "repo", Identity(name, mail, series.date), base)
        for number, patch in enumerate(series.patches, 1):
            repo.write(_apply_patch(state, series.root, patch, f"patch {number:04d} {patch.subject}", problems))
            repo.commit(patch.message())
        if problems:
            raise AnchorsMissing(problems, tree or "the pinned files")
        out = Path(tmp) / "out"
        first = "main~" + str(len(series.patches))
        # The cover letter (for the pinned series only): not in patches/series, git am never sees it.
        cover = bool(series.cover_letter) and tree is None
        letter = ("--cover-letter", f"--base={first}") if cover else ()
        listing = repo.git(*FORMAT_PATCH, *letter, "-o", str(out), first + "..main")
        names = [Path(line).name for line in listing.splitlines() if line.strip()]
        files = {n: (out / n).read_bytes() for n in names}
        if cover and series.cover_letter:
            if coverletter.NAME not in names:
                raise LeluError(f"git format-patch --cover-letter wrote no {coverletter.NAME}")
            names.remove(coverletter.NAME)
            files[coverletter.NAME] = coverletter.make(files[coverletter.NAME], series.root, series.cover_letter,
                                                       repo.git("rev-parse", first).strip(), series.pin)
    if len(names) != len(series.patches):
        raise LeluError(f"git format-patch wrote {len(names)} patches for {len(series.patches)} commits")
    _check_excerpt_context(state, names, files)
    return Generated(tuple(names), files)


def write(generated: Generated, patches_dir: Path) -> list[str]:
    """Make `patches_dir` hold exactly the generated patches and series file; return what changed."""
    patches_dir.mkdir(parents=True, exist_ok=True)
    wanted = dict(generated.files)
    wanted[SERIES_FILE] = generated.series
    changed = []
    for old in sorted(patches_dir.glob("*.patch")):
        if old.name not in wanted:
            old.unlink()
            changed.append(f"removed {rel(old, patches_dir.parent)}")
    for fname, data in wanted.items():
        target = patches_dir / fname
        if not target.is_file() or target.read_bytes() != data:
            target.write_bytes(data)
            changed.append(f"wrote {rel(target, patches_dir.parent)}")
    return changed
