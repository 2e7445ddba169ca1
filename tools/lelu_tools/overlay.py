"""The overlay: the series built onto a stock torch, in a virtual environment of its own.

By default the torch is the pinned 2.13.0 CPU wheel, installed into build/venv.  With
`tools/lelu --torch PYTHON`, it is the torch that PYTHON imports (2.11 to 2.13, CPU or CUDA
build): the overlay's environment, build/torch/<version>-py<X.Y>-<hash>/venv, is derived from
PYTHON's (its site directories are added to the path; nothing of it is written) and the series'
hunks are regenerated from that torch's own files at the series' anchors (lelu_tools.torchenv).

Steps, each redone only when its inputs changed:
1. venv: the pinned wheel and the test dependencies (tools/requirements-overlay.txt); or, for
   --torch, a venv that sees PYTHON's packages, with the dependencies PYTHON lacks.
2. Python hunks: the series' hunks to torch/**/*.py, applied with `git apply` to the venv's own
   copy of the wheel's torch (the overlay runs the real patch); for --torch, the post-images
   regenerated from PYTHON's torch, in a copy of its package made of links but for those files.
3. Other shipped files (yaml, headers): the same, into <overlay>/patched/.
4. Codegen: that torch's own torchgen on the patched yaml (lelu_tools.codegen).
5. Compile: ninja (<overlay>/build.ninja) builds a native library, liblelu_overlay.so
   (what libtorch_cpu and libtorch_cuda would hold: ATen, autograd, functorch, nested tensors,
   the C++ frontend; C++ programs link it), and the Python extension that loads it (the
   bindings); the CPU kernel is compiled once per CPU capability and, for a CUDA torch, the
   CUDA kernel with nvcc for that torch's GPU architectures; ninja's depfiles keep rebuilds
   incremental.
6. Load: a .pth file makes `import torch._C` load the extension, so the new operators exist
   before torch's Python modules use them; a `torch.backends` entry point adds the TorchScript
   builtins at the end of `import torch`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lelu_tools import cuda_check, pin, torchenv
from lelu_tools.common import LeluError
from lelu_tools.torchenv import TorchInfo, probe

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build"
RUNTIME = REPO / "tools" / "overlay_runtime"
REQUIREMENTS = REPO / "tools" / "requirements-overlay.txt"
# Wheels carried to a machine without network for the derived venvs of --torch (tools/lelu gpu-check).
WHEELHOUSE = BUILD / "wheelhouse"
OP_PREFIXES = ["lelu"]
# Set by `_exec_py` for the programs it runs: the root of the overlay they run on (see Target.current).
ROOT_ENV = "LELU_OVERLAY_ROOT"

# The units that use the Python C API form the extension; the others, the native library.
PYTHON_UNITS = ("autograd_python_functionsEverything", "autograd_python_nn_functions", "glue")
NATIVE_LIB = "liblelu_overlay.so"
# in lelu_overlay: the digest of the headers the build installed (an Inductor cache per set)
HEADERS_KEY = "headers.sha256"

# CPU capabilities the kernel files are built for, with PyTorch's flags for each: OPT_FLAG and
# the capability's flags of cmake/Codegen.cmake (pytorch/pytorch@629e38176328fec115769fbd67dd05bed23d6773),
# with GCC's -mno-avx256-split-unaligned-load/store for AVX2 as that file adds where supported.
CAPABILITIES: dict[str, list[str]] = {
    "DEFAULT": ["-O3"],
    "AVX2": ["-O3", "-mavx2", "-mfma", "-mf16c", "-mno-avx256-split-unaligned-load",
             "-mno-avx256-split-unaligned-store"],
    "AVX512": ["-O3", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mfma"],
}


# /proc/cpuinfo flags a CPU needs for ATen to run each x86 capability's kernels
# (ATEN_CPU_CAPABILITY cannot raise the capability beyond what the CPU has).
CPU_FLAGS_NEEDED: dict[str, set[str]] = {
    "DEFAULT": set(),
    "AVX2": {"avx2", "fma"},
    "AVX512": {"avx512f", "avx512bw", "avx512vl", "avx512dq"},
}


def missing_cpu_flags(capability: str) -> list[str]:
    """The flags this CPU lacks to run `capability` (DEFAULT, AVX2, AVX512; any case); [] if none."""
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return sorted(CPU_FLAGS_NEEDED[capability.upper()] - flags)


def say(msg: str) -> None:
    print(f"[overlay] {msg}", flush=True)


def _sha(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(hashlib.sha256(p).digest())
    return h.hexdigest()


class OverlayError(LeluError):
    pass


# ---------------------------------------------------------------- the target


@dataclass(frozen=True)
class Target:
    """One overlay: the torch it is built on and the directory it lives in.

    `base` is None for the pinned wheel (root build/), else the interpreter given to --torch."""

    root: Path
    base: Path | None = None

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    @property
    def ovl(self) -> Path:
        return self.root / "overlay"

    @property
    def patched(self) -> Path:
        return self.ovl / "patched"

    @property
    def gen(self) -> Path:
        return self.ovl / "gen"

    @property
    def py(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def label(self) -> str:
        return "the pinned wheel" if self.base is None else f"the torch of {self.base}"

    @staticmethod
    def current() -> Target:
        """The overlay this process runs on (set by `tools/lelu`; the pinned one by default)."""
        root = os.environ.get(ROOT_ENV)
        return Target(Path(root)) if root and Path(root) != BUILD else PINNED

    def stamp_ok(self, name: str, value: str) -> bool:
        f = self.ovl / "stamps" / name
        return f.is_file() and f.read_text() == value

    def stamp(self, name: str, value: str) -> None:
        f = self.ovl / "stamps" / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(value)


PINNED = Target(BUILD)


def torch_target(python: str) -> Target:
    """The overlay for the torch that interpreter `python` imports."""
    found = shutil.which(python)
    if found is None:
        raise OverlayError(f"--torch {python}: no such interpreter")
    exe = Path(os.path.abspath(found))
    info = probe(exe)
    tag = f"{info.version}-py{info.python}-{hashlib.sha256(str(exe).encode()).hexdigest()[:8]}"
    return Target(BUILD / "torch" / re.sub(r"[^\w.+-]", "_", tag), exe)


# ---------------------------------------------------------------- 1. venv


def ensure_venv(t: Target = PINNED) -> None:
    if t.base is not None:
        info = probe(t.base)
        want = _sha(REQUIREMENTS.read_bytes(), json.dumps(info.site_dirs).encode(), info.exe.encode())
        if not (t.py.exists() and t.stamp_ok("venv", want)):
            torchenv.derive_venv(t.venv, info, REQUIREMENTS, WHEELHOUSE, say)
            t.stamp("venv", want)
        return
    want = _sha(REQUIREMENTS.read_bytes())
    if t.py.exists() and t.stamp_ok("venv", want):
        return
    if not t.py.exists():
        say(f"creating the virtual environment {t.venv.relative_to(REPO)}")
        torchenv.run_quietly([sys.executable, "-m", "venv", str(t.venv)])
    wheel = pin.wheel_path()
    say(f"installing the pinned wheel {wheel.name} and the test dependencies")
    torchenv.run_quietly([str(t.py), "-m", "pip", "install", "--quiet", str(wheel), "-r", str(REQUIREMENTS)])
    t.stamp("venv", want)


@functools.cache
def site_packages(t: Target = PINNED) -> Path:
    """The venv's site-packages (asked once per process; the venv must exist)."""
    out = subprocess.run(
        [str(t.py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    return Path(out)


# ---------------------------------------------------------------- 2./3. hunks


@dataclass(frozen=True)
class FileDiff:
    path: str
    text: str

    @property
    def is_new(self) -> bool:
        return "\nnew file mode " in self.text.split("\n@@", 1)[0]


def series_diffs() -> list[FileDiff]:
    """Every per-file diff of the committed series, in series order."""
    order = (REPO / "patches" / "series").read_text().split()
    diffs: list[FileDiff] = []
    for name in order:
        text = (REPO / "patches" / name).read_text()
        for chunk in re.split(r"(?m)^(?=diff --git )", text)[1:]:
            m = re.match(r"diff --git a/(\S+) b/\S+", chunk)
            if m:
                diffs.append(FileDiff(m.group(1), chunk))
    return diffs


def _apply(t: Target, dest: Path, diffs: list[FileDiff], pristine: dict[str, str]) -> None:
    for path, text in pristine.items():
        f = dest / path
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    if not diffs:
        return
    patch = t.ovl / "apply.diff"
    patch.parent.mkdir(parents=True, exist_ok=True)
    patch.write_text("".join(d.text for d in diffs))
    env = dict(os.environ, GIT_CEILING_DIRECTORIES=str(dest.parent))
    r = subprocess.run(["git", "apply", "--whitespace=nowarn", str(patch)], cwd=dest, env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise OverlayError(f"the series does not apply to the wheel's files in {dest}:\n{r.stderr}")


# The series' new headers that a build installs into torch/include (setup.py's package data
# takes ATen/native/*.h and ATen/native/cpu/*.h).
NEW_HEADERS = ("aten/src/ATen/native/Lelu.h", "aten/src/ATen/native/LeluMath.h",
               "aten/src/ATen/native/cpu/LeluVec.h")

# The files the codegen reads, patched or not.
CODEGEN_INPUTS = ("aten/src/ATen/native/native_functions.yaml", "aten/src/ATen/native/tags.yaml",
                  "tools/autograd/derivatives.yaml")


def ensure_hunks(t: Target = PINNED) -> None:
    """Apply the series' hunks to the shipped files: the torch/ Python files and the others."""
    if t.base is not None:
        _ensure_rebased_files(t, probe(t.base))
        return
    diffs = series_diffs()
    py = [d for d in diffs if d.path.startswith("torch/") and d.path.endswith(".py")]
    # New files are used from their sources; unshipped files are compiled from their fragments.
    other = [d for d in diffs if d not in py and not d.is_new and pin.pinned_text(d.path) is not None]
    key_py = _sha(*(d.text.encode() for d in py))
    key_other = _sha(*(d.text.encode() for d in other))
    if not t.stamp_ok("python-hunks", key_py):
        sp = site_packages(t)
        previous = t.ovl / "stamps" / "python-files.json"
        touched = set(json.loads(previous.read_text())) if previous.is_file() else set()
        paths = sorted(touched | {d.path for d in py})
        say(f"applying the series' Python hunks to {len({d.path for d in py})} files of the venv's torch")
        _apply(t, sp, py, {p: _pinned(p) for p in paths})
        previous.write_text(json.dumps(sorted({d.path for d in py})))
        t.stamp("python-hunks", key_py)
    if not t.stamp_ok("other-hunks", key_other) or not t.patched.exists():
        say("applying the series' yaml and header hunks to the wheel's copies")
        if t.patched.exists():
            shutil.rmtree(t.patched)
        paths = sorted({d.path for d in other} | set(CODEGEN_INPUTS))
        _apply(t, t.patched, other, {p: _pinned(p) for p in paths})
        t.stamp("other-hunks", key_other)
    _install_headers(t, installed_headers(t, {d.path: (t.patched / d.path).read_text() for d in other}))


def _ensure_rebased_files(t: Target, info: TorchInfo) -> None:
    """--torch: the series regenerated from that torch's own files at the anchors (as `apply
    --rebase` does for a checkout); its torch/ Python post-images go into the venv's torch, a
    tree of links to the original, and the other shipped files into <overlay>/patched/."""
    from lelu_tools.manifest import load_series
    from lelu_tools.series import postimages

    source = torchenv.InstalledTorch(info)
    texts = postimages(load_series(REPO / "series.toml"), source, where=info.describe())
    python = {p: after for p, (_, after) in texts.items() if p.startswith("torch/") and p.endswith(".py")}
    other = {p: after for p, (before, after) in texts.items() if p not in python and before}
    for path in CODEGEN_INPUTS:
        if path not in other:
            text = source.pinned_text(path)
            if text is None:
                raise OverlayError(f"{info.describe()} has no {path} (its torchgen's copy)")
            other[path] = text
    headers = installed_headers(t, other)
    _write_headers_key(t, headers)
    key = _sha(str(info.torch_dir).encode(), *(f"{p}\0{x}".encode() for p, x in sorted({**python, **other}.items())),
               *((REPO / "aten_native" / p).read_bytes() for p in NEW_HEADERS))
    if t.stamp_ok("rebased-files", key) and t.patched.exists():
        return
    say(f"regenerated the series' hunks from {info.describe()}: {len(python)} Python files, {len(other)} others")
    torchenv.link_tree(site_packages(t) / "torch", info.torch_dir,
                       {**{p.removeprefix("torch/"): text for p, text in python.items()},
                        **headers})
    if t.patched.exists():
        shutil.rmtree(t.patched)
    for path, text in other.items():
        (t.patched / path).parent.mkdir(parents=True, exist_ok=True)
        (t.patched / path).write_text(text)
    t.stamp("rebased-files", key)


def installed_headers(t: Target, shipped: dict[str, str]) -> dict[str, str]:
    """What a build of the series installs into torch/include (path under the torch package ->
    text): the new ATen headers, and the series' post-images of shipped headers (`shipped`:
    upstream path -> text).  Code compiled against the installed torch reads them: Inductor's
    generated kernels include torch/csrc/inductor/cpp_prefix.h, which includes cpu/LeluVec.h."""
    files: dict[str, str] = {}
    for path in NEW_HEADERS:
        files[_include_member(path)] = (REPO / "aten_native" / path).read_text()
    for path, text in shipped.items():
        member = pin.wheel_member(path)
        if member is not None and path.endswith(pin.HEADER_SUFFIXES):
            files[member.removeprefix("torch/")] = text
    return files


def _include_member(path: str) -> str:
    member = pin.wheel_member(path)
    assert member is not None, path
    return member.removeprefix("torch/")


def _write_headers_key(t: Target, files: dict[str, str]) -> str:
    """The digest of the installed headers, in lelu_overlay/headers.sha256: Inductor keys a compiled
    kernel on its source, not on the headers it includes, so lelu_overlay gives each set of
    installed headers an Inductor cache directory of its own."""
    key = _sha(*(f"{p}\0{x}".encode() for p, x in sorted(files.items())))
    key_file = site_packages(t) / "lelu_overlay" / HEADERS_KEY
    key_file.parent.mkdir(parents=True, exist_ok=True)
    if not key_file.is_file() or key_file.read_text() != key:
        key_file.write_text(key)
    return key


def _install_headers(t: Target, files: dict[str, str]) -> None:
    """Write `files` into the venv's torch package; restore (or remove) those of an earlier
    build that the series no longer writes."""
    key = _write_headers_key(t, files)
    if t.stamp_ok("installed-headers", key):
        return
    torch_dir = site_packages(t) / "torch"
    record = t.ovl / "stamps" / "installed-headers.json"
    previous = set(json.loads(record.read_text())) if record.is_file() else set()
    stale = sorted(previous - set(files))
    if stale:
        wheel = pin.default_pin()
        shipped = set(wheel.names())
        for member in stale:
            if f"torch/{member}" in shipped:
                (torch_dir / member).write_bytes(wheel.read_bytes(f"torch/{member}"))
            else:
                (torch_dir / member).unlink(missing_ok=True)
    say(f"installing {len(files)} headers into the venv's torch/include")
    for member, text in files.items():
        (torch_dir / member).parent.mkdir(parents=True, exist_ok=True)
        (torch_dir / member).write_text(text)
    record.write_text(json.dumps(sorted(files)))
    t.stamp("installed-headers", key)


def pinned_torch_include() -> Path:
    """The pinned wheel's headers, in the overlay's virtual environment (cuda-check, cross-check)."""
    ensure_venv()
    include = site_packages() / "torch" / "include"
    if not (include / "ATen/native/cuda/Loops.cuh").is_file():
        raise OverlayError(f"{include} has no ATen/native/cuda/Loops.cuh: not the pinned wheel's headers")
    return include


def _pinned(path: str) -> str:
    text = pin.pinned_text(path)
    if text is None:
        raise OverlayError(f"{path} is not in the wheel")
    return text


# ---------------------------------------------------------------- 4. codegen


def ensure_codegen(t: Target, force: bool) -> None:
    inputs = [t.patched / "aten/src/ATen/native/native_functions.yaml",
              t.patched / "tools/autograd/derivatives.yaml", Path(__file__).with_name("codegen.py")]
    key = _sha(*(p.read_bytes() for p in inputs))
    if not force and t.gen.exists() and t.stamp_ok("codegen", key):
        return
    say(f"generating the new operators' ATen, autograd and Python binding code with the torchgen of {t.label}")
    env = dict(os.environ, PYTHONPATH=str(REPO / "tools"))
    r = subprocess.run([str(t.py), "-m", "lelu_tools.codegen", str(t.patched), str(t.gen), *OP_PREFIXES],
                       env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise OverlayError(f"codegen failed:\n{r.stdout}{r.stderr}")
    for line in r.stdout.splitlines():
        if line.startswith("codegen:"):
            say(line)
    t.stamp("codegen", key)


# ---------------------------------------------------------------- 5. compile


def torch_info(t: Target) -> TorchInfo:
    """What the target's torch is (for the pinned wheel, read without importing it)."""
    return probe(t.base) if t.base is not None else probe(t.py, import_torch=False)


def _sources(t: Target, cuda: bool) -> list[tuple[str, Path, list[str]]]:
    """(object name, source, extra flags) for every C++ translation unit."""
    native = REPO / "aten_native" / "aten/src/ATen/native"
    units: list[tuple[str, Path, list[str]]] = []
    for name in ["RegisterCPUEverything", "RegisterMetaEverything",
                 "RegisterCompositeExplicitAutogradNonFunctionalEverything",
                 "RegisterFunctionalizationEverything", "OperatorsEverything", "RegisterSchema",
                 "RegisterNestedTensorCPUEverything",
                 *(["RegisterCUDAEverything", "RegisterNestedTensorCUDAEverything"] if cuda else [])]:
        units.append((f"aten_{name}", t.gen / "ATen" / f"{name}.cpp", []))
    for name in ["VariableTypeEverything", "ADInplaceOrViewTypeEverything", "Functions",
                 "python_functionsEverything", "python_nn_functions"]:
        units.append((f"autograd_{name}", t.gen / "autograd" / f"{name}.cpp", []))
    for cpp in sorted(native.glob("*.cpp")):
        units.append((f"native_{cpp.stem}", cpp, []))
    for cpp in sorted((native / "cpu").glob("*.cpp")):
        for cap, flags in CAPABILITIES.items():
            units.append((f"native_cpu_{cpp.stem}.{cap}", cpp,
                          [f"-DCPU_CAPABILITY={cap}", f"-DCPU_CAPABILITY_{cap}", *flags]))
    # Fragments of upstream .cpp files the wheel does not ship, compiled by small wrappers.
    wrapped = {
        "functions_manual": {"LELU_FUNCTIONS_MANUAL_FRAGMENT": "torch/csrc/autograd/FunctionsManual.cpp/lelu.cpp"},
        "batch_rules": {"LELU_BATCH_RULES_UNARY_FRAGMENT": "aten/src/ATen/functorch/BatchRulesUnaryOps.cpp/lelu.cpp",
                        "LELU_BATCH_RULES_BINARY_FRAGMENT": "aten/src/ATen/functorch/BatchRulesBinaryOps.cpp/lelu.cpp"},
        "nested": {"LELU_NESTED_UNARY_FRAGMENT": "aten/src/ATen/native/nested/NestedTensorUnaryOps.cpp/lelu.cpp",
                   "LELU_NESTED_BACKWARD_FRAGMENT": "aten/src/ATen/native/nested/NestedTensorBackward.cpp/lelu.cpp"},
        "cpp_api": {"LELU_CPP_OPTIONS_FRAGMENT": "torch/csrc/api/src/nn/options/activation.cpp/lelu.cpp",
                    "LELU_CPP_MODULES_FRAGMENT": "torch/csrc/api/src/nn/modules/activation.cpp/lelu.cpp"},
    }
    for name, fragments in wrapped.items():
        units.append((name, RUNTIME / f"{name}.cpp",
                      [f'-D{macro}="{REPO / "fragments" / path}"' for macro, path in fragments.items()]))
    units.append(("variable_type", RUNTIME / "variable_type.cpp", []))
    units.append(("glue", RUNTIME / "glue.cpp", []))
    return units


def include_dirs(torch_dir: Path, t: Target | None = None) -> list[Path]:
    """The include path of the overlay's C++: generated and patched headers before the wheel's."""
    t = t or Target.current()
    info = torch_info(t)
    dirs = [t.gen / "include", t.gen / "autograd", t.patched / "aten/src", t.patched,
            t.patched / "torch/csrc/api/include", REPO / "aten_native/aten/src",
            torch_dir / "include", torch_dir / "include/torch/csrc/api/include"]
    # nlohmann/json.hpp: the wheel's functorch headers include it but do not ship it (pytorch#181565).
    sites = [site_packages(t), *map(Path, info.site_dirs)]
    dirs += [d / "nlohmann_json/include" for d in sites if (d / "nlohmann_json/include").is_dir()][:1]
    dirs.append(Path(info.include))
    if info.cuda:
        dirs += [t.ovl / "cuda_include", *cuda_toolkit(t).include_dirs, *cuda_library_includes(info)]
    return dirs


@functools.cache
def cuda_toolkit(t: Target) -> cuda_check.Toolkit:
    """nvcc and its headers, checked to match the CUDA release of the target's torch."""
    info = torch_info(t)
    toolkit = cuda_check.probe_toolkit(cuda_check.find_nvcc(), t.ovl / "nvcc-probe")
    if info.cuda is not None and toolkit.version.split(".")[0] != info.cuda.split(".")[0]:
        raise OverlayError(f"nvcc {toolkit.version} ({toolkit.nvcc}) cannot build for {info.describe()}: "
                           f"install CUDA {info.cuda.split('.')[0]}.x's nvcc, or put it first on PATH")
    return toolkit


def cuda_library_includes(info: TorchInfo) -> list[Path]:
    """The CUDA libraries' headers that came with a CUDA torch (pip's nvidia-* packages)."""
    found: list[Path] = []
    for site in info.site_dirs:
        found += sorted(p for p in Path(site).glob("nvidia/*/include") if p.is_dir())
    return found


def cuda_runtime_library(info: TorchInfo, toolkit_lib: Path) -> Path:
    """libcudart as the torch loads it: from its nvidia-* package, else the toolkit's."""
    for site in info.site_dirs:
        for lib in sorted(Path(site).glob("nvidia/*/lib/libcudart.so.*")):
            return lib
    lib = toolkit_lib / "libcudart.so"
    if not lib.exists():
        raise OverlayError(f"no libcudart found next to {info.describe()} nor in {toolkit_lib}")
    return lib


def cuda_archs(info: TorchInfo) -> list[str]:
    """The SM numbers to build the CUDA kernel for: TORCH_CUDA_ARCH_LIST if set (as PyTorch's
    extensions read it: "9.0", "8.0;9.0", "8.6 9.0+PTX"), else every architecture of the torch."""
    wanted = os.environ.get("TORCH_CUDA_ARCH_LIST", "").replace(";", " ").split()
    if wanted:
        return [w.removesuffix("+PTX").replace(".", "") for w in wanted]
    return [f.removeprefix("sm_") for f in info.arch_flags if f.startswith("sm_")]


def write_ninja(t: Target, out_so: Path) -> int:
    info = torch_info(t)
    torch_dir = site_packages(t) / "torch"
    include = include_dirs(torch_dir, t)
    common = ["-std=c++20", f"-D_GLIBCXX_USE_CXX11_ABI={info.abi}", "-DAT_PER_OPERATOR_HEADERS",
              # the wheel's DispatchStub layout
              "-DHAVE_AVX512_CPU_DEFINITION", "-DHAVE_AVX2_CPU_DEFINITION",
              "-DTORCH_EXTENSION_NAME=_C", *[f"-I{p}" for p in include]]
    cflags = ["-fPIC", "-O2", "-g0", "-Wno-deprecated-declarations", "-fvisibility=hidden", "-Wno-psabi", *common]
    if info.cuda:
        cflags.append("-DUSE_CUDA")
    lib = info.torch_dir.resolve() / "lib"
    native_so = out_so.with_name(NATIVE_LIB)
    torch_libs = ["-ltorch_cpu", "-ltorch", "-lc10"]
    native_ldflags = ["-shared", f"-Wl,-soname,{NATIVE_LIB}", "-Wl,--no-undefined", f"-L{lib}", f"-Wl,-rpath,{lib}"]
    units = _sources(t, bool(info.cuda))
    lines = ["ninja_required_version = 1.3", f"cflags = {shlex.join(cflags)}"]
    if info.cuda:
        toolkit = cuda_toolkit(t)
        cuda_check.write_generated_headers(t.ovl / "cuda_include", (*toolkit.include_dirs,
                                                                   *cuda_library_includes(info), torch_dir / "include"))
        archs = cuda_archs(info)
        nvcc_flags = [*cuda_check.NVCC_FLAGS, *cuda_check.gencode(archs), "--threads", "0", *common]
        lines += [f"nvcc = {shlex.join([str(toolkit.nvcc)])}", f"nvcc_flags = {shlex.join(nvcc_flags)}",
                  "rule nvcc",
                  "  command = $nvcc -MD -MF $out.d $nvcc_flags -c $in -o $out",
                  "  depfile = $out.d", "  deps = gcc", "  description = nvcc $in_short"]
        cudart = cuda_runtime_library(info, toolkit.nvcc.parent.parent / "lib64")
        torch_libs = ["-ltorch_cuda", "-lc10_cuda", *torch_libs, str(cudart), f"-Wl,-rpath,{cudart.parent}"]
    native_ldflags += torch_libs
    # ($$ is ninja's escape of $: the extension finds the native library next to it.)
    ldflags = ["-shared", f"-L{out_so.parent}", "-Wl,-rpath,$$ORIGIN", f"-L{lib}", f"-Wl,-rpath,{lib}",
               f"-l:{NATIVE_LIB}", "-ltorch_python", *torch_libs]
    lines += [
        f"ldflags = {shlex.join(ldflags)}",
        "rule cxx",
        "  command = c++ -MMD -MF $out.d $cflags $extra -c $in -o $out",
        "  depfile = $out.d",
        "  deps = gcc",
        "  description = compiling $in_short",
        "rule link",
        "  command = c++ $in -o $out $ldflags",
        "  description = linking $out_short",
    ]
    objs: dict[bool, list[str]] = {True: [], False: []}
    for name, src, extra in units:
        obj = t.ovl / "obj" / f"{name}.o"
        objs[name in PYTHON_UNITS].append(str(obj))
        lines += [f"build {obj}: cxx {src}", f"  extra = {shlex.join(extra)}",
                  f"  in_short = {src.name} {' '.join(e for e in extra if e.startswith('-DCPU_CAPABILITY='))}"]
    if info.cuda:
        for cu in sorted((REPO / "aten_native/aten/src/ATen/native/cuda").glob("*.cu")):
            obj = t.ovl / "obj" / f"native_cuda_{cu.stem}.o"
            objs[False].append(str(obj))
            lines += [f"build {obj}: nvcc {cu}", f"  in_short = {cu.name} (sm_{', sm_'.join(cuda_archs(info))})"]
    lines += [f"build {native_so}: link {' '.join(objs[False])}", f"  ldflags = {shlex.join(native_ldflags)}",
              f"  out_short = {native_so.name}",
              f"build {out_so}: link {' '.join(objs[True])} | {native_so}", f"  out_short = {out_so.name}", ""]
    text = "\n".join(lines)
    ninja_file = t.ovl / "build.ninja"
    if not ninja_file.is_file() or ninja_file.read_text() != text:
        ninja_file.write_text(text)
    return len(objs[True]) + len(objs[False])


def ensure_compiled(t: Target) -> Path:
    info = torch_info(t)
    pkg = site_packages(t) / "lelu_overlay"
    out_so = pkg / f"_C{info.ext_suffix}"
    n = write_ninja(t, out_so)
    ninja = shutil.which("ninja", path=str(t.venv / "bin")) or shutil.which("ninja")
    if ninja is None:
        raise OverlayError("ninja not found (it is in tools/requirements-overlay.txt)")
    dry = subprocess.run([ninja, "-C", str(t.ovl), "-n"], capture_output=True, text=True)
    if "no work to do" in dry.stdout:
        return out_so
    say(f"compiling {n} units and linking (ninja, {os.cpu_count()} jobs)")
    r = subprocess.run([ninja, "-C", str(t.ovl)])
    if r.returncode != 0:
        raise OverlayError("compilation failed (see the compiler output above)")
    return out_so


# ---------------------------------------------------------------- 6. load


def ensure_installed(t: Target) -> None:
    sp = site_packages(t)
    pkg = sp / "lelu_overlay"
    pkg.mkdir(exist_ok=True)
    src = RUNTIME / "lelu_overlay" / "__init__.py"
    if not (pkg / "__init__.py").is_file() or (pkg / "__init__.py").read_bytes() != src.read_bytes():
        shutil.copyfile(src, pkg / "__init__.py")
    dist = sp / "lelu_overlay-0.1.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: lelu-overlay\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[torch.backends]\nlelu = lelu_overlay:_autoload\n")
    (dist / "RECORD").write_text("")
    # Run by `site` at interpreter start: load the extension right after torch._C (see lelu_overlay).
    (sp / "lelu_overlay.pth").write_text("import lelu_overlay; lelu_overlay.install()\n")


def refresh_patches() -> None:
    """Regenerate patches/ from the sources first, so the overlay always runs the current series."""
    import dataclasses

    from lelu_tools import coverletter
    from lelu_tools.manifest import load_series
    from lelu_tools.series import generate, write

    series = load_series(REPO / "series.toml")
    with pin.WheelPin(pin.wheel_path(series.torch_version), series.pin) as source:
        try:
            generated = generate(series, source)
        except coverletter.CoverLetterError as err:
            # The overlay never reads the cover letter: keep the old one, `tools/lelu patches` will fail.
            say(f"warning: patches/{coverletter.NAME} not regenerated: {err}")
            generated = generate(dataclasses.replace(series, cover_letter=None), source)
            old = REPO / "patches" / coverletter.NAME
            if old.is_file():
                generated.files[coverletter.NAME] = old.read_bytes()
        for change in write(generated, REPO / "patches"):
            say(f"patches: {change}")


def ensure(t: Target = PINNED, force_codegen: bool = False) -> None:
    """Bring the overlay up to date; concurrent invocations wait for each other."""
    import fcntl

    t.root.mkdir(parents=True, exist_ok=True)
    with open(t.root / "overlay.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another tools/lelu build of this overlay to finish")
            fcntl.flock(lock, fcntl.LOCK_EX)
        if t.base is None:
            refresh_patches()
        else:  # the hunks come from the sources, regenerated at the anchors (no pinned wheel needed)
            say(f"building on {probe(t.base).describe()}, in {t.root.relative_to(REPO)}")
        ensure_venv(t)
        ensure_hunks(t)
        ensure_codegen(t, force_codegen)
        ensure_installed(t)
        ensure_compiled(t)


# ---------------------------------------------------------------- commands


def _exec_py(t: Target, args: list[str]) -> int:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "tools"), str(REPO / "test")]))
    env[ROOT_ENV] = str(t.root)
    return subprocess.run([str(t.py), *args], env=env, cwd=REPO).returncode


