"""Scratch git repositories whose output depends on nothing but their inputs.

No user or system git config is read (HOME is the scratch directory, GIT_CONFIG_NOSYSTEM,
GIT_CONFIG_GLOBAL=/dev/null), the environment is rebuilt from scratch, and author,
committer and dates are fixed.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .common import LeluError

CONFIG = (
    "core.autocrlf=false",
    "core.safecrlf=false",
    "commit.gpgSign=false",
    "init.defaultBranch=main",
    "am.threeWay=false",
    "diff.context=3",
    "advice.detachedHead=false",
)


def run_git(cwd: Path, args: Sequence[str], env: dict[str, str], stdin: str | None,
            needed_for: str) -> subprocess.CompletedProcess[str]:
    """git with `args` in `cwd`, its output captured as text; a missing git is a LeluError."""
    try:
        return subprocess.run(["git", *args], cwd=cwd, env=env, input=stdin, capture_output=True, text=True,
                              check=False)
    except FileNotFoundError:
        raise LeluError(f"git is not installed (it is needed to {needed_for})") from None


def git_output(done: subprocess.CompletedProcess[str], args: Sequence[str], where: str) -> str:
    """The standard output of `git args`, or a LeluError with git's own message."""
    if done.returncode != 0:
        raise LeluError(f"`git {' '.join(args)}` failed in {where}:\n{done.stderr.strip()}")
    return done.stdout


@dataclass(frozen=True)
class Identity:
    """Who authors and commits, and when (an RFC 2822 date)."""

    name: str
    email: str
    date: str


class ScratchRepo:
    """A git repository in a directory the caller owns (normally a TemporaryDirectory)."""

    def __init__(self, path: Path, who: Identity) -> None:
        self.path = path
        self.who = who
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(path.parent),
            "LANG": "C",
            "LC_ALL": "C",
            "TZ": "UTC",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_AUTHOR_NAME": who.name,
            "GIT_AUTHOR_EMAIL": who.email,
            "GIT_AUTHOR_DATE": who.date,
            "GIT_COMMITTER_NAME": who.name,
            "GIT_COMMITTER_EMAIL": who.email,
            "GIT_COMMITTER_DATE": who.date,
        }

    @classmethod
    def create(cls, path: Path, who: Identity, files: dict[str, str]) -> ScratchRepo:
        """A new repository at `path` whose first commit ("base") holds `files`."""
        path.mkdir(parents=True)
        repo = cls(path, who)
        repo.git("init", "-q", "--template=", ".")
        repo.write(files)
        repo.commit("base: pre-images at the pin\n")
        return repo

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        settings = (*CONFIG, f"user.name={self.who.name}", f"user.email={self.who.email}")
        config = [arg for item in settings for arg in ("-c", item)]
        return run_git(self.path, [*config, *args], self.env, stdin, "build and check the patches")

    def git(self, *args: str, stdin: str | None = None) -> str:
        return git_output(self.run(*args, stdin=stdin), args, "a scratch repository")

    def write(self, files: dict[str, str]) -> None:
        for name, text in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(text.encode("utf-8"))

    def commit(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "--no-verify", "--cleanup=verbatim", "-F", "-", stdin=message)
