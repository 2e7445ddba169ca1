"""The GPU measurements of `tools/lelu gpu-check`, and their sections of BENCHMARKS.md and ACCURACY.md.

`python -m lelu_tools.gpu_bench --out DIR` runs in the overlay on a CUDA machine and writes
DIR/gpu-bench.json and DIR/gpu-accuracy.json:

* speed: F.lelu next to F.silu, the composite `x * sigmoid(k x)` and `torch.compile` of it, and
  torch.compile of F.lelu and of F.silu (Inductor's Triton kernels: F.lelu's runs
  triton_helpers.lelu) (dynamic shapes: one compile per dtype and direction), forward and forward+backward, float32,
  bfloat16, float16 and float64, 2^20 to 2^28 elements; timed with CUDA events (the median of
  `rounds` rounds of back-to-back calls, each round at least `sample_ms`); each time also as a
  fraction of a device-to-device copy (`Tensor.copy_`) of the same bytes: forward moves 2n
  elements (read x, write y), forward+backward at least 5n (x, y; grad, x, grad_input).
* accuracy: the ULP error of the CUDA F.lelu and lelu_backward against the float64 reference
  (float32, and every finite bfloat16 and float16) and mpmath's double-double (float64), and
  how many results differ from the CPU kernel's bits, for the CUDA kernel and for compiled F.lelu
  (Triton, forward and backward).

`render_bench` / `render_accuracy` turn those files into markdown (`tools/lelu bench --render
FILE` and `tools/lelu accuracy --render FILE` call them; with --publish they replace the GPU
section of BENCHMARKS.md / ACCURACY.md).  Rendering needs no GPU.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lelu_tools.reports import Section

BENCH_KIND = "lelu-gpu-bench"
ACCURACY_KIND = "lelu-gpu-accuracy"
DTYPES = ("float32", "bfloat16", "float16", "float64")
SIZES = (20, 22, 24, 26, 28)
VARIANTS = ("F.lelu", "F.silu", "x*sigmoid(kx)", "compiled x*sigmoid(kx)", "compiled F.lelu", "compiled F.silu")
DIRECTIONS = ("forward", "forward+backward")
# Elements moved per element, at the least: forward reads x and writes y; forward+backward also
# reads grad_output and x and writes grad_input.
MOVED = {"forward": 2, "forward+backward": 5}
K = math.pi / math.sqrt(3)
SECTION = Section("gpu", "## On a GPU (`tools/lelu gpu-check`)")
# Targets of issue 13 on an H200.
TARGET_COPY_FRACTION = 0.85  # F.lelu forward, 2^26 float32 and bfloat16
TARGET_FORWARD_VS_SILU = 1.05
TARGET_BACKWARD_VS_SILU = 1.10
# issue 17: compiled F.lelu (Triton) against compiled F.silu
TARGET_COMPILED_VS_SILU = 1.15


# ---------------------------------------------------------------- measuring (on a GPU)


def _time_ms(fn: Callable[[], object], rounds: int, sample_ms: float) -> float:
    """The median time of one call of `fn`, from CUDA events around back-to-back calls."""
    import torch

    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    end.synchronize()
    reps = max(1, min(1000, int(sample_ms / max(start.elapsed_time(end), 1e-3))))
    times = []
    for _ in range(rounds):
        start.record()
        for _ in range(reps):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / reps)
    return float(statistics.median(times))


def bench(dtypes: Sequence[str], sizes: Sequence[int], rounds: int, sample_ms: float) -> list[dict[str, Any]]:
    import torch
    import torch.nn.functional as F

    def composite(x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(K * x)

    compiled = torch.compile(composite, dynamic=True)
    functions: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "F.lelu": F.lelu,  # type: ignore[attr-defined, unused-ignore]
        "F.silu": F.silu, "x*sigmoid(kx)": composite, "compiled x*sigmoid(kx)": compiled,
        "compiled F.lelu": torch.compile(lambda x: F.lelu(x), dynamic=True),  # type: ignore[attr-defined, unused-ignore]
        "compiled F.silu": torch.compile(lambda x: F.silu(x), dynamic=True),
    }
    rows: list[dict[str, Any]] = []
    for name in dtypes:
        for log2n in sizes:
            rows += _bench_one(functions, name, log2n, rounds, sample_ms)
            torch.cuda.empty_cache()
    return rows


def _bench_one(functions: dict[str, Callable[[Any], Any]], name: str, log2n: int, rounds: int,
               sample_ms: float) -> list[dict[str, Any]]:
    """Every variant and direction at one dtype and size, next to a copy of the same tensor."""
    import torch

    x = torch.randn(1 << log2n, device="cuda", dtype=getattr(torch, name))
    dst = torch.empty_like(x)
    copy_ms = _time_ms(lambda: dst.copy_(x), rounds, sample_ms)
    xg = x.detach().requires_grad_(True)
    g = torch.randn_like(x)
    rows: list[dict[str, Any]] = []
    for direction in DIRECTIONS:
        for variant, f in functions.items():
            if direction == "forward":
                def call(f: Callable[[Any], Any] = f) -> object:
                    return f(x)
            else:
                def call(f: Callable[[Any], Any] = f) -> object:
                    return torch.autograd.grad(f(xg), xg, g)
            ms = _time_ms(call, rounds, sample_ms)
            fraction = MOVED[direction] / 2 * copy_ms / ms
            rows.append({"dtype": name, "log2n": log2n, "direction": direction, "variant": variant,
                         "ms": ms, "copy_ms": copy_ms, "copy_fraction": fraction})
            print(f"[gpu-bench] {name:<9} 2^{log2n} {direction:<16} {variant:<24} {ms:9.4f} ms "
                  f"({fraction:.0%} of copy)", flush=True)
    return rows


def accuracy() -> dict[str, Any]:
    """Max ULP errors of the CUDA kernels and their differences from the CPU kernel's bits."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from lelu_reference import (
        X0,
        all_finite_values,
        dd_reference,
        f64_dlelu,
        f64_lelu,
        float32_range,
        random_every_exponent,
        ulp_error,
    )

    rows: list[dict[str, Any]] = []
    for name in DTYPES:
        dtype = getattr(torch, name)
        if name in ("bfloat16", "float16"):
            x = all_finite_values(dtype).double().numpy()
            grid = f"every finite {name}"
        elif name == "float32":
            x = np.concatenate([float32_range(-20.0, -1e-30, 257), float32_range(0.0, 20.0, 257)]).astype(np.float64)
            grid = f"{x.size} float32 values of [-20, 20]"
        else:
            x = np.concatenate([np.linspace(-20, 20, 100_001), random_every_exponent(torch.float64, 4, 3)])
            grid = f"{x.size} float64 values ([-20, 20] and every binade)"
        xt = torch.from_numpy(x).to(dtype)
        xc = xt.cuda()
        y = F.lelu(xc)  # type: ignore[attr-defined, unused-ignore]
        dy = torch.ops.aten.lelu_backward(torch.ones_like(xc), xc)
        x64 = xt.double().numpy()
        if name == "float64":
            hi, lo = dd_reference("lelu", x64)
            dhi, dlo = dd_reference("dlelu", x64)
        else:
            hi, lo, dhi, dlo = f64_lelu(x64), None, f64_dlelu(x64), None
        forward = ulp_error(y, hi, dtype, lo)
        backward = ulp_error(dy, dhi, dtype, dlo)
        far = np.abs(x64 - X0) > 0.01
        cpu_y = F.lelu(xt)  # type: ignore[attr-defined, unused-ignore]
        cpu_dy = torch.ops.aten.lelu_backward(torch.ones_like(xt), xt)
        differ = [_bits_differ(y, cpu_y), _bits_differ(dy, cpu_dy)]
        # compiled F.lelu: Inductor's Triton kernels (triton_helpers.lelu, lelu_backward)
        compiled = torch.compile(lambda v: F.lelu(v), dynamic=True)  # type: ignore[attr-defined, unused-ignore]
        leaf = xc.detach().requires_grad_(True)
        (compiled_dy,) = torch.autograd.grad(compiled(leaf), leaf, torch.ones_like(xc))
        compiled_differ = [_bits_differ(compiled(xc), cpu_y), _bits_differ(compiled_dy, cpu_dy)]
        rows.append({"dtype": name, "grid": grid, "points": int(x.size),
                     "forward_max_ulp": float(forward.max()), "forward_worst_x": float(x64[forward.argmax()]),
                     "backward_max_ulp": float(backward[far].max()),
                     "backward_worst_x": float(x64[far][backward[far].argmax()]),
                     "forward_differ_from_cpu": differ[0], "backward_differ_from_cpu": differ[1],
                     "compiled_forward_differ_from_cpu": compiled_differ[0],
                     "compiled_backward_differ_from_cpu": compiled_differ[1]})
        print(f"[gpu-accuracy] {rows[-1]}", flush=True)
    return {"rows": rows}


