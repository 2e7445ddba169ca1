"""`tools/lelu bench --paths` on tiny inputs: the pieces run, the report renders, the targets are
checked right.  (Speed itself is checked by the benchmark tool, never by a timed test.)"""

from __future__ import annotations

import random

import torch

from lelu_tools import bench_paths


def report(step: dict[str, float], onnx: dict[str, float]) -> dict[str, object]:
    return {
        "machine": {"date": "2026-12-07", "cpu": "a CPU", "cpus": 2, "torch": torch.__version__},
        "command": "tools/lelu bench --paths", "rounds": 3, "threads": 2, "batch": 512, "width": 512,
        "hidden": 2048, "step": step,
        "onnx": {"seconds": onnx, "onnxruntime": "1.0",
                 "nodes": {"LELU": ["Mul", "Sigmoid", "Mul"], "SiLU": ["Sigmoid", "Mul"], "GELU": ["Gelu"]}},
        "export": {"LELU": ["aten.abs.default"], "SiLU": ["aten.sigmoid.default", "aten.mul.Tensor"],
                   "GELU": ["aten.gelu.default"]},
    }


STEP = {"LELU eager": 0.030, "LELU compiled": 0.0250, "SiLU eager": 0.030, "SiLU compiled": 0.024,
        "GELU eager": 0.031, "GELU compiled": 0.025}


def test_targets_and_render() -> None:
    good = report(STEP, {"LELU": 0.0019, "SiLU": 0.001, "GELU": 0.002})
    assert [ok for _, _, ok in bench_paths.check(good)] == [True, True]  # 1.04 and 1.9
    bad = report(dict(STEP, **{"LELU compiled": 0.0256}), {"LELU": 0.0021, "SiLU": 0.001, "GELU": 0.002})
    assert [ok for _, _, ok in bench_paths.check(bad)] == [False, False]
    markdown = bench_paths.render(bad)
    assert "| LELU | 30.00 ms | 25.60 ms | 1.067 | <= 1.05 | **no** |" in markdown
    assert "| LELU | Mul, Sigmoid, Mul | 2.100 ms | 2.10 | <= 2.0 | **no** |" in markdown
    assert "| SiLU | 2 | sigmoid.default, mul.Tensor |" in markdown


def test_one_training_step_runs() -> None:
    model = bench_paths.mlp("LELU", 8, 16)
    before = [p.detach().clone() for p in model.parameters()]
    peer = bench_paths.step_peer("LELU eager", model, torch.randn(4, 8), torch.randn(4, 8))
    peer.run(0)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_onnx_and_export_nodes() -> None:
    result = bench_paths.onnx_runs(rounds=1, sample_s=0.0001, rng=random.Random(0))
    assert result["nodes"]["LELU"] == ["Mul", "Sigmoid", "Mul"]
    assert set(result["seconds"]) == {"LELU", "SiLU", "GELU"}
    nodes = bench_paths.export_nodes()
    assert not any("lelu" in op for op in nodes["LELU"]) and "aten.expm1.default" in nodes["LELU"]
