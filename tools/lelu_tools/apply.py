"""`tools/lelu apply` and `tools/lelu branch`: the series as commits in a PyTorch checkout.

apply:  `git am` of patches/ onto the checkout's HEAD, which must be the pin, one commit per
        patch; with --rebase, of the series regenerated from the checkout's own files at the
        anchors (so the hunks carry that checkout's exact context).
branch: the same on a new branch made at the pin (--rebase: at HEAD), ready for `ghstack`.

All patches go through one `git am` session, so that `git am --abort` puts the checkout back
exactly where it was if one of them fails; the tools then check that it did.  A checkout with
changes to tracked files, or with an am, rebase, merge or cherry-pick in progress, is refused.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from .check import EXISTING, FAILED_HUNK, MISSING, _order
from .common import REPO_ROOT, LeluError
from .gitrepo import git_output, run_git
from .manifest import Series, load_series
from .series import Generated, generate

PATCHES_DIR = REPO_ROOT / "patches"
MAX_LISTED = 20
PATCH_FAILED_AT = re.compile(r"^Patch failed at (\d+) ", re.MULTILINE)
EXISTS_IN_TREE = re.compile(r"^error: (.+): already exists in working directory$", re.MULTILINE)
IN_PROGRESS = {
    "rebase-apply": "a `git am` or `git rebase` (finish it, or `git am --abort` / `git rebase --abort`)",
    "rebase-merge": "a `git rebase` (finish it, or `git rebase --abort`)",
    "MERGE_HEAD": "a merge (finish it, or `git merge --abort`)",
    "CHERRY_PICK_HEAD": "a cherry-pick (finish it, or `git cherry-pick --abort`)",
}
# Diff options that make `git log -p` comparable with our format-patch output whatever the user's config.
PLAIN_DIFF = ("--no-color", "--no-ext-diff", "--no-renames", "--diff-algorithm=myers", "-U3",
              "--src-prefix=a/", "--dst-prefix=b/")


class Git:
    """git in a user's checkout: their configuration and identity (the commits are theirs), C locale."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {**os.environ, "LC_ALL": "C", "LANG": "C", "GIT_TERMINAL_PROMPT": "0"}

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_git(self.root, args, self.env, stdin, "apply the series")

    def out(self, *args: str, stdin: str | None = None) -> str:
        return git_output(self.run(*args, stdin=stdin), args, str(self.root))

    def head(self) -> str:
        return self.out("rev-parse", "--verify", "HEAD").strip()

    def where(self) -> str:
        """The current branch, or `detached HEAD`."""
        branch = self.run("symbolic-ref", "-q", "--short", "HEAD").stdout.strip()
        return f"branch {branch}" if branch else "detached HEAD"

    def tracked_changes(self) -> str:
        """git's short status of tracked files (changes inside submodules' own trees do not count)."""
        return self.out("status", "--short", "--untracked-files=no", "--ignore-submodules=dirty")

    def git_path(self, name: str) -> Path:
        return self.root / self.out("rev-parse", "--git-path", name).strip()


class TreeText:
    """A PinSource that reads upstream files from commit `rev` of a checkout (for --rebase)."""

    def __init__(self, git: Git, rev: str) -> None:
        self.git = git
        self.rev = rev

    def pinned_text(self, path: str) -> str | None:
        done = subprocess.run(["git", "cat-file", "blob", f"{self.rev}:{path}"], cwd=self.git.root,
                              env=self.git.env, capture_output=True, check=False)
        if done.returncode != 0:
            return None
        try:
            return done.stdout.decode("utf-8")
        except UnicodeDecodeError:
            raise LeluError(f"{path} at {self.rev[:12]} in {self.git.root} is not UTF-8 text") from None


def open_checkout(path: Path) -> Git:
    """The git work tree at (or above) `path`, with no operation in progress and at least one commit."""
    if not path.is_dir():
        raise LeluError(f"{path}: no such directory; give the path of a PyTorch git checkout (BUILD.md, step 1)")
    done = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=path, capture_output=True, text=True,
                          check=False, env={**os.environ, "LC_ALL": "C"})
    if done.returncode != 0:
        raise LeluError(f"{path} is not a git checkout ({done.stderr.strip()}); clone PyTorch first (BUILD.md, step 1)")
    git = Git(Path(done.stdout.strip()))
    for name, what in IN_PROGRESS.items():
        if git.git_path(name).exists():
            raise LeluError(f"{git.root} is in the middle of {what}; nothing was done")
    if git.run("rev-parse", "--verify", "-q", "HEAD").returncode != 0:
        raise LeluError(f"{git.root} has no commit yet; check out the pin first (BUILD.md, step 1)")
    return git


