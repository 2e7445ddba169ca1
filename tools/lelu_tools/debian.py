"""Debian packages unpacked into build/, with a private apt state: never the system's package lists.

`tools/lelu cross-check` takes Debian's libsleef-dev for ppc64el and s390x from here, and the tests
of the series' upstream C++ API cases take googletest (libgtest-dev for this machine).
"""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Callable
from pathlib import Path

from .common import REPO_ROOT, LeluError, rel

ARCHIVE = "http://deb.debian.org/debian"
SUITE = "bookworm"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
APT = REPO_ROOT / "build" / "apt"


class DebianError(LeluError):
    pass


def unpack(package: str, arch: str, root: Path, say: Callable[[str], None] | None = None) -> Path:
    """Download `package` for `arch` (Debian's name: amd64, ppc64el, s390x, ...) and unpack it
    into `root`; returns `root`.  apt's lists and cache live in build/apt/<arch>."""
    apt = APT / arch
    (apt / "lists/partial").mkdir(parents=True, exist_ok=True)
    (apt / "cache/archives/partial").mkdir(parents=True, exist_ok=True)
    (apt / "sources.list").write_text(f"deb [arch={arch} signed-by={KEYRING}] {ARCHIVE} {SUITE} main\n")
    options = [f"-oDir::Etc::SourceList={apt / 'sources.list'}", "-oDir::Etc::SourceParts=/nonexistent",
               f"-oDir::State::Lists={apt / 'lists'}", f"-oDir::Cache={apt / 'cache'}",
               f"-oAPT::Architectures::={arch}", "-oAPT::Sandbox::User=root"]
    if say is not None:
        say(f"downloading {package}:{arch} (private apt state in {rel(apt, REPO_ROOT)})")
    for cmd in (["apt-get", *options, "update"], ["apt-get", *options, "download", f"{package}:{arch}"]):
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=apt, check=False)
        if done.returncode != 0:
            raise DebianError(f"`{' '.join(cmd)}` failed:\n{done.stderr[-2000:]}")
    debs = sorted(apt.glob(f"{package}_*_{arch}.deb"))
    if not debs:
        raise DebianError(f"apt-get download left no {package}_*_{arch}.deb in {apt}")
    root.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(root)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise DebianError(f"`dpkg-deb -x {debs[-1]} {root}` failed: {done.stderr.strip()}")
    return root


#: this machine's Debian architecture and multiarch triple
MACHINES = {"x86_64": ("amd64", "x86_64-linux-gnu"), "aarch64": ("arm64", "aarch64-linux-gnu")}


def googletest() -> tuple[Path, Path]:
    """googletest for this machine (Debian's libgtest-dev, unpacked once into build/gtest): its
    include directory and the directory of libgtest.a and libgtest_main.a."""
    machine = platform.machine()
    if machine not in MACHINES:
        raise DebianError(f"no googletest for {machine}: install libgtest-dev")
    arch, triple = MACHINES[machine]
    root = REPO_ROOT / "build" / "gtest"
    lib = root / "usr/lib" / triple
    if not (lib / "libgtest.a").is_file():
        unpack("libgtest-dev", arch, root)
    if not (lib / "libgtest.a").is_file() or not (root / "usr/include/gtest/gtest.h").is_file():
        raise DebianError(f"libgtest-dev:{arch} unpacked into {root} has no libgtest.a or gtest/gtest.h")
    return root / "usr/include", lib
