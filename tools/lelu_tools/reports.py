"""Publishing a report: its markdown (at the repository root) and its images (under docs/<name>/)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
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
