"""Builds a C++ program against the overlay, as a user program would be built against a source
build: the wheel's headers behind the series' patched ones and the generated ATen headers, linked
to libtorch and the overlay's native library (test_cpp_frontend, test_upstream_tests)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from lelu_tools import overlay

COMPILE_SECONDS = 180  # a loaded 2-core machine takes about 35 s for a program including torch/torch.h


def build_program(source: Path, exe: Path, flags: Sequence[str] = (), libs: Sequence[str] = ()) -> Path:
    """Compile and link `source` into `exe`; `flags` go before the source, `libs` after it."""
    import lelu_overlay  # type: ignore[import-not-found, unused-ignore]

    # (not resolved: under `tools/lelu --torch` the package is a tree of links to another torch)
    torch_dir = Path(torch.__file__).absolute().parent
    native = Path(lelu_overlay.__file__).absolute().parent / overlay.NATIVE_LIB
    assert native.is_file(), f"{native} is missing: run `tools/lelu build`"
    compiler = shutil.which("c++")
    assert compiler is not None, "no C++ compiler (c++) on PATH"
    lib = torch_dir / "lib"
    cmd = [
        compiler, "-std=c++20", "-O0", "-g0", f"-D_GLIBCXX_USE_CXX11_ABI={int(torch._C._GLIBCXX_USE_CXX11_ABI)}",
        "-Wno-deprecated-declarations", *[f"-I{p}" for p in overlay.include_dirs(torch_dir)], *flags,
        str(source), "-o", str(exe), *libs,
        f"-L{native.parent}", f"-Wl,-rpath,{native.parent}", f"-l:{native.name}",
        f"-L{lib}", f"-Wl,-rpath,{lib}", "-ltorch", "-ltorch_cpu", "-lc10",
    ]
    start = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=COMPILE_SECONDS)
    assert done.returncode == 0, f"compiling {source.name} failed:\n{done.stderr[-6000:]}"
    print(f"compiled {source.name} in {time.monotonic() - start:.1f} s")
    return exe
