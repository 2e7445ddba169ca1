"""`tools/lelu --torch PYTHON`: the overlay on the torch an interpreter already has.

What that torch is (`probe`), its files as the series' pre-images (`InstalledTorch`), the
overlay's environment derived from the interpreter's (`derive_venv`) and the copy of its torch
package with the series' Python post-images (`link_tree`).  Nothing here writes to the
interpreter's own environment: the derived venv adds its site directories to sys.path (and turns
off bytecode writing, which would otherwise put .pyc files into them), and the torch package it
imports is a tree of symbolic links to the original but for the files the series changes.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .common import LeluError
from .pin import wheel_member

# The releases the overlay knows: the series' anchors are checked against each one's files.
SUPPORTED = ("2.11", "2.12", "2.13")

# The distributions the overlay's build and its tests cannot do without (torchgen needs PyYAML;
# torch.testing needs expecttest; the rest are the tests' and the build's), by requirement name.
CORE = ("expecttest", "hypothesis", "mpmath", "ninja", "nlohmann-json", "numpy", "pytest", "pyyaml")

_PROBE = r"""
import importlib.util, json, os, sys, sysconfig
base = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix, "installed_base": sys.base_prefix,
        "installed_platbase": sys.base_exec_prefix}
std = {os.path.realpath(sysconfig.get_path(k, vars=base)) for k in ("stdlib", "platstdlib")}
std |= {os.path.join(s, "lib-dynload") for s in std}
def is_std(p):
    return p.endswith(".zip") or os.path.realpath(p) in std
out = {
    "exe": sys.executable,
    "python": "%d.%d" % sys.version_info[:2],
    "include": sysconfig.get_paths()["include"],
    "ext_suffix": sysconfig.get_config_var("EXT_SUFFIX"),
    "site_dirs": [p for p in sys.path[1:] if p and os.path.isdir(p) and not is_std(p)],
}
spec = importlib.util.find_spec("torch")
gen = importlib.util.find_spec("torchgen")
if spec is None or spec.origin is None or gen is None or gen.origin is None:
    print(json.dumps(out)); sys.exit(0)
out["torch_dir"] = os.path.dirname(spec.origin)
out["torchgen_dir"] = os.path.dirname(gen.origin)
if IMPORT:
    import torch
    out["version"] = torch.__version__
    out["git_version"] = torch.version.git_version
    out["cuda"] = torch.version.cuda
    out["abi"] = int(torch._C._GLIBCXX_USE_CXX11_ABI)
    out["arch_flags"] = torch._C._cuda_getArchFlags().split() if torch.version.cuda else []
else:
    ns = {}
    exec(open(os.path.join(out["torch_dir"], "version.py")).read(), ns)
    out.update(version=ns["__version__"], git_version=ns["git_version"], cuda=ns.get("cuda"), abi=1,
               arch_flags=[])
