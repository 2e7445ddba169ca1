"""`tools/lelu gpu-check` without a GPU: the dry run, the stop without one, and the rendering of
its reports into BENCHMARKS.md / ACCURACY.md sections (from made-up reports: nothing here is
published)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lelu_tools import gpu_bench, gpu_check


def _no_subprocess(*args: object, **kwargs: object) -> None:
    raise AssertionError(f"ran {args}")


def test_dry_run_prints_every_step_and_runs_none(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    monkeypatch.setattr(subprocess, "run", _no_subprocess)
    assert gpu_check.run("/opt/torch/.venv/bin/python3", tmp_path / "out", quick=False, dry_run=True) == 0
    out = capsys.readouterr().out
    for step in ("build", "demo", "tests", "opinfo", "bench"):
        assert f"\n{step} " in out, step
    assert "--torch /opt/torch/.venv/bin/python3 build" in out
    assert "TORCH_CUDA_ARCH_LIST=" in out
    assert "test/test_cuda.py" in out and "test/test_opinfo.py -k cuda" in out
    assert "-m lelu_tools.gpu_bench --out" in out
    assert "bench --render" in out and "accuracy --render" in out
    assert not (tmp_path / "out").exists()


def _fake_python(tmp_path: Path, probe: dict[str, Any]) -> str:
    exe = tmp_path / "python"
    exe.write_text(f"#!/bin/sh\necho '{json.dumps(probe)}'\n")
    exe.chmod(0o755)
    return str(exe)


@pytest.mark.parametrize(
    ("probe", "message"),
    [
        ({"torch": "2.11.0+cu130", "cuda": "13.0", "gpu": False, "name": None, "capability": None},
         "torch 2.11.0+cu130 (CUDA 13.0) of {py} sees no GPU (torch.cuda.is_available() is False)"),
        ({"torch": "2.13.0+cpu", "cuda": None, "gpu": False, "name": None, "capability": None},
         "{py} has torch 2.13.0+cpu, a CPU-only build"),
    ],
)
def test_without_a_gpu_it_stops_before_building(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                probe: dict[str, Any], message: str) -> None:
    py = _fake_python(tmp_path, probe)
    assert gpu_check.run(py, tmp_path / "out", quick=True, dry_run=False) == 2
    assert message.format(py=py) in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_with_this_torch_and_no_gpu_it_stops(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: gpu-check would run the whole check")
    assert gpu_check.run(sys.executable, tmp_path / "out", quick=True, dry_run=False) == 2
    expected = "a CPU-only build" if torch.version.cuda is None else "sees no GPU"
    assert f"torch {torch.__version__}" in (err := capsys.readouterr().err) and expected in err


ENV = {"device": "NVIDIA H200", "capability": "9.0", "memory_gib": 139.8, "torch": "2.11.0+cu130",
       "torch_git": "70d99e998b4955e0049d13a98d77ae1b14db1f45", "cuda": "13.0", "python": "3.12.3",
       "when": "2026-12-02 12:00 UTC"}


def _bench_rows(
    lelu_ms: float, silu_ms: float, copy_ms: float, compiled_ms: float | None = None
) -> list[dict[str, Any]]:
    """Rows of every variant; compiled F.lelu takes compiled_ms (default: lelu_ms), compiled F.silu silu_ms."""
    compiled_lelu_ms = lelu_ms if compiled_ms is None else compiled_ms
    rows = []
    for dtype in ("float32", "bfloat16"):
        for direction in gpu_bench.DIRECTIONS:
            for variant, ms in (("F.lelu", lelu_ms), ("F.silu", silu_ms), ("x*sigmoid(kx)", 3 * silu_ms),
                                ("compiled x*sigmoid(kx)", silu_ms), ("compiled F.lelu", compiled_lelu_ms),
                                ("compiled F.silu", silu_ms)):
                scale = 2.5 if direction == "forward+backward" else 1.0
                rows.append({"dtype": dtype, "log2n": 26, "direction": direction, "variant": variant,
                             "ms": ms * scale, "copy_ms": copy_ms,
                             "copy_fraction": gpu_bench.MOVED[direction] / 2 * copy_ms / (ms * scale)})
    return rows


def test_targets_are_checked_from_the_rows() -> None:
    met = gpu_bench.check_targets(_bench_rows(lelu_ms=1.0, silu_ms=1.0, copy_ms=0.9))
    assert [ok for ok, _ in met] == [True] * 6
    assert "F.lelu forward float32 2^26 at >= 85% of copy bandwidth: 90.0%" in met[0][1]
    missed = gpu_bench.check_targets(_bench_rows(lelu_ms=1.2, silu_ms=1.0, copy_ms=0.9))
    assert [ok for ok, _ in missed] == [False] * 6
    assert "worst 1.200x" in missed[2][1]
    assert "compiled F.lelu forward+backward <= 1.15x compiled F.silu's time" in missed[5][1]


def test_render_and_publish_sections(tmp_path: Path) -> None:
    report = {"kind": gpu_bench.BENCH_KIND, "command": "tools/lelu gpu-check", "environment": ENV, "rounds": 5,
              "rows": _bench_rows(1.0, 1.0, 0.9, compiled_ms=1.2)}
    text = gpu_bench.render_bench(report)
    assert "NVIDIA H200 (sm_90, 139.8 GiB), torch 2.11.0+cu130" in text
    assert ("| float32 | 2^26 | 0.9000 | 1.0000 (90%) | 1.0000 (90%) | 3.0000 (30%) | 1.0000 (90%) | 1.2000 (75%) "
            "| 1.0000 (90%) | 1.000 |") in text
    # compiled F.lelu (Triton) against compiled F.silu: 1.2 > 1.15
    assert ("- NOT MET: compiled F.lelu forward <= 1.15x compiled F.silu's time (float32, bfloat16): "
            "worst 1.200x") in text
    assert "- met: F.lelu forward <= 1.05x F.silu's time" in text
    document = tmp_path / "BENCHMARKS.md"
    document.write_text("# LELU benchmarks\n\nCPU tables\n")
    gpu_bench.SECTION.publish(document, text)
    gpu_bench.SECTION.publish(document, text)  # replaced, not added twice
    written = document.read_text()
    assert written.count(gpu_bench.SECTION.begin) == 1 and written.startswith("# LELU benchmarks\n\nCPU tables\n")
    assert gpu_bench.SECTION.kept(document).strip() == written.split("CPU tables\n", 1)[1].strip()
    accuracy = {"kind": gpu_bench.ACCURACY_KIND, "command": "tools/lelu gpu-check", "environment": ENV,
                "rows": [{"dtype": "float32", "grid": "g", "points": 3, "forward_max_ulp": 2.5,
                          "forward_worst_x": -1.5, "backward_max_ulp": 3.25, "backward_worst_x": 2.0,
                          "forward_differ_from_cpu": 0, "backward_differ_from_cpu": 1}]}
    assert "| float32 | g | 2.5 (-1.5) | 3.25 (2) | 0 / 1 |" in gpu_bench.render_accuracy(accuracy)
    with pytest.raises(ValueError):
        gpu_bench.render_accuracy(report)
    saved = tmp_path / "gpu-bench.json"
    saved.write_text(json.dumps(report))
    assert gpu_bench.is_gpu_report(saved) and not gpu_bench.is_gpu_report(document)
    assert gpu_bench.render_file(saved, tmp_path / "out", None) == 0
    assert (tmp_path / "out/gpu-bench.md").read_text() == text