def committed_patches(patches_dir: Path = PATCHES_DIR) -> Generated:
    """patches/ as it is, in patches/series order."""
    names = _order(patches_dir)
    return Generated(tuple(names), {name: (patches_dir / name).read_bytes() for name in names})


def rebased_patches(series: Series, git: Git, rev: str) -> Generated:
    """The series regenerated from the files of commit `rev` of the checkout."""
    return generate(series, TreeText(git, rev), tree=f"{git.root} at {rev[:12]}")


@dataclass(frozen=True)
class OnTop:
    """How many of the series' first patches are the last commits of a ref, by subject."""

    count: int
    base: str  # the commit below them (the ref itself when count is 0)


def on_top(git: Git, ref: str, series: Series) -> OnTop:
    subjects = [p.subject for p in series.patches]
    log = git.out("log", f"-{len(subjects)}", "--format=%H%x1f%s", ref).splitlines()
    commits = [line.split("\x1f", 1) for line in log]  # newest first
    for count in range(min(len(subjects), len(commits)), 0, -1):
        if [s for _, s in reversed(commits[:count])] == subjects[:count]:
            return OnTop(count, git.out("rev-parse", f"{commits[count - 1][0]}^").strip())
    return OnTop(0, git.out("rev-parse", ref).strip())


def _patch_ids(git: Git, text: str) -> list[str]:
    return [line.split()[0] for line in git.out("patch-id", "--stable", stdin=text).splitlines() if line.strip()]


def same_changes(git: Git, ref: str, patches: Generated) -> str | None:
    """None if the last len(patches) commits of `ref` make the patches' changes; else the first that differs."""
    count = len(patches.names)
    log = git.out("log", f"-{count}", "-p", "--format=commit %H", *PLAIN_DIFF, ref)
    commits = list(reversed(_patch_ids(git, log)))
    if len(commits) != count:  # a commit without a diff (a merge, an empty commit)
        return patches.names[0]
    for name, commit_id in zip(patches.names, commits, strict=True):
        if _patch_ids(git, patches.files[name].decode("utf-8")) != [commit_id]:
            return name
    return None


def _listing(text: str) -> str:
    lines = text.rstrip("\n").splitlines()
    shown = lines[:MAX_LISTED] + ([f"... and {len(lines) - MAX_LISTED} more"] if len(lines) > MAX_LISTED else [])
    return "\n".join("    " + line for line in shown)


def refuse_dirty(git: Git) -> None:
    changes = git.tracked_changes()
    if changes.strip():
        raise LeluError(
            f"{git.root} has changes to tracked files (git status):\n{_listing(changes)}\n"
            "commit or stash them first; nothing was done"
        )


def refuse_collisions(git: Git, series: Series) -> None:
    """git am stops on a new file that already exists untracked; say so before starting."""
    found = "\n".join(path for path in series.new_files() if (git.root / path).exists())
    if found:
        raise LeluError(
            f"the series adds files that already exist, untracked, in {git.root}:\n{_listing(found)}\n"
            "move them away first; nothing was done"
        )


def _why(name: str, output: str) -> list[str]:
    reasons = [f"patch {name} does not apply: file {path}, line {line} (the context differs)"
               for path, line in FAILED_HUNK.findall(output)]
    reasons += [f"patch {name} does not apply: file {path} does not exist" for path in MISSING.findall(output)]
    for path in EXISTING.findall(output) + EXISTS_IN_TREE.findall(output):
        reasons.append(f"patch {name} does not apply: file {path} already exists")
    if not reasons:
        detail = "\n    ".join(output.strip().splitlines()[-8:])
        reasons.append(f"patch {name} could not be applied:\n    {detail}")
    return reasons