def run_build(args: list[str], t: Target = PINNED) -> int:
    ensure(t, force_codegen="--force" in args)
    torch_flag = "" if t.base is None else f" --torch {t.base}"
    say(f"ready: tools/lelu{torch_flag} python -c 'import torch; print(torch.nn.functional.lelu)'")
    return 0


def run_lint(args: list[str], t: Target = PINNED) -> int:
    if t.base is not None:
        raise OverlayError("`tools/lelu lint` checks the series' sources, not a build: run it without --torch")
    ensure_venv(t)  # the linters, not the build
    return _exec_py(t, ["-m", "lelu_tools.lint", *args])


def run_python(args: list[str], t: Target = PINNED) -> int:
    ensure(t)
    return _exec_py(t, args)


def _runs(module: str) -> Callable[[list[str], Target], int]:
    """The command that brings the overlay up to date and runs `python -m module ARGS` in it."""

    def run(args: list[str], t: Target = PINNED) -> int:
        ensure(t)
        return _exec_py(t, ["-m", module, *args])

    return run


run_demo = _runs("lelu_tools.demo")
run_bench = _runs("lelu_tools.bench")
run_accuracy = _runs("lelu_tools.accuracy")
run_train = _runs("lelu_tools.train")


def run_test(args: list[str], t: Target = PINNED) -> int:
    """pytest on test/, or on the files and directories among `args` where there are some."""
    ensure(t)
    named = any(Path(a.split("::")[0]).exists() for a in args if not a.startswith("-"))
    return _exec_py(t, ["-m", "pytest", *([] if named else ["test"]), *args])
