"""The overlay: the series built onto the stock torch 2.13.0 wheel in a virtual environment.

Steps, each redone only when its inputs changed:
1. venv: build/venv with the pinned wheel and the test dependencies (tools/requirements-overlay.txt).
2. Python hunks: the series' hunks to torch/**/*.py applied with `git apply` to the venv's own
   torch, starting from the wheel's pristine copies (the overlay runs the real patch).
3. Other shipped files (yaml, headers): the same, into build/overlay/patched/.
4. Codegen: the wheel's torchgen on the patched yaml (lelu_tools.codegen).
5. Compile: ninja (build/overlay/build.ninja) builds a native library, liblelu_overlay.so
   (what libtorch_cpu would hold: ATen, autograd, functorch, nested tensors, the C++ frontend;
   C++ programs link it), and the Python extension that loads it (the bindings); the CPU
   kernel is compiled once per CPU capability; ninja's depfiles keep rebuilds incremental.
6. Load: a .pth file makes `import torch._C` load the extension, so the new operators exist
   before torch's Python modules use them; a `torch.backends` entry point adds the TorchScript
   builtins at the end of `import torch`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from lelu_tools import pin
from lelu_tools.common import LeluError

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build"
VENV = BUILD / "venv"
OVL = BUILD / "overlay"
PATCHED = OVL / "patched"
GEN = OVL / "gen"
RUNTIME = REPO / "tools" / "overlay_runtime"
REQUIREMENTS = REPO / "tools" / "requirements-overlay.txt"
PY = VENV / "bin" / "python"
OP_PREFIXES = ["lelu"]

# The units that use the Python C API form the extension; the others, the native library.
PYTHON_UNITS = ("autograd_python_functionsEverything", "autograd_python_nn_functions", "glue")
NATIVE_LIB = "liblelu_overlay.so"

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


def _stamp_ok(name: str, value: str) -> bool:
    f = OVL / "stamps" / name
    return f.is_file() and f.read_text() == value


def _stamp(name: str, value: str) -> None:
    f = OVL / "stamps" / name
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(value)


def _run(cmd: list[str]) -> None:
    """Run a command quietly; on failure, raise with its output."""
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise OverlayError(f"command failed ({r.returncode}): {shlex.join(cmd)}\n{r.stdout}{r.stderr}")


class OverlayError(LeluError):
    pass


# ---------------------------------------------------------------- 1. venv


def ensure_venv() -> None:
    want = _sha(REQUIREMENTS.read_bytes())
    if PY.exists() and _stamp_ok("venv", want):
        return
    if not PY.exists():
        say(f"creating the virtual environment {VENV.relative_to(REPO)}")
        _run([sys.executable, "-m", "venv", str(VENV)])
    wheel = pin.wheel_path()
    say(f"installing the pinned wheel {wheel.name} and the test dependencies")
    _run([str(PY), "-m", "pip", "install", "--quiet", str(wheel), "-r", str(REQUIREMENTS)])
    _stamp("venv", want)


def site_packages() -> Path:
    out = subprocess.run(
        [str(PY), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
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


def _apply(dest: Path, diffs: list[FileDiff], pristine: dict[str, str]) -> None:
    for path, text in pristine.items():
        f = dest / path
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    if not diffs:
        return
    patch = OVL / "apply.diff"
    patch.parent.mkdir(parents=True, exist_ok=True)
    patch.write_text("".join(d.text for d in diffs))
    env = dict(os.environ, GIT_CEILING_DIRECTORIES=str(dest.parent))
    r = subprocess.run(["git", "apply", "--whitespace=nowarn", str(patch)], cwd=dest, env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise OverlayError(f"the series does not apply to the wheel's files in {dest}:\n{r.stderr}")


def ensure_hunks() -> tuple[bool, bool]:
    """Apply the series' hunks to shipped files. Returns (python changed, other changed)."""
    diffs = series_diffs()
    py = [d for d in diffs if d.path.startswith("torch/") and d.path.endswith(".py")]
    # New files are used from their sources; unshipped files are compiled from their fragments.
    other = [d for d in diffs if d not in py and not d.is_new and pin.pinned_text(d.path) is not None]
    key_py = _sha(*(d.text.encode() for d in py))
    key_other = _sha(*(d.text.encode() for d in other))
    py_changed = not _stamp_ok("python-hunks", key_py)
    other_changed = not _stamp_ok("other-hunks", key_other) or not PATCHED.exists()
    if py_changed:
        sp = site_packages()
        previous = OVL / "stamps" / "python-files.json"
        touched = set(json.loads(previous.read_text())) if previous.is_file() else set()
        paths = sorted(touched | {d.path for d in py})
        say(f"applying the series' Python hunks to {len({d.path for d in py})} files of the venv's torch")
        pristine = {p: _pinned(p) for p in paths}
        _apply(sp, py, pristine)
        previous.write_text(json.dumps(sorted({d.path for d in py})))
        _stamp("python-hunks", key_py)
    if other_changed:
        say("applying the series' yaml and header hunks to the wheel's copies")
        if PATCHED.exists():
            shutil.rmtree(PATCHED)
        paths = sorted({d.path for d in other} | {"aten/src/ATen/native/native_functions.yaml",
                                                  "aten/src/ATen/native/tags.yaml",
                                                  "tools/autograd/derivatives.yaml"})
        _apply(PATCHED, other, {p: _pinned(p) for p in paths})
        _stamp("other-hunks", key_other)
    return py_changed, other_changed


