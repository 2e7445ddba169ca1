"""`tools/lelu patches --check`: patches/ is what the manifest generates, and it applies to the pin.

1. Regenerate the series into memory and compare with patches/ byte for byte.
2. Apply the committed patches (in patches/series order) with plain `git am` (exact
   context, no three-way merge, no fuzz) to a scratch repository that holds only the
   pre-images of the files the series changes.
"""

from __future__ import annotations

import difflib
import re
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from .common import LeluError
from .gitrepo import Identity, ScratchRepo
from .manifest import Series
from .patchfile import hunks
from .pin import PinSource
from .series import SERIES_FILE, Generated, generate, preimages

REGENERATE = "run `tools/lelu patches` to regenerate"
DIFF_LINES = 40
FAILED_HUNK = re.compile(r"^error: patch failed: (.+):(\d+)$", re.MULTILINE)
MISSING = re.compile(r"^error: (.+): does not exist in index$", re.MULTILINE)
EXISTING = re.compile(r"^error: (.+): already exists in index$", re.MULTILINE)


def _committed(patches_dir: Path) -> dict[str, bytes]:
    names = [p.name for p in sorted(patches_dir.glob("*.patch"))]
    if (patches_dir / SERIES_FILE).is_file():
        names.append(SERIES_FILE)
    return {name: (patches_dir / name).read_bytes() for name in names}


def _first_diff(name: str, old: bytes, new: bytes, label: str) -> list[str]:
    lines = difflib.unified_diff(
        old.decode("utf-8", errors="replace").splitlines(keepends=True),
        new.decode("utf-8", errors="replace").splitlines(keepends=True),
        f"{label}/{name} (committed)",
        f"{label}/{name} (regenerated)",
        n=2,
    )
    text = [line if line.endswith("\n") else line + "\n" for line in lines]
    if len(text) > DIFF_LINES:
        text = text[:DIFF_LINES] + [f"... ({len(text) - DIFF_LINES} more diff lines)\n"]
    return text


def compare(generated: Generated, patches_dir: Path, out: TextIO) -> bool:
    """True if `patches_dir` holds exactly the generated files; else print what differs."""
    label = patches_dir.name
    wanted = dict(generated.files)
    wanted[SERIES_FILE] = generated.series
    have = _committed(patches_dir)
    stale = [n for n in wanted if n in have and have[n] != wanted[n]]
    missing = [n for n in wanted if n not in have]
    extra = [n for n in have if n not in wanted]
    if not (stale or missing or extra):
        print(f"{label}/ is up to date ({len(generated.names)} patches)", file=out)
        return True
    print(f"{label}/ does not match series.toml and its sources:", file=out)
    for kind, names in (("stale", stale), ("missing", missing), ("extra", extra)):
        for name in names:
            print(f"  {kind + ':':8} {label}/{name}", file=out)
    if stale:
        print("first difference:", file=out)
        out.writelines(_first_diff(stale[0], have[stale[0]], wanted[stale[0]], label))
    print(REGENERATE, file=out)
    return False


def _order(patches_dir: Path) -> list[str]:
    label = patches_dir.name
    order_file = patches_dir / SERIES_FILE
    if not order_file.is_file():
        raise LeluError(f"{label}/{SERIES_FILE} is missing; {REGENERATE}")
    names = [line.strip() for line in order_file.read_text(encoding="utf-8").splitlines()]
    names = [n for n in names if n and not n.startswith("#")]
    for name in names:
        if not (patches_dir / name).is_file():
            raise LeluError(f"{label}/{SERIES_FILE} lists {name}, which does not exist; {REGENERATE}")
    return names


def _why(name: str, output: str, series: Series) -> list[str]:
    """What went wrong when `git am` could not apply patch `name`, one line per file."""
    reasons = []
    for path, line in FAILED_HUNK.findall(output):
        up = series.upstreams.get(path)
        where = f"the excerpt in {up.source} ({up.short})" if up else "the pin"
        reasons.append(f"patch {name} does not apply: file {path}, line {line} (context differs from {where})")
    for path in MISSING.findall(output):
        reasons.append(f"patch {name} does not apply: file {path} does not exist at the pin")
    for path in EXISTING.findall(output):
        reasons.append(f"patch {name} does not apply: file {path} already exists at the pin")
    if not reasons:
        detail = "\n    ".join(output.strip().splitlines()[:8])
        reasons.append(f"patch {name} does not apply:\n    {detail}")
    return reasons


def _notes(name: str, text: str, series: Series) -> list[str]:
    notes = []
    for hunk in hunks(text):
        up = series.upstreams.get(hunk.path)
        if up is not None:
            notes.append(
                f"note: {name}: {hunk.path} (hunk at line {hunk.old_start}) is not in the wheel; its context "
                f"comes from {up.short} and is not verified at the pin"
            )
    return notes


def apply_check(series: Series, pin: PinSource, patches_dir: Path, out: TextIO) -> bool:
    """Apply the committed patches to the pinned pre-images with `git am`; print one line per patch."""
    names = _order(patches_dir)
    name, mail = series.identity()
    with tempfile.TemporaryDirectory(prefix="lelu-check-") as tmp:
        repo = ScratchRepo.create(Path(tmp) / "repo", Identity(name, mail, series.date), preimages(series, pin))
        for i, patch_name in enumerate(names):
            patch_file = patches_dir / patch_name
            done = repo.run("am", "--no-3way", str(patch_file))
            if done.returncode != 0:
                for reason in _why(patch_name, done.stdout + done.stderr, series):
                    print(reason, file=out)
                for later in names[i + 1 :]:
                    print(f"not tried {later}", file=out)
                repo.run("am", "--abort")
                return False
            print(f"applied  {patch_name}", file=out)
            for note in _notes(patch_name, patch_file.read_text(encoding="utf-8"), series):
                print(note, file=out)
    print(f"all {len(names)} patches apply to torch {series.torch_version} ({series.pin[:7]})", file=out)
    return True


def check(series: Series, pin: PinSource, patches_dir: Path, out: TextIO = sys.stdout) -> bool:
    """Both checks; True if patches/ is up to date and applies to the pin."""
    try:
        fresh = compare(generate(series, pin), patches_dir, out)
    except LeluError as err:
        print(f"cannot regenerate the series: {err}", file=out)
        fresh = False
    try:
        applies = apply_check(series, pin, patches_dir, out)
    except LeluError as err:
        print(err, file=out)
        applies = False
    return fresh and applies
