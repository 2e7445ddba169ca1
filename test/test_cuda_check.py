"""`tools/lelu cuda-check`: the CUDA kernel compiles with nvcc, and a broken one does not.

Each test runs nvcc on the whole kernel file (about a minute); nvcc is part of this machine's
toolkit, so a missing nvcc fails these tests rather than skipping them.  The second compile of the
check (the --fmad=false comparison) is left to `tools/lelu cuda-check` in .ci/run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lelu_tools import cli
from lelu_tools.cuda_check import ARCHS, DTYPES, KERNEL, OPS, check
from lelu_tools.overlay import pinned_torch_include

LAMBDA_LINE = "return lelu::lelu_forward<lelu::LeluScalarOps<opmath_t>>("


def test_kernel_compiles_with_code_for_both_architectures(tmp_path: Path) -> None:
    report = check(pinned_torch_include(), KERNEL, tmp_path / "out", fmad_check=False)
    assert report.archs == [80, 90] == list(ARCHS)
    for arch in ARCHS:
        table = report.tables[arch]
        # every gpu_kernel path (vectorized, unrolled, casting) of both ops for every dtype
        assert {(op, dtype) for op in OPS for dtype in DTYPES} == set(table), table
        assert all(count >= 2 for count in table.values()), table
    assert (tmp_path / "out/include/c10/cuda/impl/cuda_cmake_macros.h").is_file()


def test_type_error_in_the_kernel_fails_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A copy of the kernel whose forward lambda returns a pointer: nvcc must reject it."""
    text = KERNEL.read_text()
    assert text.count(LAMBDA_LINE) == 1
    broken = tmp_path / "LeluKernel.cu"
    broken.write_text(text.replace(LAMBDA_LINE, 'return "not a number"; ' + LAMBDA_LINE))
    code = cli.main(["cuda-check", "--source", str(broken), "--out", str(tmp_path / "out"), "--no-fmad-check"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: nvcc failed on ") and str(broken) in err, err[:2000]
    assert "error" in err.split("\n", 1)[1] and "LeluKernel.cu" in err.split("\n", 1)[1], err[:2000]
    assert not (tmp_path / "out/LeluKernel.o").exists()
