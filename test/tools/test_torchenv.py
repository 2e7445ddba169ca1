"""`tools/lelu --torch`: the pieces that need no second torch (the whole build on torch 2.11.0+cu130
was checked by hand, BUILD.md): the link tree, the pre-images of an installed torch, the probe and
the derived environment, which must leave the interpreter's own environment untouched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lelu_tools import torchenv


def _tree(root: Path) -> dict[str, tuple[float, int]]:
    """Every path below root with its mtime and size (what `nothing was written` compares)."""
    out: dict[str, tuple[float, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            out[os.path.relpath(os.path.join(dirpath, name), root)] = (st.st_mtime, st.st_size)
    return out


def test_link_tree_links_everything_but_the_patched_files(tmp_path: Path) -> None:
    src = tmp_path / "torch"
    (src / "nn/modules").mkdir(parents=True)
    (src / "lib").mkdir()
    (src / "__init__.py").write_text("init")
    (src / "nn/__init__.py").write_text("nn")
    (src / "nn/functional.py").write_text("old")
    (src / "nn/modules/activation.py").write_text("act")
    (src / "lib/libtorch.so").write_text("so")
    before = _tree(src)
    dest = tmp_path / "farm/torch"
    torchenv.link_tree(dest, src, {"nn/functional.py": "new", "_new/added.py": "added"})
    assert (dest / "nn/functional.py").read_text() == "new" and not (dest / "nn/functional.py").is_symlink()
    assert (dest / "_new/added.py").read_text() == "added"
    assert not (dest / "nn").is_symlink() and (dest / "nn").is_dir()
    for linked in ("__init__.py", "lib", "nn/__init__.py", "nn/modules"):
        assert (dest / linked).is_symlink(), linked
        assert (dest / linked).resolve() == (src / linked).resolve()
    # a directory linked whole: a library's $ORIGIN/.. is the original's parent
    assert (dest / "lib/libtorch.so").read_text() == "so"
    # rebuilt: the old tree goes, the source stays as it was
    torchenv.link_tree(dest, src, {"nn/modules/activation.py": "patched"})
    assert (dest / "nn/functional.py").is_symlink()
    assert (dest / "nn/modules/activation.py").read_text() == "patched"
    assert (src / "nn/modules/activation.py").read_text() == "act"
    assert _tree(src) == before


def test_installed_torch_reads_the_files_at_their_upstream_paths(tmp_path: Path) -> None:
    torch_dir, gen_dir = tmp_path / "torch", tmp_path / "torchgen"
    (torch_dir / "nn").mkdir(parents=True)
    (torch_dir / "include/ATen/native").mkdir(parents=True)
    (gen_dir / "packaged/ATen/native").mkdir(parents=True)
    (gen_dir / "packaged/autograd").mkdir(parents=True)
    (torch_dir / "nn/functional.py").write_text("functional")
    (torch_dir / "include/ATen/native/Activation.h").write_text("header")
    (gen_dir / "packaged/ATen/native/native_functions.yaml").write_text("yaml")
    (gen_dir / "packaged/autograd/derivatives.yaml").write_text("derivatives")
    info = torchenv.TorchInfo(exe="py", python="3.12", include="", ext_suffix=".so", site_dirs=(),
                              torch_dir=torch_dir, torchgen_dir=gen_dir, version="2.11.0", git_version="0" * 40,
                              cuda=None, abi=1, arch_flags=())
    source = torchenv.InstalledTorch(info)
    assert source.pinned_text("torch/nn/functional.py") == "functional"
    assert source.pinned_text("aten/src/ATen/native/Activation.h") == "header"
    assert source.pinned_text("aten/src/ATen/native/native_functions.yaml") == "yaml"
    assert source.pinned_text("tools/autograd/derivatives.yaml") == "derivatives"
    assert source.pinned_text("torch/nn/missing.py") is None
    assert source.pinned_text("aten/src/ATen/native/Activation.cpp") is None  # not shipped


def test_probe_names_this_torch_and_its_site_directories() -> None:
    info = torchenv.probe(Path(sys.executable), import_torch=False)
    import torch

    assert info.version == torch.__version__ and info.release in torchenv.SUPPORTED
    assert info.torch_dir == Path(torch.__file__).absolute().parent  # (under --torch: the tree of links)
    assert info.python == "{}.{}".format(*sys.version_info[:2])
    assert not any(Path(d).name in ("lib-dynload",) or d.endswith(".zip") for d in info.site_dirs)
    import sysconfig

    assert sysconfig.get_paths()["purelib"] in info.site_dirs


def test_derived_venv_sees_the_packages_and_writes_nothing_there(tmp_path: Path) -> None:
    """A venv derived from this interpreter (which has every requirement: no pip install) imports
    its packages; importing a module whose bytecode is missing writes no .pyc into the original."""
    base_site = tmp_path / "base_site"
    (base_site / "lelu_probe_pkg").mkdir(parents=True)
    (base_site / "lelu_probe_pkg/__init__.py").write_text("VALUE = 42\n")
    info = torchenv.probe(Path(sys.executable), import_torch=False)
    info = torchenv.TorchInfo(**{**info.__dict__, "site_dirs": (*info.site_dirs, str(base_site))})
    before = _tree(base_site)
    said: list[str] = []
    venv = tmp_path / "venv"
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("pytest==0.0.0  # installed (any version counts)\n")
    torchenv.derive_venv(venv, info, requirements, None, said.append)
    assert not any("installing" in s for s in said), said
    done = subprocess.run([str(venv / "bin/python"), "-c", "import lelu_probe_pkg, sys; "
                           "print(lelu_probe_pkg.VALUE, sys.dont_write_bytecode, sys.prefix)"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    value, no_bytecode, prefix = done.stdout.split()
    assert (value, no_bytecode, Path(prefix)) == ("42", "True", venv)
    assert _tree(base_site) == before


@pytest.mark.parametrize(("version", "ok"), [("2.10.0", False), ("2.11.0+cu130", True), ("2.13.0+cpu", True),
                                             ("2.14.0", False)])
def test_supported_releases(version: str, ok: bool) -> None:
    info = torchenv.TorchInfo(exe="py", python="3.12", include="", ext_suffix=".so", site_dirs=(),
                              torch_dir=Path("t"), torchgen_dir=Path("g"), version=version, git_version="",
                              cuda=None, abi=1, arch_flags=())
    if ok:
        assert torchenv.check_supported(info) is info
    else:
        with pytest.raises(torchenv.TorchEnvError, match="the overlay supports torch 2.11, 2.12, 2.13"):
            torchenv.check_supported(info)
