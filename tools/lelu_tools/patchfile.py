"""Reading the hunks of a patch file (what git format-patch writes)."""

from __future__ import annotations

import re
from dataclasses import dataclass

HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
DIFF = re.compile(r"^diff --git a/(.*) b/(.*)$")


@dataclass(frozen=True)
class Hunk:
    path: str
    old_start: int
    old_count: int
    new_start: int
    new_count: int

    @property
    def old_end(self) -> int:
        return self.old_start + self.old_count - 1


def hunks(text: str) -> list[Hunk]:
    """The hunks of every file in a patch, in order."""
    found: list[Hunk] = []
    path = ""
    old_left = new_left = 0
    for line in text.split("\n"):
        if old_left > 0 or new_left > 0:
            if line.startswith("-"):
                old_left -= 1
            elif line.startswith("+"):
                new_left -= 1
            elif not line.startswith("\\"):  # context (a "\ No newline" marker counts for neither side)
                old_left, new_left = old_left - 1, new_left - 1
            continue
        diff = DIFF.match(line)
        if diff:
            path = diff.group(2)
            continue
        head = HUNK.match(line) if path else None
        if head:
            old_start, old_count, new_start, new_count = (
                int(head.group(i)) if head.group(i) is not None else 1 for i in range(1, 5)
            )
            found.append(Hunk(path, old_start, old_count, new_start, new_count))
            old_left, new_left = old_count, new_count
    return found