def git_am(git: Git, patches: Generated, out: TextIO) -> bool:
    """Apply the patches in one `git am` session; on failure abort it, check that, and say what failed."""
    head, where = git.head(), git.where()
    with tempfile.TemporaryDirectory(prefix="lelu-apply-") as tmp:
        files = []
        for name in patches.names:
            (Path(tmp) / name).write_bytes(patches.files[name])
            files.append(str(Path(tmp) / name))
        # --keep-non-patch: keep the `[area]` of the subjects, drop only `[PATCH n/m]`.
        done = git.run("am", "--no-3way", "--keep-non-patch", "--whitespace=warn", *files)
    output = done.stdout + done.stderr
    if done.returncode == 0:
        for name in patches.names:
            print(f"applied  {name}", file=out)
        return True
    failed = PATCH_FAILED_AT.search(output)
    index = int(failed.group(1)) - 1 if failed else output.count("Applying: ") - 1
    index = min(max(index, 0), len(patches.names) - 1)
    for name in patches.names[:index]:
        print(f"applied  {name} (undone below)", file=out)
    for reason in _why(patches.names[index], output):
        print(reason, file=out)
    for name in patches.names[index + 1:]:
        print(f"not tried {name}", file=out)
    if git.git_path("rebase-apply").exists():
        aborted = git.run("am", "--abort")
        if aborted.returncode != 0:
            raise LeluError(f"`git am --abort` failed in {git.root}:\n{aborted.stderr.strip()}\nrun it there by hand")
    now_head, now_where, changes = git.head(), git.where(), git.tracked_changes()
    if (now_head, now_where) != (head, where) or changes.strip():
        raise LeluError(
            f"after `git am --abort`, {git.root} is at {now_head[:12]} ({now_where}) with\n{_listing(changes)}\n"
            f"but was at {head[:12]} ({where}) with a clean tree: check it with `git status`"
        )
    print(f"git am --abort: {git.root} is back at {head[:12]} ({where}), its tracked files unchanged", file=out)
    return False


def _already(git: Git, ref: str, top: OnTop, patches: Generated, rebase: bool, what: str) -> None:
    """Refuse a ref that holds some of the series but not exactly all of it."""
    count = len(patches.names)
    if top.count < count:
        raise LeluError(
            f"{what} already has the first {top.count} of the {count} patches on top of {top.base[:12]} "
            f"(by subject); remove those commits or start from a fresh checkout of the pin; nothing was done"
        )
    differs = same_changes(git, ref, patches)
    if differs is not None:
        hint = "" if rebase else " (if it was applied with --rebase, check with --rebase)"
        raise LeluError(
            f"{what} has commits with the subjects of the series, but the one of {differs} makes other "
            f"changes than the patch{hint}; nothing was done"
        )


def _patches_for(series: Series, git: Git, rev: str, rebase: bool, patches_dir: Path) -> Generated:
    if not rebase:
        return committed_patches(patches_dir)
    try:
        return rebased_patches(series, git, rev)
    except LeluError as err:
        raise LeluError(f"--rebase: {err}\nnothing was applied to {git.root}") from None


def apply(checkout: Path, *, rebase: bool = False, series: Series | None = None,
          patches_dir: Path = PATCHES_DIR, out: TextIO | None = None) -> int:
    """`tools/lelu apply CHECKOUT`: 0 if the series is applied (now or before), 1 if nothing was done."""
    series = series or load_series(REPO_ROOT / "series.toml")
    out = out or sys.stdout
    git = open_checkout(checkout)
    head = git.head()
    top = on_top(git, "HEAD", series)
    count = len(series.patches)
    if top.count:
        patches = _patches_for(series, git, top.base, rebase, patches_dir)
        _already(git, "HEAD", top, patches, rebase, str(git.root))
        print(f"the series is already applied in {git.root}: its {count} commits are on top of {top.base[:12]}; "
              "nothing to do", file=out)
        return 0
    refuse_dirty(git)
    if not rebase and head != series.pin:
        subject = git.out("log", "-1", "--format=%s", head).strip()
        raise LeluError(
            f"{git.root} is at {head} ({subject}),\nnot at the pin {series.pin} (torch {series.torch_version}):\n"
            f"  check out the pin:   git -C {git.root} checkout {series.pin}\n"
            f"  or regenerate the series against this commit:   tools/lelu apply --rebase {git.root}"
        )
    patches = _patches_for(series, git, head, rebase, patches_dir)
    refuse_collisions(git, series)
    base = "the pin" if head == series.pin else "--rebase: the series regenerated from its files"
    print(f"applying {count} patches to {git.root} at {head[:12]} ({base}) with git am", file=out)
    if not git_am(git, patches, out):
        return 1
    print(f"{git.root}: {count} commits on top of {head[:12]}; `git log --oneline -{count}` lists them", file=out)
    return 0


