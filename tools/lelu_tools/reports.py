"""Publishing a report: its markdown (at the repository root) and its images (under docs/<name>/)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


def publish_report(
    document: Path, title: str, command: str, what: str, markdown: str, images: Sequence[Path], docs: Path
) -> list[Path]:
    """Write `document` (a title, where it comes from, then `markdown`) and copy `images` into
    `docs`; returns the paths written."""
    written = [document]
    if images:
        docs.mkdir(parents=True, exist_ok=True)
    for image in images:
        shutil.copyfile(image, docs / image.name)
        written.append(docs / image.name)
    document.write_text(
        f"# {title}\n\n{what}; written by `{command}` (the numbers below are\n"
        "from the run it describes; re-run it to reproduce them).\n\n" + markdown
    )
    return written


@dataclass(frozen=True)
class Section:
    """A section of a report document that one tool writes and the others keep: its heading, then
    its body between two markers."""

    name: str  # the markers: <!-- name:begin --> and <!-- name:end -->
    heading: str

    @property
    def begin(self) -> str:
        return f"<!-- {self.name}:begin -->"

    @property
    def end(self) -> str:
        return f"<!-- {self.name}:end -->"

    def kept(self, document: Path) -> str:
        """The section of `document` with its heading, or '' (for a tool that rewrites the rest)."""
        text = document.read_text() if document.is_file() else ""
        if self.begin not in text or self.end not in text:
            return ""
        body = text.split(self.begin, 1)[1].split(self.end, 1)[0]
        return f"\n{self.heading}\n\n{self.begin}{body}{self.end}\n"

    def publish(self, document: Path, markdown: str) -> None:
        """Replace the section's body in `document`, or add the section at its end."""
        text = document.read_text() if document.is_file() else ""
        section = f"{self.begin}\n{markdown}{self.end}"
        if self.begin in text and self.end in text:
            head, rest = text.split(self.begin, 1)
            text = head + section + rest.split(self.end, 1)[1]
        else:
            text = text.rstrip("\n") + f"\n\n{self.heading}\n\n{section}\n"
        document.write_text(text)
