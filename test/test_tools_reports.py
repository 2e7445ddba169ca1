"""`tools/lelu bench` and `tools/lelu accuracy` on tiny inputs: the reports' format, every peer
present, the targets and the special-values table computed right.  (Speed itself is checked by
the benchmark tool, never by a timed test.)"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from lelu_tools import accuracy, bench, bench_paths

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FORWARD_PEERS = [
    "F.lelu", "F.silu", "F.gelu", "F.gelu(tanh)", "F.mish", "F.relu", "x*sigmoid(kx)", "F.silu(kx)/k",
    "compile(x*sigmoid(kx))", "compile(F.lelu)", "compile(F.silu)", "compile(F.gelu)",
    "LELU(inplace=True)", "lelu(x, out=y)", "clone", "add(x, 1, out=y)",
]
BACKWARD_PEERS = FORWARD_PEERS[:12]


@pytest.fixture(scope="module")
def bench_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench")
    args = ["--dtypes", "float32", "--sizes", "12", "--layouts", "contiguous", "stride2", "--threads", "1",
            "--rounds", "2", "--sample-ms", "0.2", "--compile-backend", "eager", "--out", str(out)]
    assert bench.main(args) == 0
    return out


def table(markdown: str, title: str) -> list[str]:
    """The rows of the table under a `### title` heading."""
    section = markdown.split(f"### {title}\n", 1)[1].split("\n### ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ")]


def test_bench_report_has_every_peer(bench_report: Path) -> None:
    markdown = (bench_report / "report.md").read_text()
    for title, peers in (("float32, fwd, contiguous, 1 thread", FORWARD_PEERS),
                         ("float32, fwd+bwd, contiguous, 1 thread", BACKWARD_PEERS),
                         ("float32, fwd, stride2, 1 thread", FORWARD_PEERS)):
        rows = table(markdown, title)
        assert rows[0] == "| peer | 2^12 |"
        names = [row.split(" | ")[0].removeprefix("| ").strip("*") for row in rows[1:]]
        assert names == peers, title
        for row in rows[1:]:
            # "12.34 us (time / F.silu's / time / the composite's)"
            assert re.fullmatch(r"\| .+ \| [\d.]+ (us|ms) \(\d+\.\d\d / \d+\.\d\d\) \|", row), row
    silu_row = next(r for r in table(markdown, "float32, fwd, contiguous, 1 thread") if r.startswith("| F.silu |"))
    assert "(1.00 / " in silu_row
    assert "## Targets" in markdown and "Machine load" in markdown


def test_bench_results_json_and_plots(bench_report: Path) -> None:
    report = json.loads((bench_report / "results.json").read_text())
    assert report["machine"]["torch"] == torch.__version__
    assert len(report["results"]) == 4  # 2 layouts x 2 directions
    for result in report["results"]:
        assert all(t > 0 for t in result["median_s"].values())
    assert report["compile_s"], "the first call of the compiled composite compiles"
    images = [Path(p) for p in report["images"]]
    assert [p.name for p in images] == ["throughput_float32.png"]
    assert images[0].read_bytes()[:8] == PNG_MAGIC


def test_bench_render_reproduces_the_report(bench_report: Path, tmp_path: Path) -> None:
    """--render writes the same report from the saved results, measuring nothing."""
    assert bench.main(["--render", str(bench_report / "results.json"), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "report.md").read_text() == (bench_report / "report.md").read_text()
    assert bench.main(["--render", str(tmp_path / "missing.json"), "--out", str(tmp_path)]) == 1


def synthetic_result(dtype: str, size: int, layout: str, direction: str, times: dict[str, float]) -> dict[str, object]:
    cfg = bench.Config(dtype, size, layout, 1, direction)
    return {"config": cfg.__dict__, "median_s": times, "spread": {}, "loadavg_before": 0.0,
            "loadavg_after": 0.0, "others_cpu_share": 0.0}


def test_targets_are_checked() -> None:
    base = {"F.lelu": 1.0, "F.silu": 1.0, "x*sigmoid(kx)": 3.0, "compile(x*sigmoid(kx))": 1.5,
            "lelu(x, out=y)": 1.0, "add(x, 1, out=y)": 0.9}
    slow = dict(base, **{"F.lelu": 1.2})
    results = [
        synthetic_result("float32", 1 << 20, "contiguous", "fwd", base),
        synthetic_result("float64", 1 << 20, "contiguous", "fwd", slow),
        synthetic_result("float32", 1 << 24, "contiguous", "fwd", base),
        synthetic_result("float32", 1 << 20, "stride2", "fwd", dict(base, **{"F.lelu": 3.0})),
    ]
    silu = next(c for c in bench.check_targets(results) if "F.silu time" in c.what)
    assert not silu.ok and silu.failures == ["float64 fwd 2^20 1t: 1.20"]
    assert silu.why.endswith("The misses are by 1.20x.")
    composite = next(c for c in bench.check_targets(results) if c.what.startswith("composite"))
    assert composite.ok and composite.worst == "2.50 (float64 fwd 2^20 1t)"  # 3.0 / 1.2: just met
    compiled = next(c for c in bench.check_targets(results) if c.what.startswith("compiled"))
    assert not compiled.ok  # 1.5 / 1.2 = 1.25 < 1.3
    # the compiled composite takes 1.5x F.silu's time: F.lelu would need 1.15x; it takes 1.20x
    assert "F.lelu at 1.15x F.silu's time; F.lelu takes 1.20x there" in compiled.why
    out = next(c for c in bench.check_targets(results) if "out=" in c.what)
    assert out.ok and out.worst.startswith("0.90")
    stride = next(c for c in bench.check_targets(results) if c.what.startswith("stride-2"))
    assert not stride.ok and stride.failures == ["float32 fwd 2^20 1t: 3.00"]


def test_compiled_activation_target_is_checked() -> None:
    """compile(F.lelu) / compile(F.silu) <= 1.15 for float32 and bfloat16 from 2^16 on."""
    times = {"F.lelu": 1.0, "F.silu": 1.0, "compile(F.lelu)": 1.1, "compile(F.silu)": 1.0, "compile(F.gelu)": 1.3}
    results = [
        synthetic_result("float32", 1 << 20, "contiguous", "fwd", times),
        synthetic_result("bfloat16", 1 << 16, "contiguous", "fwd+bwd", dict(times, **{"compile(F.lelu)": 1.2})),
        synthetic_result("float32", 1 << 12, "contiguous", "fwd", dict(times, **{"compile(F.lelu)": 5.0})),
    ]
    check = next(c for c in bench.check_targets(results) if c.what.startswith("compiled F.lelu"))
    assert not check.ok and check.failures == ["bfloat16 fwd+bwd 2^16 1t: 1.20"]  # 2^12 has no target
    assert check.worst == "1.20 (bfloat16 fwd+bwd 2^16 1t)"


def test_accuracy_special_values_match_the_limits(tmp_path: Path) -> None:
    assert accuracy.main(["--only-special", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "results.json").read_text())
    rows = {(r["dtype"], r["x"]): r for r in report["special_values"]}
    assert len(report["special_values"]) == 4 * len(accuracy.SPECIAL_X)
    neg_inf = rows[("float32", -math.inf)]
    assert neg_inf["lelu"] == 0.0 and math.copysign(1, neg_inf["lelu"]) == -1 and neg_inf["dlelu"] == 0.0
    assert rows[("float32", math.inf)]["lelu"] == math.inf and rows[("float32", math.inf)]["dlelu"] == 1.0
    assert rows[("float64", -100.0)]["lelu_limit"] == pytest.approx(-1.8630e-77, rel=1e-3)
    assert rows[("float32", -100.0)]["lelu_limit"] == 0.0 and math.copysign(1, rows[("float32", -100.0)]["lelu"]) == -1
    assert all(r["ok"] for r in report["special_values"])
    markdown = (tmp_path / "report.md").read_text()
    assert "| float32 | -inf | -0.0 | -0.0 | " in markdown


def test_accuracy_limits_catch_a_wrong_value() -> None:
    """The comparison the table relies on fails on a wrong value or sign."""
    assert accuracy._same(1.0, 1.0, torch.float32, 3.0)
    assert not accuracy._same(1.0 + 2**-20, 1.0, torch.float32, 3.0)
    assert not accuracy._same(math.nan, 1.0, torch.float32, 3.0)
    assert accuracy.limit("lelu", -math.inf, torch.float32) == 0.0
    assert math.copysign(1, accuracy.limit("lelu", -math.inf, torch.float32)) == -1


def test_accuracy_measures_kernel_and_peers(tmp_path: Path) -> None:
    x = np.linspace(-60, -40, 2001, dtype=np.float32).astype(np.float64)
    native, _ = accuracy.measure("F.lelu", "band", torch.float32, x)
    naive, _ = accuracy.measure("x*sigmoid(kx)", "band", torch.float32, x)
    assert native.ok and native.max_ulp <= 3
    assert naive.ok is None and naive.max_ulp > 3  # the issue's formula loses the tail
    assert accuracy.main(["--quick", "--functions", "F.lelu", "lelu_backward", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "accuracy.png").read_bytes()[:8] == PNG_MAGIC
    markdown = (tmp_path / "report.md").read_text()
    assert "| F.lelu | float32 grid [-20, 20] |" in markdown and "| lelu_backward | bfloat16 every value |" in markdown


def test_accuracy_measures_the_compiled_path_against_the_kernels_bounds() -> None:
    x = np.linspace(-3, 3, 101, dtype=np.float32).astype(np.float64)
    stats, err = accuracy.measure("compiled F.lelu", "tiny grid", torch.float32, x)
    assert stats.bound == accuracy.FORWARD_MAX_ULP and stats.ok is not None
    assert err.shape == x.shape and stats.max_ulp < 10
    stats, _ = accuracy.measure("compiled lelu_backward", "tiny grid", torch.float64, x)
    assert stats.bound == accuracy.BACKWARD_MAX_ULP



def test_accuracy_measures_the_exported_path_against_issue_17s_bounds() -> None:
    x = np.linspace(-60, 20, 2001, dtype=np.float32).astype(np.float64)
    forward, _ = accuracy.measure("exported F.lelu", "tiny grid", torch.float32, x)
    assert forward.bound == 4.0 and forward.ok and forward.max_ulp > 0
    backward, _ = accuracy.measure("exported lelu_backward", "tiny grid", torch.bfloat16,
                                   torch.from_numpy(x).bfloat16().double().numpy())
    assert backward.bound == 0.51 and backward.ok
    onnx, _ = accuracy.measure("ONNX F.lelu (onnxruntime)", "tiny grid", torch.float32, x)
    assert onnx.bound is None and onnx.ok is None and onnx.max_ulp > 4  # saturated Sigmoid in the tail


def test_paths_saved_for_backward_table_and_target() -> None:
    """`bench --paths`: the bytes each compiled forward keeps for the backward (LELU and SiLU: the
    input alone), their table and the target, which a mask saved by LELU would fail."""
    saved = bench_paths.saved_for_backward(dtypes=("float32",), size=64)
    assert saved["float32"]["LELU"] == saved["float32"]["SiLU"] == 4
    report = {
        "machine": {"date": "today", "cpu": "cpu", "cpus": 2, "torch": torch.__version__},
        "command": "tools/lelu bench --paths", "rounds": 1, "threads": 1, "batch": 1, "width": 1, "hidden": 1,
        "step": {f"{act} {mode}": 1.0 for act in bench_paths.ACTIVATIONS for mode in ("eager", "compiled")},
        "onnx": {"seconds": dict.fromkeys(bench_paths.ACTIVATIONS, 1.0),
                 "nodes": dict.fromkeys(bench_paths.ACTIVATIONS, ["Op"]), "onnxruntime": "0"},
        "export": {}, "saved": {"float32": saved["float32"], "bfloat16": {"LELU": 3.0, "SiLU": 2.0, "GELU": 2.0}},
    }
    markdown = bench_paths.render(report)
    assert "| LELU | 4 | 3 | <= SiLU | **no** |" in markdown
    assert "| SiLU | 4 | 2 |  |  |" in markdown
    what, ratio, ok = bench_paths.check(report)[-1]
    assert "saved bytes" in what and ratio == 1.5 and not ok
    report["saved"]["bfloat16"]["LELU"] = 2.0
    assert bench_paths.check(report)[-1][1:] == (1.0, True)
    del report["saved"]
    assert "saves for the backward" not in bench_paths.render(report) and len(bench_paths.check(report)) == 2
