"""The pinned upstream texts, read from the torch wheel of the pinned version.

The wheel ships the Python sources, the C++ headers and torchgen's copies of the yaml
files, which is every pre-image the series needs except the .cpp files it adds to.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Protocol

from .common import REPO_ROOT, LeluError, rel

WHEEL_DIR = REPO_ROOT / "build" / "cache" / "wheel"
GIT_VERSION = re.compile(r"^git_version = '([0-9a-f]+)'$", re.MULTILINE)
# Upstream path prefix -> wheel member prefix, for files copied verbatim into the wheel.
YAML_MEMBERS = {
    "aten/src/ATen/native/native_functions.yaml": "torchgen/packaged/ATen/native/native_functions.yaml",
    "aten/src/ATen/native/tags.yaml": "torchgen/packaged/ATen/native/tags.yaml",
}
HEADER_PREFIXES = {"torch/csrc/": "torch/include/torch/csrc/", "aten/src/ATen/": "torch/include/ATen/"}
HEADER_SUFFIXES = (".h", ".cuh")


class PinSource(Protocol):
    """Anything that gives the text of an upstream file at the pin (None: not available there)."""

    def pinned_text(self, path: str) -> str | None: ...


class DictPin:
    """A PinSource backed by a dict (tests, and files assembled by hand)."""

    def __init__(self, texts: Mapping[str, str]) -> None:
        self.texts = dict(texts)

    def pinned_text(self, path: str) -> str | None:
        return self.texts.get(path)


def wheel_member(path: str) -> str | None:
    """The wheel member that holds upstream file `path`, or None if the wheel does not ship it."""
    if path in YAML_MEMBERS:
        return YAML_MEMBERS[path]
    if path.startswith("tools/autograd/"):
        return "torchgen/packaged/autograd/" + path.removeprefix("tools/autograd/")
    if path.endswith(HEADER_SUFFIXES):
        for prefix, member in HEADER_PREFIXES.items():
            if path.startswith(prefix):
                return member + path.removeprefix(prefix)
    if path.startswith("torch/") and path.endswith(".py"):
        return path
    return None


def _fetch(version: str, wheel_dir: Path) -> None:
    wheel_dir.mkdir(parents=True, exist_ok=True)
    where = rel(wheel_dir, REPO_ROOT)
    print(f"fetching torch=={version} into {where}/ ...", file=sys.stderr)
    cmd = [sys.executable, "-m", "pip", "download", f"torch=={version}", "--no-deps", "-d", str(wheel_dir)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-8:])
        raise LeluError(
            f"`pip download torch=={version}` failed:\n{tail}\n"
            f"put the torch-{version} wheel into {where}/ and run the command again"
        )


def wheel_path(version: str | None = None, wheel_dir: Path = WHEEL_DIR) -> Path:
    """The torch-<version> wheel in build/cache/wheel/, fetched with pip if it is not there yet."""
    version = version or _manifest_pin()[1]
    pattern = f"torch-{version}[-+]*.whl"
    found = sorted(wheel_dir.glob(pattern))
    if not found:
        _fetch(version, wheel_dir)
        found = sorted(wheel_dir.glob(pattern))
    if not found:
        raise LeluError(f"pip left no {pattern} in {rel(wheel_dir, REPO_ROOT)}/")
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise LeluError(f"more than one torch {version} wheel in {rel(wheel_dir, REPO_ROOT)}/ ({names}); keep one")
    return found[0]


class WheelPin:
    """A PinSource that reads the wheel, after checking that it was built from commit `pin`."""

    def __init__(self, wheel: Path, pin: str) -> None:
        self.wheel = wheel
        try:
            self._zip = zipfile.ZipFile(wheel)
        except (OSError, zipfile.BadZipFile) as err:
            raise LeluError(f"cannot read the wheel {wheel}: {err}; delete it and run the command again") from None
        self._names = set(self._zip.namelist())
        self._texts: dict[str, str | None] = {}
        self._verify(pin)

    def _verify(self, pin: str) -> None:
        version = self._read("torch/version.py") or ""
        found = GIT_VERSION.search(version)
        built = found.group(1) if found else None
        if built != pin:
            raise LeluError(
                f"the wheel {self.wheel.name} was built from {built or 'an unknown commit'}, "
                f"but series.toml pins {pin}; delete {rel(self.wheel, REPO_ROOT)} and run the command again"
            )

    def _read(self, member: str) -> str | None:
        if member not in self._names:
            return None
        return self._zip.read(member).decode("utf-8")

    def names(self) -> list[str]:
        """Every member of the wheel."""
        return sorted(self._names)

    def read_bytes(self, member: str) -> bytes:
        return self._zip.read(member)

    def pinned_text(self, path: str) -> str | None:
        if path not in self._texts:
            member = wheel_member(path)
            self._texts[path] = self._read(member) if member else None
        return self._texts[path]

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> WheelPin:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _manifest_pin(manifest: Path = REPO_ROOT / "series.toml") -> tuple[str, str]:
    """(pin, torch_version) from series.toml, without validating the rest of it."""
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
        return str(data["pin"]), str(data["torch_version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError) as err:
        raise LeluError(f"cannot read `pin` and `torch_version` from {manifest}: {err!r}") from None


@functools.cache
def default_pin() -> WheelPin:
    """The WheelPin for series.toml's pin (one per process; its texts are cached)."""
    pin, version = _manifest_pin()
    return WheelPin(wheel_path(version), pin)


def pinned_text(path: str) -> str | None:
    """The text of upstream file `path` at the pin, or None if the wheel does not ship it."""
    return default_pin().pinned_text(path)
