"""The pinned wheel: path mapping, the git_version check, and the real wheel with the real manifest."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from lelu_tools.anchors import find
from lelu_tools.common import REPO_ROOT, LeluError
from lelu_tools.manifest import load_series
from lelu_tools.pin import WheelPin, wheel_member, wheel_path
from lelu_tools.series import preimages

PIN = "cf30153c4c131c8164ee7798e5022d810682e2cb"


def test_wheel_members() -> None:
    assert [
        wheel_member(path)
        for path in (
            "aten/src/ATen/native/native_functions.yaml",
            "aten/src/ATen/native/tags.yaml",
            "tools/autograd/derivatives.yaml",
            "torch/csrc/autograd/FunctionsManual.h",
            "aten/src/ATen/native/cuda/Loops.cuh",
            "torch/nn/functional.py",
            "torch/csrc/autograd/FunctionsManual.cpp",
            "aten/src/ATen/native/Activation.cpp",
        )
    ] == [
        "torchgen/packaged/ATen/native/native_functions.yaml",
        "torchgen/packaged/ATen/native/tags.yaml",
        "torchgen/packaged/autograd/derivatives.yaml",
        "torch/include/torch/csrc/autograd/FunctionsManual.h",
        "torch/include/ATen/native/cuda/Loops.cuh",
        "torch/nn/functional.py",
        None,
        None,
    ]


def fake_wheel(tmp_path: Path, git_version: str) -> Path:
    wheel = tmp_path / "torch-2.13.0+cpu-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("torch/version.py", f"__version__ = '2.13.0+cpu'\ngit_version = '{git_version}'\n")
        zf.writestr("torchgen/packaged/autograd/derivatives.yaml", "- name: mish(Tensor self) -> Tensor\n")
    return wheel


def test_fake_wheel_texts(tmp_path: Path) -> None:
    wheel = fake_wheel(tmp_path, PIN)
    assert wheel_path("2.13.0", tmp_path) == wheel
    with WheelPin(wheel_path("2.13.0", tmp_path), PIN) as pin:
        assert pin.pinned_text("tools/autograd/derivatives.yaml") == "- name: mish(Tensor self) -> Tensor\n"
        assert pin.pinned_text("torch/nn/functional.py") is None
        assert pin.pinned_text("torch/csrc/autograd/FunctionsManual.cpp") is None


def test_wheel_of_another_commit(tmp_path: Path) -> None:
    wheel = fake_wheel(tmp_path, "0" * 40)
    with pytest.raises(LeluError) as caught:
        WheelPin(wheel, PIN)
    assert str(caught.value) == (
        f"the wheel {wheel.name} was built from {'0' * 40}, but series.toml pins {PIN}; "
        f"delete {wheel} and run the command again"
    )


def test_real_manifest_anchors_resolve_in_the_real_wheel() -> None:
    """Uses build/cache/wheel/ (fetched with pip if missing); fails, never skips, without it."""
    series = load_series(REPO_ROOT / "series.toml", check_files=False)
    with WheelPin(wheel_path(series.torch_version), series.pin) as pin:
        texts = preimages(series, pin)
    assert "torch/csrc/autograd/FunctionsManual.cpp" in series.upstreams
    for patch in series.patches:
        for ins in patch.inserts:
            find(ins.anchor, texts[ins.target], ins.target)
