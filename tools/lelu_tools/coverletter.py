"""The series' cover letter, patches/0000-cover-letter.patch, made from a source file.

`git format-patch --cover-letter --base=...` writes the frame in the scratch repository: the
From/Date header, `Subject: [PATCH 0/N] *** SUBJECT HERE ***`, `*** BLURB HERE ***`, the shortlog,
the diffstat of the whole series and `base-commit:` (the scratch base, replaced by the pin).  The
subject and the blurb come from the source named by `cover_letter` in series.toml:

* the first line, `# SUBJECT`, is the subject; the rest is the blurb;
* a leading `<!-- ... -->` comment is left out;
* a line that is only a directive is replaced by text taken from a committed report, so that no
  measured number is typed by hand:

      {{section FILE "HEADING"}}   the text under the markdown heading HEADING of FILE
      {{table FILE "HEADING"}}     the first table under that heading
      {{line FILE "PREFIX"}}       the one line of FILE that starts with PREFIX

  FILE is relative to series.toml's directory; each must match exactly once.

The letter is not in patches/series: `git am` and the overlay never see it.  `tools/lelu patches
--check` compares it byte for byte like the patches, so it is stale as soon as a report changes.
"""

from __future__ import annotations

import re
from pathlib import Path

from .common import LeluError, split_lines

NAME = "0000-cover-letter.patch"
SUBJECT_HERE = "*** SUBJECT HERE ***"
BLURB_HERE = "*** BLURB HERE ***"
DIRECTIVE = re.compile(r'^\{\{(section|table|line) (\S+) "([^"]+)"\}\}$')
HEADING = re.compile(r"^(#{1,6}) +(.*?) *#*$")
MAX_SUBJECT = 72
MIME = "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n"
#: how each report is (re)made, for the error messages
PUBLISHERS = {
    "BENCHMARKS.md": "tools/lelu bench --publish",
    "ACCURACY.md": "tools/lelu accuracy --publish",
    "TRAINING.md": "tools/lelu train --publish",
}


class CoverLetterError(LeluError):
    """The cover letter's source or a report it includes is missing or does not match."""


def _hint(report: str) -> str:
    command = PUBLISHERS.get(Path(report).name)
    return f"run `{command}` to write it, or fix the directive" if command else "fix the directive"


def _lines(root: Path, report: str, where: str) -> list[str]:
    try:
        return (root / report).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise CoverLetterError(f"{where}: cannot read {report} ({getattr(err, 'strerror', None) or err}); "
                               f"{_hint(report)}") from None


def section(lines: list[str], heading: str, report: str, where: str) -> list[str]:
    """The lines under the markdown heading `heading` (to the next heading of its level or above)."""
    found = [(i, len(m.group(1))) for i, line in enumerate(lines)
             if (m := HEADING.match(line)) and m.group(2) == heading]
    if len(found) != 1:
        what = "no" if not found else f"{len(found)}"
        raise CoverLetterError(f"{where}: {report} has {what} heading {heading!r} (exactly one is needed); "
                               f"{_hint(report)}")
    start, level = found[0]
    end = len(lines)
    for i in range(start + 1, len(lines)):
        m = HEADING.match(lines[i])
        if m and len(m.group(1)) <= level:
            end = i
            break
    body = lines[start + 1:end]
    while body and not body[0].strip():
        body.pop(0)
    while body and not body[-1].strip():
        body.pop()
    return body


def first_table(lines: list[str]) -> list[str]:
    """The first run of lines that start with `|`."""
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    if start is None:
        return []
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return lines[start:end]


def expand(root: Path, kind: str, report: str, arg: str, where: str) -> list[str]:
    """The text a directive stands for."""
    lines = _lines(root, report, where)
    if kind == "line":
        hits = [line for line in lines if line.startswith(arg)]
        if len(hits) != 1:
            raise CoverLetterError(f"{where}: {report} has {len(hits)} lines that start with {arg!r} "
                                   f"(exactly one is needed); {_hint(report)}")
        return hits
    body = section(lines, arg, report, where)
    if kind == "table":
        body = first_table(body)
        if not body:
            raise CoverLetterError(f"{where}: {report} has no table under {arg!r}; {_hint(report)}")
    return body


def render_source(root: Path, source: str) -> tuple[str, str]:
    """(subject, blurb) of the cover letter source `source` (relative to `root`)."""
    try:
        text = (root / source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise CoverLetterError(f"cannot read the cover letter {source}: {getattr(err, 'strerror', None) or err}") \
            from None
    lines = [line.rstrip("\n") for line in split_lines(text)]
    number = 0
    if lines and lines[0].startswith("<!--"):
        while number < len(lines) and "-->" not in lines[number]:
            number += 1
        number += 1
    while number < len(lines) and not lines[number].strip():
        number += 1
    if number >= len(lines) or not lines[number].startswith("# "):
        raise CoverLetterError(f"{source}: the first line (after the comment) must be `# SUBJECT`")
    subject = lines[number][2:].strip()
    if not subject or len(subject) > MAX_SUBJECT:
        raise CoverLetterError(f"{source}:{number + 1}: the subject must be 1 to {MAX_SUBJECT} characters, "
                               f"not {len(subject)}")
    out: list[str] = []
    for i in range(number + 1, len(lines)):
        line = lines[i].rstrip()
        m = DIRECTIVE.match(line)
        if m:
            out += expand(root, m.group(1), m.group(2), m.group(3), f"{source}:{i + 1}")
        elif line.startswith("{{"):
            raise CoverLetterError(f"{source}:{i + 1}: not a directive: {line!r} (use {{{{section FILE \"HEADING\"}}}},"
                                   " {{table FILE \"HEADING\"}} or {{line FILE \"PREFIX\"}})")
        else:
            out.append(line)
    while out and not out[0]:
        out.pop(0)
    while out and not out[-1]:
        out.pop()
    if not out:
        raise CoverLetterError(f"{source}: the cover letter has no text after the subject")
    return subject, "\n".join(out)


def fill(frame: str, subject: str, blurb: str, scratch_base: str, pin: str) -> str:
    """git's cover letter `frame` with the subject, the blurb and the pin as base-commit.

    A blurb that is not ASCII gets the MIME headers git gives such a commit message."""
    subject_line = f"] {SUBJECT_HERE}\n"
    base_line = f"\nbase-commit: {scratch_base}\n"
    for marker in (subject_line, f"\n{BLURB_HERE}\n", base_line):
        if frame.count(marker) != 1:
            raise CoverLetterError(f"git format-patch --cover-letter wrote {frame.count(marker)} "
                                   f"{marker.strip()!r} (expected one): is this git too old?")
    if not subject.isascii():
        raise CoverLetterError(f"the cover letter's subject must be ASCII: {subject!r}")
    header = f"] {subject}\n"
    if not (subject + blurb).isascii():
        header += MIME
    return (frame.replace(subject_line, header).replace(f"\n{BLURB_HERE}\n", f"\n{blurb}\n")
            .replace(base_line, f"\nbase-commit: {pin}\n"))


def make(frame: bytes, root: Path, source: str, scratch_base: str, pin: str) -> bytes:
    """The cover letter: git's `frame` filled from the source file `source` under `root`."""
    subject, blurb = render_source(root, source)
    return fill(frame.decode("utf-8"), subject, blurb, scratch_base, pin).encode("utf-8")
