"""Loads the LELU overlay into the stock torch.

Installed into the overlay's virtual environment by `tools/lelu`.  In a source build the new
operators exist as soon as libtorch is loaded, and torch's own Python modules rely on that at
import time (torch._refs registers the decomposition of aten.lelu while `import torch` runs).
So the extension is loaded right after torch._C: `lelu_overlay.pth` (run by `site` at
interpreter start) calls `install()`, which puts a finder on sys.meta_path that, once torch._C
has been imported, imports the extension; that registers the new aten operators.

A `torch.backends` entry point then calls `_autoload` at the end of `import torch` (skipped when
TORCH_DEVICE_BACKEND_AUTOLOAD=0), when torch._C is fully initialized: `init` adds the new
bindings to torch._C._nn and their grad_fn classes to torch._C._functions, and the new functions
are added to TorchScript's table of builtins.  It also imports the extension if the finder did
not.

Inductor's cache keys cover the code it generates, not the headers that code includes, and each
overlay build installs new ones (cpu/LeluVec.h, included by cpp_prefix.h): unless
TORCHINDUCTOR_CACHE_DIR is set, `install()` points Inductor at a cache directory of this set of
headers (`headers.sha256`, written by the build), so a kernel compiled against older headers is
never reused.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import tempfile
from collections.abc import Sequence
from types import ModuleType

_initialized = False


def _load() -> ModuleType:
    """Import the extension: its static initializers register the new aten operators."""
    try:
        return importlib.import_module(f"{__name__}._C")
    except ImportError as exc:
        raise ImportError(f"the LELU overlay cannot be loaded ({exc}); run `tools/lelu build`") from exc


class _AfterTorchC(importlib.abc.MetaPathFinder):
    """Finds torch._C as the path finder does, and loads the overlay right after it."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "torch._C":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_module_then_load(module: ModuleType) -> None:
            exec_module(module)
            _load()

        loader.exec_module = exec_module_then_load  # type: ignore[method-assign]
        return spec


def _key_inductor_cache() -> None:
    key_file = os.path.join(os.path.dirname(__file__), "headers.sha256")
    if "TORCHINDUCTOR_CACHE_DIR" in os.environ or not os.path.isfile(key_file):
        return
    with open(key_file) as f:
        key = f.read().strip()[:16]
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(
        tempfile.gettempdir(), f"torchinductor_lelu_{os.getuid()}_{key}"
    )


def install() -> None:
    """Load the overlay as soon as torch._C is imported (called by lelu_overlay.pth)."""
    _key_inductor_cache()
    if "torch._C" in sys.modules:
        _load()
    elif not any(isinstance(f, _AfterTorchC) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterTorchC())


def _autoload() -> None:
    global _initialized
    if _initialized:
        return
    extension = _load()
    import torch.jit._builtins

    extension.init()
    # TorchScript's table of builtins may already have been built from the stock
    # torch._C._nn; a source build has the new functions there from the start.
    for name in ("lelu", "lelu_"):
        torch.jit._builtins._register_builtin(getattr(torch._C._nn, name), f"aten::{name}")
    _initialized = True