print(json.dumps(out))
"""


class TorchEnvError(LeluError):
    pass


@dataclass(frozen=True)
class TorchInfo:
    """An interpreter and the torch it imports."""

    exe: str
    python: str  # "3.12"
    include: str  # the Python headers
    ext_suffix: str
    site_dirs: tuple[str, ...]  # sys.path but the standard library and the script directory
    torch_dir: Path
    torchgen_dir: Path
    version: str  # torch.__version__
    git_version: str
    cuda: str | None  # torch.version.cuda
    abi: int  # torch._C._GLIBCXX_USE_CXX11_ABI
    arch_flags: tuple[str, ...]  # the GPU architectures it was built for: sm_80, ...

    @property
    def release(self) -> str:
        """"2.11" for 2.11.0+cu130."""
        return ".".join(self.version.split("+")[0].split(".")[:2])

    def describe(self) -> str:
        build = f"CUDA {self.cuda}" if self.cuda else "CPU"
        return f"torch {self.version} ({build} build, Python {self.python}) at {self.torch_dir}"


@functools.cache
def probe(python: Path, import_torch: bool = True) -> TorchInfo:
    """Ask `python` what it is and which torch it imports (importing torch unless told not to)."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([str(python), "-c", _PROBE.replace("IMPORT", str(import_torch))],
                          capture_output=True, text=True, env=env, cwd="/")
    if done.returncode != 0:
        raise TorchEnvError(f"{python} could not tell which torch it has:\n{done.stderr.strip()[-3000:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    if "torch_dir" not in data:
        raise TorchEnvError(f"{python} cannot import torch and torchgen (is torch installed for it?)")
    info = TorchInfo(
        exe=data["exe"], python=data["python"], include=data["include"], ext_suffix=data["ext_suffix"],
        site_dirs=tuple(data["site_dirs"]), torch_dir=Path(data["torch_dir"]),
        torchgen_dir=Path(data["torchgen_dir"]), version=data["version"], git_version=data["git_version"],
        cuda=data["cuda"], abi=data["abi"], arch_flags=tuple(data["arch_flags"]),
    )
    return check_supported(info)


def check_supported(info: TorchInfo) -> TorchInfo:
    if info.release not in SUPPORTED:
        raise TorchEnvError(f"{info.describe()}: the overlay supports torch {', '.join(SUPPORTED)}")
    return info


class InstalledTorch:
    """A PinSource that reads the pre-images from an installed torch and torchgen."""

    def __init__(self, info: TorchInfo) -> None:
        self.roots = {"torch": info.torch_dir, "torchgen": info.torchgen_dir}

    def pinned_text(self, path: str) -> str | None:
        member = wheel_member(path)
        if member is None:
            return None
        package, rest = member.split("/", 1)
        f = self.roots[package] / rest
        return f.read_text(encoding="utf-8") if f.is_file() else None


def link_tree(dest: Path, source: Path, files: dict[str, str]) -> None:
    """Make `dest` a copy of directory `source` made of symbolic links, but for `files`
    (relative path -> text), which are written; their directories are real ones."""
    if dest.is_symlink():
        dest.unlink()
    elif dest.exists():
        shutil.rmtree(dest)  # removes the links, never what they point to
    real = {Path(".")} | {parent for f in files for parent in Path(f).parents}

    def fill(rel: Path) -> None:
        (dest / rel).mkdir(parents=True, exist_ok=True)
        if not (source / rel).is_dir():
            return  # a new directory of the series
        for child in sorted((source / rel).iterdir()):
            here = rel / child.name
            if here in real:
                fill(here)
            elif here.as_posix() not in files:
                (dest / here).symlink_to(child)

    fill(Path("."))
    for name, text in files.items():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_text(text, encoding="utf-8")


def pinned_requirements(path: Path) -> dict[str, str]:
    """requirement name (normalised) -> the pinned line, from tools/requirements-overlay.txt."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out[line.split("==")[0].strip().lower().replace("_", "-").replace(".", "-")] = line
    return out


_MISSING = r"""
import importlib.metadata, json, sys
missing = []
for name in json.loads(sys.argv[1]):
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        missing.append(name)
print(json.dumps(missing))
"""


def derive_venv(venv: Path, info: TorchInfo, requirements: Path, wheelhouse: Path | None,
                say: Callable[[str], None]) -> None:
    """A venv of `info`'s interpreter that sees its packages, with the requirements it lacks."""
    py = venv / "bin" / "python"
    if not py.exists():
        say(f"creating {venv}, which sees the packages of {info.exe}")
        run_quietly([info.exe, "-m", "venv", str(venv)])
    site = Path(run_quietly([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]))
    lines = ["import sys; sys.dont_write_bytecode = True\n"]
    lines += [f"import site; site.addsitedir({d!r})\n" for d in info.site_dirs]
    (site / "lelu_base.pth").write_text("".join(lines))
    pinned = pinned_requirements(requirements)
    missing = json.loads(run_quietly([str(py), "-c", _MISSING, json.dumps(sorted(pinned))]))
    if not missing:
        return
    pip = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if wheelhouse is not None and wheelhouse.is_dir():
        pip += ["--find-links", str(wheelhouse)]
    say(f"installing into the overlay's venv what {info.exe} lacks: {', '.join(missing)}")
    done = subprocess.run([*pip, *(pinned[m] for m in missing)], capture_output=True, text=True)
    if done.returncode == 0:
        return
    core = [m for m in missing if m in CORE]
    say(f"could not install all of them (offline?); installing those the build and tests need: {', '.join(core)}")
    if core:
        run_quietly([*pip, *(pinned[m] for m in core)])


def run_quietly(cmd: list[str]) -> str:
    """Run a command; its stdout, or an error with its output when it fails."""
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise TorchEnvError(f"command failed ({done.returncode}): {' '.join(cmd)}\n{done.stdout}{done.stderr}")
    return done.stdout.strip()