def branch(checkout: Path, *, name: str = "lelu", rebase: bool = False, series: Series | None = None,
           patches_dir: Path = PATCHES_DIR, out: TextIO | None = None) -> int:
    """`tools/lelu branch CHECKOUT`: a new branch at the pin (or HEAD) with one commit per patch."""
    series = series or load_series(REPO_ROOT / "series.toml")
    out = out or sys.stdout
    git = open_checkout(checkout)
    if git.run("check-ref-format", "--branch", name).returncode != 0:
        raise LeluError(f"{name!r} is not a valid branch name")
    ref = f"refs/heads/{name}"
    count = len(series.patches)
    if git.run("rev-parse", "--verify", "-q", ref).returncode == 0:
        top = on_top(git, ref, series)
        if top.count == 0:
            raise LeluError(f"branch {name} already exists in {git.root} and does not hold the series; "
                            f"pick another name (--name) or delete it (git branch -D {name}); nothing was done")
        _already(git, ref, top, _patches_for(series, git, top.base, rebase, patches_dir), rebase, f"branch {name}")
        print(f"branch {name} already holds the series ({count} commits on top of {top.base[:12]}); nothing to do",
              file=out)
        _next(git, name, out)
        return 0
    refuse_dirty(git)
    head, where = git.head(), git.where()
    base = head if rebase else series.pin
    if git.run("cat-file", "-e", f"{base}^{{commit}}").returncode != 0:
        raise LeluError(f"the pin {base} is not in {git.root}: `git -C {git.root} fetch origin {base}`, "
                        "or --rebase to build the branch on HEAD; nothing was done")
    patches = _patches_for(series, git, base, rebase, patches_dir)
    refuse_collisions(git, series)
    switched = git.run("checkout", "-q", "-b", name, base)
    if switched.returncode != 0:
        raise LeluError(f"`git checkout -b {name} {base[:12]}` failed:\n{switched.stderr.strip()}\nnothing was done")
    print(f"created branch {name} at {base[:12]} ({'HEAD, --rebase' if rebase else 'the pin'}); applying {count} "
          "patches with git am", file=out)
    if git_am(git, patches, out):
        print(f"branch {name}: {count} commits on top of {base[:12]}; it is checked out in {git.root}", file=out)
        _next(git, name, out)
        return 0
    back = head if where == "detached HEAD" else where.removeprefix("branch ")
    restored = git.run("checkout", "-q", back)
    deleted = git.run("branch", "-D", name) if restored.returncode == 0 else restored
    if deleted.returncode != 0 or (git.head(), git.where()) != (head, where):
        raise LeluError(f"could not go back to {where} ({head[:12]}) and delete branch {name}:\n"
                        f"{deleted.stderr.strip()}\ncheck {git.root} with `git status`")
    print(f"back on {where} at {head[:12]}; branch {name} deleted", file=out)
    return 1


def _next(git: Git, name: str, out: TextIO) -> None:
    print(f"next: cd {git.root} && git checkout {name} && ghstack submit   "
          "(one pull request per commit; `pip install ghstack` first)", file=out)


def _run_apply(args: argparse.Namespace) -> int:
    return apply(args.checkout, rebase=args.rebase)


def _run_branch(args: argparse.Namespace) -> int:
    return branch(args.checkout, name=args.name, rebase=args.rebase)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rebase_help = ("for a checkout that is not at the pin: regenerate the series from the checkout's own files "
                   "at the anchors (every missing anchor is reported and nothing is applied)")
    sub = commands.add_parser("apply", help="apply the series to a PyTorch checkout with git am, one commit per patch")
    sub.add_argument("checkout", type=Path, help="the PyTorch git checkout, at the pin")
    sub.add_argument("--rebase", action="store_true", help=rebase_help)
    sub.set_defaults(run=_run_apply)
    sub = commands.add_parser("branch", help="make a branch of a PyTorch checkout with one commit per patch "
                                             "(for ghstack)")
    sub.add_argument("checkout", type=Path, help="the PyTorch git checkout (it must hold the pin)")
    sub.add_argument("--name", default="lelu", help="the new branch (default: lelu)")
    sub.add_argument("--rebase", action="store_true",
                     help="make the branch at HEAD instead of the pin, with the series regenerated from HEAD's files")
    sub.set_defaults(run=_run_branch)
