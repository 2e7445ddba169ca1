"""`tools/lelu bench`: LELU's speed next to its peers, measured in one interleaved run.

Runs in the overlay's virtual environment (`tools/lelu bench` builds it if needed).  For every
configuration (dtype, size, layout, thread count, forward or forward+backward) the peers are
timed in rounds: each round runs every peer once, in a freshly shuffled order, for a sample of
at least `--sample-ms` (several calls for small sizes); the reported time is the median over
the rounds.  Warm-up calls come first and torch.compile's compile time is measured apart.  The
machine load (load average, and the CPU time other processes took while a configuration ran) is
recorded with every configuration, since the machine is shared.

Output: results.json, report.md (tables of times and ratios vs F.silu and vs the composite, the
targets of the CPU kernel checked one by one) and throughput-vs-size PNG plots per dtype, in
`--out` (build/reports/bench); `--publish` also writes BENCHMARKS.md and docs/benchmarks/.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lelu_tools import gpu_bench
from lelu_tools.bench_harness import DEFAULT_OUT, REPO, LoadProbe, Peer, machine_info, measure
from lelu_tools.reports import publish_report

DOCS = REPO / "docs" / "benchmarks"
K = 1.8137993642342178  # pi / sqrt(3)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "float64": torch.float64}
LAYOUTS = ("contiguous", "transposed", "stride2")
DIRECTIONS = ("fwd", "fwd+bwd")
SILU = "F.silu"
COMPOSITE = "x*sigmoid(kx)"
COMPILED = "compile(x*sigmoid(kx))"
# torch.compile of the activations themselves (Inductor: F.lelu runs the kernel's element
# functions inside the fused loop, F.silu and F.gelu their decompositions)
COMPILED_LELU = "compile(F.lelu)"
COMPILED_SILU = "compile(F.silu)"
COMPILED_GELU = "compile(F.gelu)"
LELU = "F.lelu"
OUT = "lelu(x, out=y)"
ADD_OUT = "add(x, 1, out=y)"
#: forward-only peers (no gradient): the in-place module, out= and the memory roofline
FORWARD_ONLY = ("LELU(inplace=True)", OUT, "clone", ADD_OUT)
#: the CPU kernel's targets (issue 6): ratios are lelu time / peer time unless stated
TARGET_VS_SILU = 1.1
TARGET_VS_COMPOSITE = 2.5
TARGET_VS_COMPILED = 1.3
TARGET_COMPILED_VS_SILU = 1.15
TARGET_OUT_VS_ADD = 0.8
TARGET_STRIDE2 = 2.5
#: calls per sample of the in-place module, each on its own copy of the input
INPLACE_POOL = 16


def composite(x: torch.Tensor) -> torch.Tensor:
    """The formula of the issue."""
    return x * torch.sigmoid(K * x)


def silu_scaled(x: torch.Tensor) -> torch.Tensor:
    return F.silu(K * x) / K


# ---------------------------------------------------------------------------------------------
# configurations
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Config:
    dtype: str
    size: int
    layout: str
    threads: int
    direction: str

    @property
    def key(self) -> str:
        return f"{self.dtype}/{self.direction}/{self.layout}/t{self.threads}/2^{int(math.log2(self.size))}"


def make_input(size: int, dtype: torch.dtype, layout: str, seed: int = 0) -> torch.Tensor:
    """`size` elements of N(0, 3^2) (both branches of the gate), in the given memory layout."""
    gen = torch.Generator().manual_seed(seed)
    if layout == "contiguous":
        x = torch.randn(size, generator=gen, dtype=torch.float64)
    elif layout == "transposed":
        rows = 1 << (int(math.log2(size)) // 2)
        x = torch.randn(size // rows, rows, generator=gen, dtype=torch.float64).t()
    elif layout == "stride2":
        x = torch.randn(2 * size, generator=gen, dtype=torch.float64)[::2]
    else:
        raise ValueError(f"unknown layout {layout!r}")
    x = x * 3.0
    if layout == "stride2":
        return torch.empty(2 * size, dtype=dtype)[::2].copy_(x)
    if layout == "transposed":
        return x.t().contiguous().to(dtype).t()
    return x.to(dtype)


def eager_functions() -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """The differentiable peers, by name."""
    return {
        LELU: F.lelu,  # type: ignore[attr-defined, unused-ignore]
        SILU: F.silu,
        "F.gelu": F.gelu,
        "F.gelu(tanh)": lambda x: F.gelu(x, approximate="tanh"),
        "F.mish": F.mish,
        "F.relu": F.relu,
        COMPOSITE: composite,
        "F.silu(kx)/k": silu_scaled,
    }


class Compiled:
    """torch.compile of the composite and of F.lelu, F.silu and F.gelu, compile time apart."""

    def __init__(self, backend: str = "inductor") -> None:
        torch._dynamo.config.cache_size_limit = 256
        # Inductor decides at compile time whether a CPU loop runs in parallel, from the thread
        # count and, for a dynamic shape, the size of the input that compiled it; a compiled
        # function is then reused at other thread counts and sizes, and its FX graph cache entry
        # by later processes (a serial kernel from a small input, say).  With dynamic threads
        # every loop gets a parallel region and OpenMP uses the threads of the moment, so every
        # peer runs with the threads its row names, whatever compiled it first.
        if backend == "inductor":
            from torch._inductor import config as inductor_config

            inductor_config.cpp.dynamic_threads = True
        # default dynamic-shape policy: a size change recompiles once, with dynamic sizes
        self.fn = torch.compile(composite, backend=backend)
        self.activations: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
            COMPILED_LELU: torch.compile(lambda x: F.lelu(x), backend=backend, fullgraph=True),  # type: ignore[attr-defined, unused-ignore]
            COMPILED_SILU: torch.compile(lambda x: F.silu(x), backend=backend, fullgraph=True),
            COMPILED_GELU: torch.compile(lambda x: F.gelu(x), backend=backend, fullgraph=True),
        }
        self.compile_s: dict[str, float] = {}

    def warm(self, cfg: Config, call: Callable[[], object]) -> None:
        # dynamo counts the frames it compiles: a first call that compiled nothing (the shape
        # is already covered, by a dynamic graph or an earlier run) reports no compile time.
        frames = torch._dynamo.utils.counters["frames"]
        compiled_before = frames["ok"]
        t0 = time.perf_counter()
        call()
        first = time.perf_counter() - t0
        compiled = frames["ok"] > compiled_before
        t0 = time.perf_counter()
        call()
        steady = time.perf_counter() - t0
        if compiled:
            self.compile_s[cfg.key] = max(first - steady, 0.0)


def _forward_call(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> Callable[[int], object]:
    return lambda i: fn(x)


def build_peers(cfg: Config, compiled: Compiled | None) -> list[Peer]:
    dtype = DTYPES[cfg.dtype]
    x = make_input(cfg.size, dtype, cfg.layout)
    peers: list[Peer] = []
    functions: dict[str, Callable[[torch.Tensor], torch.Tensor]] = dict(eager_functions())
    if compiled is not None:
        functions[COMPILED] = compiled.fn
        functions.update(compiled.activations)
    if cfg.direction == "fwd":
        for name, fn in functions.items():
            peers.append(Peer(name, _forward_call(fn, x)))
        y = torch.empty_like(x)
        # The in-place module gets a fresh copy of x for every call (copied before the sample,
        # untimed); few enough copies that they stay in cache as x does for the others.
        pool = [torch.empty_like(x) for _ in range(INPLACE_POOL)]

        def refill(number: int) -> None:
            for buf in pool[:number]:
                buf.copy_(x)

        module = nn.LELU(inplace=True)
        peers.append(Peer("LELU(inplace=True)", lambda i: module(pool[i]), refill, max_number=INPLACE_POOL))
        peers.append(Peer(OUT, lambda i: torch._C._nn.lelu(x, out=y)))
        peers.append(Peer("clone", lambda i: x.clone()))
        peers.append(Peer(ADD_OUT, lambda i: torch.add(x, 1, out=y)))
    else:
        xg = x.detach().requires_grad_(True)
        grad = torch.randn_like(x)

        for name, fn in functions.items():

            def step(i: int, fn: Callable[[torch.Tensor], torch.Tensor] = fn) -> None:
                torch.autograd.grad(fn(xg), xg, grad)

            peers.append(Peer(name, step))
    if compiled is not None:
        compiled_peer = next(p for p in peers if p.name == COMPILED)
        compiled.warm(cfg, lambda: compiled_peer.run(0))
        for peer in peers:
            if peer.name in compiled.activations:
                peer.run(0)  # compile before the measurement
    return peers


def run_config(cfg: Config, rounds: int, sample_s: float, compiled: Compiled | None, seed: int) -> dict[str, Any]:
    torch.set_num_threads(cfg.threads)
    probe = LoadProbe()
    load_before = os.getloadavg()[0]
    probe.start()
    with torch.no_grad() if cfg.direction == "fwd" else torch.enable_grad():
        peers = build_peers(cfg, compiled)
        times = measure(peers, rounds, sample_s, random.Random(f"{seed}/{cfg.key}"))
    others = probe.stop()
    return {
        "config": dataclasses.asdict(cfg),
        "median_s": {name: statistics.median(ts) for name, ts in times.items()},
        "spread": {name: _spread(ts) for name, ts in times.items()},
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg()[0],
        "others_cpu_share": others,
    }


def _spread(ts: list[float]) -> float:
    """(q75 - q25) / median of the per-round times."""
    if len(ts) < 4:
        return 0.0
    q = statistics.quantiles(ts, n=4)
    return (q[2] - q[0]) / statistics.median(ts)


# ---------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------


def _fmt_time(seconds: float) -> str:
    us = seconds * 1e6
    if us < 100:
        return f"{us:.2f} us"
    if us < 100_000:
        return f"{us:.0f} us"
    return f"{us / 1000:.0f} ms"


def _size_label(size: int) -> str:
    return f"2^{int(math.log2(size))}"


def _lookup(results: list[dict[str, Any]]) -> dict[tuple[str, int, str, int, str], dict[str, Any]]:
    table = {}
    for r in results:
        c = r["config"]
        table[(c["dtype"], c["size"], c["layout"], c["threads"], c["direction"])] = r
    return table


@dataclasses.dataclass
class TargetCheck:
    what: str
    worst: str
    ok: bool
    failures: list[str]
    why: str = ""


def _span(values: list[float], fmt: str = "{:.2f}") -> str:
    lo, hi = min(values), max(values)
    return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else f"{fmt.format(lo)} to {fmt.format(hi)}"


def check_targets(results: list[dict[str, Any]]) -> list[TargetCheck]:
    """The targets of the CPU kernel, each with its worst case over what was measured."""
    table = _lookup(results)
    checks: list[TargetCheck] = []

    # a row: label, the measured value, met, and two peer figures that explain a miss
    Row = tuple[str, float, bool, tuple[float, float]]
    Why = Callable[[list[float], list[float]], str]

    def collect(what: str, rows: list[Row], higher_is_better: bool, why: Why) -> None:
        if not rows:
            return
        worst = (min if higher_is_better else max)(rows, key=lambda row: row[1])
        failures = [f"{label}: {value:.2f}" for label, value, ok, _ in rows if not ok]
        context = [peer for _, _, ok, peer in rows if not ok and all(map(math.isfinite, peer))]
        reason = why([a for a, _ in context], [b for _, b in context]) if failures and context else ""
        checks.append(TargetCheck(what, f"{worst[1]:.2f} ({worst[0]})", not failures, failures, reason))

    silu_rows: list[Row] = []
    comp_rows: list[Row] = []
    compiled_rows: list[Row] = []
    out_rows: list[Row] = []
    stride_rows: list[Row] = []
    compiled_silu_rows: list[Row] = []
    for (dtype, size, layout, threads, direction), r in sorted(table.items()):
        t = r["median_s"]
        label = f"{dtype} {direction} {_size_label(size)} {threads}t"
        silu = t.get(SILU, math.nan)
        if layout == "contiguous" and dtype in ("float32", "bfloat16", "float64") and SILU in t:
            ratio = t[LELU] / silu
            silu_rows.append((label, ratio, ratio <= TARGET_VS_SILU, (ratio, ratio)))
        if layout == "contiguous" and threads == 1 and size >= 1 << 20 and COMPOSITE in t:
            speedup = t[COMPOSITE] / t[LELU]
            comp_rows.append((label, speedup, speedup >= TARGET_VS_COMPOSITE, (t[COMPOSITE] / silu, t[LELU] / silu)))
        if layout == "contiguous" and threads == 1 and size == 1 << 20 and COMPILED in t:
            speedup = t[COMPILED] / t[LELU]
            compiled_rows.append((label, speedup, speedup >= TARGET_VS_COMPILED, (t[COMPILED] / silu, t[LELU] / silu)))
        if layout == "contiguous" and dtype in ("float32", "bfloat16") and size >= 1 << 16 and COMPILED_LELU in t:
            ratio = t[COMPILED_LELU] / t[COMPILED_SILU]
            compiled_silu_rows.append((label, ratio, ratio <= TARGET_COMPILED_VS_SILU, (ratio, t[LELU] / silu)))
        if layout == "contiguous" and size == 1 << 24 and direction == "fwd" and OUT in t:
            share = t[ADD_OUT] / t[OUT]
            # ns per element of lelu out= at 2^24 over that of F.lelu at 2^20, in cache
            cached = table.get((dtype, 1 << 20, "contiguous", threads, direction))
            rate = (t[OUT] / size) / (cached["median_s"][LELU] / (1 << 20)) if cached else math.nan
            out_rows.append((label, share, share >= TARGET_OUT_VS_ADD, (rate, rate)))
        if layout == "stride2":
            base = table.get((dtype, size, "contiguous", threads, direction))
            if base is not None:
                ratio = t[LELU] / base["median_s"][LELU]
                silu_ratio = t.get(SILU, math.nan) / base["median_s"].get(SILU, math.nan)
                stride_rows.append((label, ratio, ratio <= TARGET_STRIDE2, (silu_ratio, t[LELU] / silu)))
    collect(
        f"F.lelu time / F.silu time <= {TARGET_VS_SILU} (float32, bfloat16, float64)", silu_rows, False,
        lambda c, _: f"Why: where the time is bound by arithmetic rather than memory, LELU's kernel does more of "
        f"it than F.silu's: forward a compensated k*x, the exp polynomial (degree 5 in float, 10 in double) and a "
        f"division (24 vector operations in float on AVX-512, 26 in double); backward 36 (43 in double) and a "
        f"division, against about 20 for silu_backward. "
        f"The misses are by {_span(c)}x.")
    collect(
        f"composite time / F.lelu time >= {TARGET_VS_COMPOSITE} (>= 2^20, 1 thread)", comp_rows, True,
        lambda c, lelu: f"Why: in these configurations the composite itself takes only {_span(c)}x F.silu's time "
        f"(its intermediates stay in cache), so the target asks for F.lelu at "
        f"{_span([v / TARGET_VS_COMPOSITE for v in c])}x F.silu's time; F.lelu takes {_span(lelu)}x there.")
    collect(
        f"compiled composite time / F.lelu time >= {TARGET_VS_COMPILED} (2^20, 1 thread)", compiled_rows, True,
        lambda c, lelu: f"Why: Inductor fuses the composite into one vectorized loop that takes {_span(c)}x "
        f"F.silu's time here, so the target asks for F.lelu at {_span([v / TARGET_VS_COMPILED for v in c])}x "
        f"F.silu's time; F.lelu takes {_span(lelu)}x there.")
    collect(
        f"compiled F.lelu time / compiled F.silu time <= {TARGET_COMPILED_VS_SILU} (float32, bfloat16, >= 2^16)",
        compiled_silu_rows, False,
        lambda c, eager: f"Not explained: Inductor inlines the kernel's element functions (about 25 vector "
        f"operations and a division forward, 35 backward) where silu's decomposition has an exp and a division, "
        f"and eager F.lelu takes {_span(eager)}x eager F.silu's time in the same configurations; the misses are by "
        f"{_span(c)}x, and the spread of the rounds (the tables below) is large on this machine.")
    collect(
        f"lelu out= throughput / add(out=) throughput >= {TARGET_OUT_VS_ADD} (2^24)", out_rows, True,
        lambda c, _: f"Why: add(out=) is bound by memory, lelu(out=) by arithmetic: at 2^24 it takes {_span(c)}x "
        f"its own per-element time in cache (2^20)"
        + (", so memory is not what limits it" if max(c) < 1.25 else "")
        + "; an exp and a division per element cost more than moving the element in these dtypes on this CPU.")
    collect(
        f"stride-2 time / contiguous time <= {TARGET_STRIDE2}", stride_rows, False,
        lambda c, lelu: f"Why: a stride-2 slice touches two cache lines per vector of results and is gathered "
        f"element by element into the kernel's buffer; the contiguous kernel is the fast one. F.silu's own "
        f"stride-2/contiguous ratio in the same configurations is {_span(c)}, and F.lelu on the stride-2 slice "
        f"takes {_span(lelu)}x F.silu's time on it.")
    return checks


def render_markdown(report: dict[str, Any], image_dir: str) -> str:
    """The report as markdown; images are referenced under `image_dir` (relative)."""
    m = report["machine"]
    results = report["results"]
    loads = [r["others_cpu_share"] for r in results if r["others_cpu_share"] is not None]
    lines = [
        f"Measured {m['date']} on {m['cpu']} ({m['cpus']} CPUs, ATen CPU capability {m['cpu_capability']}), "
        f"torch {m['torch']} (git {m['torch_git'][:12]}) with the LELU series, Python {m['python']}.",
        "",
        f"Command: `{report['command']}` ({report['rounds']} interleaved rounds per configuration, "
        f"samples of at least {report['sample_ms']} ms, medians; {report['elapsed_s'] / 60:.1f} minutes).",
        "",
    ]
    if loads:
        lines.append(
            f"Machine load while measuring (CPU share used by other processes): median {statistics.median(loads):.0%}, "
            f"max {max(loads):.0%}; 1-minute load average {min(r['loadavg_before'] for r in results):.2f} to "
            f"{max(r['loadavg_before'] for r in results):.2f}."
        )
        lines.append("")
    checks = check_targets(results)
    if checks:
        lines += ["## Targets", "", "| target | worst measured | met |", "|---|---|---|"]
        for c in checks:
            lines.append(f"| {c.what} | {c.worst} | {'yes' if c.ok else 'no'} |")
        lines.append("")
        for c in checks:
            if c.failures:
                lines.append(f"Not met, {c.what}: {', '.join(c.failures)}.")
                lines.append("")
                if c.why:
                    lines.append(c.why)
                    lines.append("")
    if report.get("compile_s"):
        total = sum(report["compile_s"].values())
        lines += [
            f"torch.compile of the composite: {len(report['compile_s'])} compilations, {total:.1f} s in all "
            f"(median {statistics.median(report['compile_s'].values()):.2f} s each), not in the times below.",
            "",
        ]
    for image in report.get("images", []):
        lines.append(f"![{Path(image).stem}]({image_dir}/{Path(image).name})")
    lines.append("")
    lines += render_tables(results)
    return "\n".join(lines)


def render_tables(results: list[dict[str, Any]]) -> list[str]:
    """One table per (dtype, direction, layout, threads): peers by size, time and two ratios."""
    table = _lookup(results)
    groups: dict[tuple[str, str, str, int], list[int]] = {}
    for dtype, size, layout, threads, direction in table:
        groups.setdefault((dtype, direction, layout, threads), []).append(size)
    lines = ["## Times", "", "Median time per call; in brackets: time / F.silu's time, time / the composite's time."]
    for (dtype, direction, layout, threads), sizes in sorted(groups.items(), key=lambda kv: _group_order(kv[0])):
        sizes = sorted(sizes)
        lines += ["", f"### {dtype}, {direction}, {layout}, {threads} thread{'s' if threads > 1 else ''}", ""]
        lines.append("| peer | " + " | ".join(_size_label(s) for s in sizes) + " |")
        lines.append("|---|" + "---|" * len(sizes))
        names = list(table[(dtype, sizes[0], layout, threads, direction)]["median_s"])
        for name in names:
            cells = []
            for s in sizes:
                t = table[(dtype, s, layout, threads, direction)]["median_s"]
                if name not in t:
                    cells.append("")
                    continue
                ratios = []
                for ref in (SILU, COMPOSITE):
                    ratios.append(f"{t[name] / t[ref]:.2f}" if ref in t else "-")
                cells.append(f"{_fmt_time(t[name])} ({' / '.join(ratios)})")
            label = f"**{name}**" if name in (LELU, OUT, "LELU(inplace=True)") else name
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _group_order(group: tuple[str, str, str, int]) -> tuple[int, int, int, int]:
    dtype, direction, layout, threads = group
    return (list(DTYPES).index(dtype), DIRECTIONS.index(direction), LAYOUTS.index(layout), threads)


def plot(results: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Throughput (elements per second) vs size, one PNG per dtype: forward and forward+backward,
    contiguous, the smallest thread count measured."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = _lookup(results)
    paths = []
    threads = min(k[3] for k in table)
    for dtype in DTYPES:
        directions = [d for d in DIRECTIONS if any(k[0] == dtype and k[4] == d and k[2] == "contiguous" for k in table)]
        if not directions:
            continue
        fig, axes = plt.subplots(1, len(directions), figsize=(4.2 * len(directions), 3.4), squeeze=False)
        for ax, direction in zip(axes[0], directions, strict=True):
            keys = sorted(k for k in table if k[0] == dtype and k[4] == direction and k[2] == "contiguous"
                          and k[3] == threads)
            sizes = [k[1] for k in keys]
            names = list(table[keys[0]]["median_s"])
            for name in names:
                ys = [k[1] / table[k]["median_s"][name] / 1e9 for k in keys]
                style = {"linewidth": 2.4, "color": "black"} if name == LELU else {"linewidth": 1.0}
                ax.plot(sizes, ys, marker="o", markersize=3, label=name, **style)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("elements")
            ax.set_ylabel("G elements / s")
            ax.set_title(f"{dtype} {direction}, {threads} thread{'s' if threads > 1 else ''}", fontsize=9)
            ax.grid(True, which="both", linewidth=0.3)
            ax.tick_params(labelsize=7)
        axes[0][-1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))
        fig.tight_layout()
        path = out_dir / f"throughput_{dtype}.png"
        fig.savefig(path, dpi=72)
        plt.close(fig)
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tools/lelu bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a subset in about a minute: float32 and bfloat16, 2^12 and 2^20, 1 thread")
    parser.add_argument("--dtypes", nargs="+", choices=list(DTYPES), help="default: all")
    parser.add_argument("--sizes", nargs="+", type=int, help="log2 of the sizes (default: 12 16 20 24)")
    parser.add_argument("--layouts", nargs="+", choices=LAYOUTS, help="default: all")
    parser.add_argument("--threads", nargs="+", type=int, help=f"default: 1 and {os.cpu_count()} (all)")
    parser.add_argument("--directions", nargs="+", choices=DIRECTIONS, help="default: both")
    parser.add_argument("--rounds", type=int, help="rounds per configuration (default 11, --quick 5)")
    parser.add_argument("--sample-ms", type=float, help="minimum time of one sample (default 20, --quick 5)")
    parser.add_argument("--no-compile", action="store_true", help="leave torch.compile out")
    parser.add_argument("--compile-backend", default="inductor", help="torch.compile backend (default: inductor)")
    parser.add_argument("--no-plots", action="store_true", help="write no PNG plots")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report folder (default: build/reports/bench)")
    parser.add_argument("--publish", action="store_true",
                        help="also write BENCHMARKS.md and docs/benchmarks/*.png from this run")
    parser.add_argument("--seed", type=int, default=0, help="seed of the round order")
    parser.add_argument("--capabilities", action="store_true",
                        help="instead: kernel time / F.silu's per x86 CPU capability, a process each "
                             "(`tools/lelu bench --capabilities --help`)")
    parser.add_argument("--paths", action="store_true",
                        help="instead: a compiled training step and the ONNX export against SiLU and GELU "
                             "(`tools/lelu bench --paths --help`)")
    parser.add_argument("--render", type=Path, metavar="RESULTS_JSON",
                        help="measure nothing: write the report (and with --publish BENCHMARKS.md) again from "
                        "the results.json of an earlier run, e.g. docs/benchmarks/results.json; or the GPU section "
                        "from `tools/lelu gpu-check`'s gpu-bench.json")
    args = parser.parse_args(argv)
    quick = args.quick
    args.dtypes = args.dtypes or (["float32", "bfloat16"] if quick else list(DTYPES))
    args.sizes = [1 << s for s in (args.sizes or ([12, 20] if quick else [12, 16, 20, 24]))]
    args.layouts = args.layouts or (["contiguous", "stride2"] if quick else list(LAYOUTS))
    args.threads = args.threads or ([1] if quick else sorted({1, os.cpu_count() or 1}))
    args.directions = args.directions or list(DIRECTIONS)
    args.rounds = args.rounds or (5 if quick else 11)
    args.sample_ms = args.sample_ms or (5.0 if quick else 20.0)
    if any(t < 1 for t in args.threads) or args.rounds < 1 or args.sample_ms <= 0:
        parser.error("--threads, --rounds and --sample-ms must be positive")
    return args


def configs(args: argparse.Namespace) -> list[Config]:
    return [
        Config(dtype, size, layout, threads, direction)
        for threads in args.threads
        for dtype in args.dtypes
        for direction in args.directions
        for layout in args.layouts
        for size in args.sizes
    ]


def main(argv: Sequence[str] | None = None) -> int:
    if "--capabilities" in (sys.argv[1:] if argv is None else argv):
        from lelu_tools import bench_capabilities

        return bench_capabilities.main(list(sys.argv[1:] if argv is None else argv))
    if "--paths" in (sys.argv[1:] if argv is None else argv):
        from lelu_tools import bench_paths

        return bench_paths.main(list(sys.argv[1:] if argv is None else argv))
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.render is not None:
        if gpu_bench.is_gpu_report(args.render):  # from `tools/lelu gpu-check`
            return gpu_bench.render_file(args.render, args.out, REPO / "BENCHMARKS.md" if args.publish else None)
        return render_saved(args.render, args.out, args.publish)
    if not hasattr(F, "lelu"):
        print("error: this torch has no F.lelu: run through `tools/lelu bench` (the overlay)", file=sys.stderr)
        return 1
    todo = configs(args)
    compiled = None if args.no_compile else Compiled(args.compile_backend)
    machine = machine_info()
    print(f"[bench] {len(todo)} configurations on {machine['cpu']} ({machine['cpus']} CPUs, "
          f"{machine['cpu_capability']}), torch {machine['torch']}; report in {args.out}", flush=True)
    start = time.perf_counter()
    results = []
    threads_before = torch.get_num_threads()
    try:
        for i, cfg in enumerate(todo, 1):
            results.append(run_config(cfg, args.rounds, args.sample_ms / 1000, compiled, args.seed))
            r = results[-1]["median_s"]
            elapsed = time.perf_counter() - start
            eta = elapsed / i * (len(todo) - i)
            others = results[-1]["others_cpu_share"]
            load = f", others {others:.0%} CPU" if others is not None else ""
            print(f"[bench] {i:>3}/{len(todo)} {cfg.key:<42} lelu {_fmt_time(r[LELU]):>9}  "
                  f"x silu {r[LELU] / r[SILU]:.2f}  (eta {eta / 60:.1f} min{load})", flush=True)
    finally:
        torch.set_num_threads(threads_before)
    command = "tools/lelu bench " + " ".join(sys.argv[1:] if argv is None else argv)
    report: dict[str, Any] = {
        "machine": machine,
        "command": command.strip(),
        "rounds": args.rounds,
        "sample_ms": args.sample_ms,
        "elapsed_s": time.perf_counter() - start,
        "results": results,
        "compile_s": compiled.compile_s if compiled is not None else {},
        "images": [],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.no_plots:
        report["images"] = [str(p) for p in plot(results, args.out)]
    (args.out / "results.json").write_text(json.dumps(report, indent=1))
    markdown = render_markdown(report, ".")
    (args.out / "report.md").write_text("# LELU benchmark report\n\n" + markdown)
    if args.publish:
        publish(report)
    print()
    for check in check_targets(results):
        print(f"[bench] target {'met    ' if check.ok else 'NOT MET'} {check.what}: worst {check.worst}")
    print(f"[bench] wrote {args.out / 'report.md'}, results.json and {len(report['images'])} plots")
    return 0


def render_saved(results_json: Path, out: Path, publish_it: bool) -> int:
    """The report of an earlier run, from its results.json: its tables and its plots, drawn again."""
    try:
        report = json.loads(results_json.read_text())
    except (OSError, ValueError) as e:
        print(f"error: cannot read {results_json}: {e}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    if report["images"]:
        report["images"] = [str(p) for p in plot(report["results"], out)]
    (out / "report.md").write_text("# LELU benchmark report\n\n" + render_markdown(report, "."))
    if publish_it:
        publish(report)
    print(f"[bench] wrote {out / 'report.md'} from {results_json}")
    return 0


def publish(report: dict[str, Any]) -> None:
    """BENCHMARKS.md at the repository root and its images under docs/benchmarks/; its CPU
    capabilities section (`tools/lelu bench --capabilities --publish`) and its GPU section
    (`tools/lelu bench --render <gpu-check's gpu-bench.json> --publish`) are kept."""
    from lelu_tools import bench_capabilities, bench_paths

    document = REPO / "BENCHMARKS.md"
    section = bench_capabilities.SECTION.kept(document) + bench_paths.SECTION.kept(document)
    publish_report(document, "LELU benchmarks", "tools/lelu bench --publish",
                   "LELU's CPU kernel next to its peers",
                   render_markdown(report, "docs/benchmarks") + "\n" + section + gpu_bench.SECTION.kept(document),
                   [Path(image) for image in report["images"]], DOCS)
    (DOCS / "results.json").write_text(json.dumps(report, separators=(",", ":")) + "\n")
    print(f"[bench] wrote {REPO / 'BENCHMARKS.md'} and {len(report['images'])} images in {DOCS}")


if __name__ == "__main__":
    sys.exit(main())