def _pinned(path: str) -> str:
    text = pin.pinned_text(path)
    if text is None:
        raise OverlayError(f"{path} is not in the wheel")
    return text


# ---------------------------------------------------------------- 4. codegen


def ensure_codegen(force: bool) -> None:
    inputs = [PATCHED / "aten/src/ATen/native/native_functions.yaml",
              PATCHED / "tools/autograd/derivatives.yaml", Path(__file__).with_name("codegen.py")]
    key = _sha(*(p.read_bytes() for p in inputs))
    if not force and GEN.exists() and _stamp_ok("codegen", key):
        return
    say("generating the new operators' ATen, autograd and Python binding code with the wheel's torchgen")
    env = dict(os.environ, PYTHONPATH=str(REPO / "tools"))
    r = subprocess.run([str(PY), "-m", "lelu_tools.codegen", str(PATCHED), str(GEN), *OP_PREFIXES],
                       env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise OverlayError(f"codegen failed:\n{r.stdout}{r.stderr}")
    for line in r.stdout.splitlines():
        if line.startswith("codegen:"):
            say(line)
    _stamp("codegen", key)


# ---------------------------------------------------------------- 5. compile


def _torch_dir() -> Path:
    return site_packages() / "torch"


def _sources() -> list[tuple[str, Path, list[str]]]:
    """(object name, source, extra flags) for every translation unit."""
    native = REPO / "aten_native" / "aten/src/ATen/native"
    units: list[tuple[str, Path, list[str]]] = []
    for name in ["RegisterCPUEverything", "RegisterMetaEverything",
                 "RegisterCompositeExplicitAutogradNonFunctionalEverything",
                 "RegisterFunctionalizationEverything", "OperatorsEverything", "RegisterSchema"]:
        units.append((f"aten_{name}", GEN / "ATen" / f"{name}.cpp", []))
    for name in ["VariableTypeEverything", "ADInplaceOrViewTypeEverything", "Functions",
                 "python_functionsEverything", "python_nn_functions"]:
        units.append((f"autograd_{name}", GEN / "autograd" / f"{name}.cpp", []))
    for cpp in sorted(native.glob("*.cpp")):
        units.append((f"native_{cpp.stem}", cpp, []))
    for cpp in sorted((native / "cpu").glob("*.cpp")):
        for cap, flags in CAPABILITIES.items():
            units.append((f"native_cpu_{cpp.stem}.{cap}", cpp,
                          [f"-DCPU_CAPABILITY={cap}", f"-DCPU_CAPABILITY_{cap}", *flags]))
    units.append(("aten_RegisterNestedTensorCPUEverything", GEN / "ATen/RegisterNestedTensorCPUEverything.cpp", []))
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


def include_dirs(torch_dir: Path) -> list[Path]:
    """The include path of the overlay's C++: generated and patched headers before the wheel's."""
    return [GEN / "include", GEN / "autograd", PATCHED / "aten/src", PATCHED, PATCHED / "torch/csrc/api/include",
            REPO / "aten_native/aten/src",
            torch_dir / "include", torch_dir / "include/torch/csrc/api/include",
            torch_dir.parent / "nlohmann_json/include", Path(sysconfig.get_paths()["include"])]


def write_ninja(out_so: Path) -> int:
    torch_dir = _torch_dir()
    include = include_dirs(torch_dir)
    cflags = ["-std=c++20", "-fPIC", "-O2", "-g0", "-D_GLIBCXX_USE_CXX11_ABI=1",
              "-DAT_PER_OPERATOR_HEADERS",
              # the wheel's DispatchStub layout
              "-DHAVE_AVX512_CPU_DEFINITION", "-DHAVE_AVX2_CPU_DEFINITION",
              "-DTORCH_EXTENSION_NAME=_C", "-Wno-deprecated-declarations",
              "-fvisibility=hidden", "-Wno-psabi", *[f"-I{p}" for p in include]]
    lib = torch_dir / "lib"
    native_so = out_so.with_name(NATIVE_LIB)
    native_ldflags = ["-shared", f"-Wl,-soname,{NATIVE_LIB}", "-Wl,--no-undefined", f"-L{lib}", f"-Wl,-rpath,{lib}",
                      "-ltorch_cpu", "-ltorch", "-lc10"]
    # ($$ is ninja's escape of $: the extension finds the native library next to it.)
    ldflags = ["-shared", f"-L{out_so.parent}", "-Wl,-rpath,$$ORIGIN", f"-L{lib}", f"-Wl,-rpath,{lib}",
               f"-l:{NATIVE_LIB}", "-ltorch_python", "-ltorch_cpu", "-ltorch", "-lc10"]
    units = _sources()
    lines = [
        "ninja_required_version = 1.3",
        f"cflags = {shlex.join(cflags)}",
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
        obj = OVL / "obj" / f"{name}.o"
        objs[name in PYTHON_UNITS].append(str(obj))
        lines += [f"build {obj}: cxx {src}", f"  extra = {shlex.join(extra)}",
                  f"  in_short = {src.name} {' '.join(e for e in extra if e.startswith('-DCPU_CAPABILITY='))}"]
    lines += [f"build {native_so}: link {' '.join(objs[False])}", f"  ldflags = {shlex.join(native_ldflags)}",
              f"  out_short = {native_so.name}",
              f"build {out_so}: link {' '.join(objs[True])} | {native_so}", f"  out_short = {out_so.name}", ""]
    text = "\n".join(lines)
    ninja_file = OVL / "build.ninja"
    if not ninja_file.is_file() or ninja_file.read_text() != text:
        ninja_file.write_text(text)
    return len(units)


def ensure_compiled() -> Path:
    pkg = site_packages() / "lelu_overlay"
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    out_so = pkg / f"_C{suffix}"
    n = write_ninja(out_so)
    ninja = shutil.which("ninja", path=str(VENV / "bin")) or shutil.which("ninja")
    if ninja is None:
        raise OverlayError("ninja not found (it is in tools/requirements-overlay.txt)")
    dry = subprocess.run([ninja, "-C", str(OVL), "-n"], capture_output=True, text=True)
    if "no work to do" in dry.stdout:
        return out_so
    say(f"compiling {n} units and linking (ninja, {os.cpu_count()} jobs)")
    r = subprocess.run([ninja, "-C", str(OVL)])
    if r.returncode != 0:
        raise OverlayError("compilation failed (see the compiler output above)")
    return out_so


# ---------------------------------------------------------------- 6. load


def ensure_installed() -> None:
    sp = site_packages()
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


def ensure(force_codegen: bool = False) -> None:
    """Bring the overlay up to date; concurrent invocations wait for each other."""
    import fcntl

    BUILD.mkdir(exist_ok=True)
    with open(BUILD / "overlay.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another tools/lelu build of this overlay to finish")
            fcntl.flock(lock, fcntl.LOCK_EX)
        refresh_patches()
        ensure_venv()
        ensure_hunks()
        ensure_codegen(force_codegen)
        ensure_installed()
        ensure_compiled()


# ---------------------------------------------------------------- commands


def run_build(args: list[str]) -> int:
    ensure(force_codegen="--force" in args)
    say("ready: tools/lelu python -c 'import torch; print(torch.nn.functional.lelu)'")
    return 0


def _exec_py(args: list[str]) -> int:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "tools"), str(REPO / "test")]))
    return subprocess.run([str(PY), *args], env=env, cwd=REPO).returncode


def run_lint(args: list[str]) -> int:
    ensure_venv()  # the linters, not the build
    return _exec_py(["-m", "lelu_tools.lint", *args])


def run_python(args: list[str]) -> int:
    ensure()
    return _exec_py(args)


def run_demo(args: list[str]) -> int:
    ensure()
    return _exec_py(["-m", "lelu_tools.demo", *args])


def run_bench(args: list[str]) -> int:
    ensure()
    return _exec_py(["-m", "lelu_tools.bench", *args])


def run_accuracy(args: list[str]) -> int:
    ensure()
    return _exec_py(["-m", "lelu_tools.accuracy", *args])


def run_train(args: list[str]) -> int:
    ensure()
    return _exec_py(["-m", "lelu_tools.train", *args])


def run_test(args: list[str]) -> int:
    ensure()
    return _exec_py(["-m", "pytest", "test", *args])