def _bits_differ(on_gpu: Any, on_cpu: Any) -> int:
    """How many elements of two tensors differ in their bits (NaN payloads aside)."""
    import torch

    ints = {2: torch.int16, 4: torch.int32, 8: torch.int64}[on_cpu.element_size()]
    got = on_gpu.cpu()
    differ = (got.view(ints) != on_cpu.view(ints)) & ~(got.isnan() & on_cpu.isnan())
    return int(differ.sum())


def environment() -> dict[str, Any]:
    import torch

    props = torch.cuda.get_device_properties(0)
    return {"device": torch.cuda.get_device_name(0), "capability": "{}.{}".format(*torch.cuda.get_device_capability(0)),
            "memory_gib": round(props.total_memory / 2**30, 1), "torch": torch.__version__,
            "torch_git": torch.version.git_version, "cuda": torch.version.cuda, "python": platform.python_version(),
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


# ---------------------------------------------------------------- rendering (no GPU)


def _row(rows: list[dict[str, Any]], dtype: str, log2n: int, direction: str, variant: str) -> dict[str, Any] | None:
    for r in rows:
        if (r["dtype"], r["log2n"], r["direction"], r["variant"]) == (dtype, log2n, direction, variant):
            return r
    return None


def check_targets(rows: list[dict[str, Any]]) -> list[tuple[bool, str]]:
    """(met, what) for each target of the GPU benchmark that the rows can answer."""
    out: list[tuple[bool, str]] = []
    for dtype in ("float32", "bfloat16"):
        r = _row(rows, dtype, 26, "forward", "F.lelu")
        if r is not None:
            out.append((r["copy_fraction"] >= TARGET_COPY_FRACTION,
                        f"F.lelu forward {dtype} 2^26 at >= {TARGET_COPY_FRACTION:.0%} of copy bandwidth: "
                        f"{r['copy_fraction']:.1%}"))
    for direction, bound in (("forward", TARGET_FORWARD_VS_SILU), ("forward+backward", TARGET_BACKWARD_VS_SILU)):
        ratios = []
        for r in rows:
            if r["direction"] == direction and r["variant"] == "F.lelu":
                silu = _row(rows, r["dtype"], r["log2n"], direction, "F.silu")
                if silu is not None:
                    ratios.append((r["ms"] / silu["ms"], f"{r['dtype']} 2^{r['log2n']}"))
        if ratios:
            worst = max(ratios)
            out.append((worst[0] <= bound, f"F.lelu {direction} <= {bound:.2f}x F.silu's time: "
                        f"worst {worst[0]:.3f}x ({worst[1]})"))
    for direction in DIRECTIONS:
        compiled = [(r["ms"] / silu["ms"], f"{r['dtype']} 2^{r['log2n']}") for r in rows
                    if r["direction"] == direction and r["variant"] == "compiled F.lelu"
                    and r["dtype"] in ("float32", "bfloat16")
                    and (silu := _row(rows, r["dtype"], r["log2n"], direction, "compiled F.silu")) is not None]
        if compiled:
            worst = max(compiled)
            out.append((worst[0] <= TARGET_COMPILED_VS_SILU,
                        f"compiled F.lelu {direction} <= {TARGET_COMPILED_VS_SILU:.2f}x compiled F.silu's time "
                        f"(float32, bfloat16): worst {worst[0]:.3f}x ({worst[1]})"))
    return out


def _env_line(env: dict[str, Any]) -> str:
    return (f"{env['device']} (sm_{env['capability'].replace('.', '')}, {env['memory_gib']} GiB), torch "
            f"{env['torch']} (git {env['torch_git'][:12]}), CUDA {env['cuda']}, Python {env['python']}, "
            f"{env['when']}")


def render_bench(report: dict[str, Any]) -> str:
    if report.get("kind") != BENCH_KIND:
        raise ValueError(f"not a {BENCH_KIND} report")
    rows: list[dict[str, Any]] = report["rows"]
    lines = [f"Measured by `{report['command']}` on {_env_line(report['environment'])}. CUDA-event timing, the "
             f"median of {report['rounds']} rounds; \"copy\" is `Tensor.copy_` of the same tensor, and each time is "
             "also given as the fraction of the copy's bandwidth it reaches for the bytes it must move (forward "
             "2n elements, forward+backward 5n).", ""]
    for direction in DIRECTIONS:
        lines += [f"### {direction}", "",
                  "| dtype | n | copy ms | " + " | ".join(f"{v} ms (of copy)" for v in VARIANTS) + " | lelu / silu |",
                  "|---|---|---|" + "---|" * len(VARIANTS) + "---|"]
        for dtype in DTYPES:
            for log2n in SIZES:
                cells = [_row(rows, dtype, log2n, direction, v) for v in VARIANTS]
                if cells[0] is None:
                    continue
                text = [f"{c['ms']:.4f} ({c['copy_fraction']:.0%})" if c else "-" for c in cells]
                ratio = f"{cells[0]['ms'] / cells[1]['ms']:.3f}" if cells[1] else "-"
                lines.append(f"| {dtype} | 2^{log2n} | {cells[0]['copy_ms']:.4f} | " + " | ".join(text)
                             + f" | {ratio} |")
        lines.append("")
    lines += ["Targets (H200):", ""]
    lines += [f"- {'met' if ok else 'NOT MET'}: {what}" for ok, what in check_targets(rows)]
    return "\n".join(lines) + "\n"


def render_accuracy(report: dict[str, Any]) -> str:
    if report.get("kind") != ACCURACY_KIND:
        raise ValueError(f"not a {ACCURACY_KIND} report")
    lines = [f"Measured by `{report['command']}` on {_env_line(report['environment'])}: the CUDA kernels against "
             "the float64 reference (float64: mpmath's double-double), and against the CPU kernel's bits.", "",
             "| dtype | inputs | forward max ULP (x) | backward max ULP, \\|x - x0\\| > 0.01 (x) | "
             "forward / backward results that differ from the CPU's | the same, compiled F.lelu (Triton) |",
             "|---|---|---|---|---|---|"]
    for r in report["rows"]:
        compiled = (f"{r['compiled_forward_differ_from_cpu']} / {r['compiled_backward_differ_from_cpu']}"
                    if "compiled_forward_differ_from_cpu" in r else "-")
        lines.append(f"| {r['dtype']} | {r['grid']} | {r['forward_max_ulp']:.3g} ({r['forward_worst_x']:.6g}) | "
                     f"{r['backward_max_ulp']:.3g} ({r['backward_worst_x']:.6g}) | "
                     f"{r['forward_differ_from_cpu']} / {r['backward_differ_from_cpu']} | {compiled} |")
    return "\n".join(lines) + "\n"


def render_file(path: Path, out: Path, publish: Path | None) -> int:
    """`tools/lelu bench/accuracy --render FILE` for a GPU report: markdown into `out`, and into
    the GPU section of `publish` when given."""
    report = json.loads(path.read_text())
    markdown = render_bench(report) if report.get("kind") == BENCH_KIND else render_accuracy(report)
    out.mkdir(parents=True, exist_ok=True)
    name = "gpu-bench.md" if report.get("kind") == BENCH_KIND else "gpu-accuracy.md"
    (out / name).write_text(markdown)
    print(f"wrote {out / name} from {path}")
    if publish is not None:
        SECTION.publish(publish, markdown)
        print(f"wrote the GPU section of {publish}")
    return 0


def is_gpu_report(path: Path) -> bool:
    try:
        return json.loads(path.read_text()).get("kind") in (BENCH_KIND, ACCURACY_KIND)
    except (OSError, ValueError, AttributeError):
        return False


# ---------------------------------------------------------------- command


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lelu_tools.gpu_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dtypes", nargs="+", choices=DTYPES, default=list(DTYPES))
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES), help="log2 of the sizes")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sample-ms", type=float, default=20.0)
    parser.add_argument("--command", default="tools/lelu gpu-check", help="the command to name in the reports")
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("error: no CUDA device (torch.cuda.is_available() is False)", file=sys.stderr)
        return 2
    env = environment()
    args.out.mkdir(parents=True, exist_ok=True)
    acc = {"kind": ACCURACY_KIND, "command": args.command, "environment": env, **accuracy()}
    (args.out / "gpu-accuracy.json").write_text(json.dumps(acc, indent=1))
    rows = bench(args.dtypes, args.sizes, args.rounds, args.sample_ms)
    report = {"kind": BENCH_KIND, "command": args.command, "environment": env, "rounds": args.rounds,
              "sample_ms": args.sample_ms, "rows": rows}
    (args.out / "gpu-bench.json").write_text(json.dumps(report, indent=1))
    for ok, what in check_targets(rows):
        print(f"[gpu-bench] target {'met    ' if ok else 'NOT MET'} {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
