"""Scratch "PyTorch checkouts" for the apply/branch tests: git repositories of the pinned files.

A scratch checkout holds what `tools/lelu patches --check` applies the series to: the pre-images
of the files the series changes (the pinned texts, and the excerpt stand-ins of unshipped files),
in one commit made by check.py's machinery (series.preimages, gitrepo.ScratchRepo).  `git am`
in it commits as the fixed identity of `GIT_ENV`, so commit ids are the same on every run.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from lelu_tools.gitrepo import Identity, ScratchRepo
from lelu_tools.manifest import Series
from lelu_tools.pin import PinSource
from lelu_tools.series import preimages

DATE = "Mon, 23 Nov 2026 00:00:00 +0000"
TINY_PIN = "cf30153c4c131c8164ee7798e5022d810682e2cb"  # the pin in tiny.MANIFEST
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_COMMITTER_NAME": "Tester",
    "GIT_COMMITTER_EMAIL": "tester@example.com",
    "GIT_COMMITTER_DATE": DATE,
    "GIT_AUTHOR_NAME": "Tester",
    "GIT_AUTHOR_EMAIL": "tester@example.com",
    "GIT_AUTHOR_DATE": DATE,
}


def scratch_checkout(path: Path, series: Series, pin: PinSource) -> str:
    """Make the scratch checkout at `path` (branch main); return its HEAD."""
    repo = ScratchRepo.create(path, Identity("Tester", "tester@example.com", DATE), preimages(series, pin))
    return repo.git("rev-parse", "HEAD").strip()


def git(path: Path, *args: str) -> str:
    """Run git in a scratch checkout (GIT_ENV must be in os.environ) and return its output."""
    return subprocess.run(["git", *args], cwd=path, capture_output=True, text=True, check=True).stdout


def commit_all(path: Path, message: str) -> str:
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", message)
    return git(path, "rev-parse", "HEAD").strip()
