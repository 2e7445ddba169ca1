"""`tools/lelu bench --paths`: LELU against SiLU and GELU on the paths a user runs besides eager.

* A training step: `nn.Sequential(nn.Linear(512, 2048), act, nn.Linear(2048, 512))`, batch 512,
  mean squared error, SGD; eager and with the model under torch.compile (Inductor: forward and
  backward compiled, the optimizer eager), one process, the threads given (default: all).
* The ONNX export: `torch.onnx.export(module, (x,), dynamo=True)` of the activation alone,
  float32, 2^20 elements, run in onnxruntime (CPU, 1 thread); with the graph's nodes.
* The core ATen graph of `torch.export(...).run_decompositions()`: its nodes (no timing; what
  an exporting backend receives).
* What the compiled forward keeps for the backward, in bytes per element (float32, bfloat16),
  seen by `torch.autograd.graph.saved_tensors_hooks` (no timing).

Interleaved rounds, medians (the harness of `tools/lelu bench`).  The ratios are checked against
the targets below.  Writes build/reports/bench/paths.json and paths.md; `--publish` puts the tables
into BENCHMARKS.md, between the markers of its "Compiled training step, ONNX and export" section.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lelu_tools.bench_harness import DEFAULT_OUT, REPO, Peer, machine_info, measure
from lelu_tools.reports import Section

SECTION = Section("paths", "## Compiled training step, ONNX and export")
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "LELU": lambda: nn.LELU(),  # type: ignore[attr-defined, unused-ignore]
    "SiLU": nn.SiLU,
    "GELU": nn.GELU,
}
TARGET_STEP_VS_SILU = 1.05
TARGET_ONNX_VS_SILU = 2.0
ONNX_SIZE = 1 << 20
SAVED_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def mlp(act: str, width: int, hidden: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(width, hidden), ACTIVATIONS[act](), nn.Linear(hidden, width))


def step_peer(name: str, model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> Peer:
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)

    def step(i: int) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.mse_loss(model(x), target)
        loss.backward()
        optimizer.step()

    return Peer(name, step)


def training_steps(batch: int, width: int, hidden: int, rounds: int, sample_s: float,
                   rng: random.Random) -> dict[str, float]:
    """Median seconds per step: `<act> eager` and `<act> compiled`."""
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(batch, width, generator=gen)
    target = torch.randn(batch, width, generator=gen)
    peers = []
    for act in ACTIVATIONS:
        peers.append(step_peer(f"{act} eager", mlp(act, width, hidden), x, target))
        peers.append(step_peer(f"{act} compiled", torch.compile(mlp(act, width, hidden), fullgraph=True), x, target))
    for peer in peers:  # compile before the measurement
        peer.run(0)
        peer.run(0)
    times = measure(peers, rounds, sample_s, rng)
    return {name: statistics.median(ts) for name, ts in times.items()}


def activation(act: str) -> nn.Module:
    return nn.Sequential(ACTIVATIONS[act]())


def onnx_model(act: str) -> bytes:
    program = torch.onnx.export(activation(act).eval(), (torch.randn(16),), dynamo=True, verbose=False,
                                dynamic_shapes=({0: torch.export.Dim("n")},))
    assert program is not None
    buffer = io.BytesIO()
    program.save(buffer)
    return buffer.getvalue()


def onnx_peer(act: str, session: Any, name: str, x: np.ndarray) -> Peer:
    return Peer(act, lambda i: session.run(None, {name: x}))


def onnx_runs(rounds: int, sample_s: float, rng: random.Random) -> dict[str, Any]:
    """Per activation: median seconds per run in onnxruntime (CPU, 1 thread) and the nodes."""
    import onnx
    import onnxruntime  # type: ignore[import-untyped, unused-ignore]

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    x = (np.random.default_rng(0).standard_normal(ONNX_SIZE) * 4).astype(np.float32)
    peers, nodes = [], {}
    for act in ACTIVATIONS:
        model = onnx_model(act)
        nodes[act] = [node.op_type for node in onnx.load_from_string(model).graph.node]
        session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        peers.append(onnx_peer(act, session, name, x))
    times = measure(peers, rounds, sample_s, rng)
    return {"seconds": {name: statistics.median(ts) for name, ts in times.items()}, "nodes": nodes,
            "onnxruntime": onnxruntime.__version__}


def export_nodes() -> dict[str, list[str]]:
    """The core ATen ops of torch.export(...).run_decompositions() for each activation."""
    out = {}
    for act in ACTIVATIONS:
        program = torch.export.export(activation(act), (torch.randn(16),)).run_decompositions()
        out[act] = [str(node.target) for node in program.graph.nodes if node.op == "call_function"]
    return out


def saved_for_backward(dtypes: Sequence[str] = tuple(SAVED_DTYPES), size: int = 4096) -> dict[str, dict[str, float]]:
    """Bytes per element that each activation's compiled forward keeps for its backward, per dtype."""
    out: dict[str, dict[str, float]] = {}
    for name in dtypes:
        out[name] = {}
        for act in ACTIVATIONS:
            torch._dynamo.reset()  # a fresh compile (the module's forward is already compiled above)
            fn = torch.compile(activation(act), fullgraph=True)
            x = torch.randn(size, dtype=SAVED_DTYPES[name], requires_grad=True) * 1
            saved: list[torch.Tensor] = []

            def pack(t: torch.Tensor, saved: list[torch.Tensor] = saved) -> torch.Tensor:
                saved.append(t)
                return t

            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                y = fn(x)
            y.sum().backward()
            out[name][act] = sum(t.numel() * t.element_size() for t in saved) / size
    return out


def saved_ratio(saved: dict[str, dict[str, float]]) -> float:
    """The largest LELU bytes / SiLU bytes over the dtypes."""
    return max(per_act["LELU"] / per_act["SiLU"] for per_act in saved.values())


def render(report: dict[str, Any]) -> str:
    m, step, ort = report["machine"], report["step"], report["onnx"]
    lines = [
        f"LELU against SiLU and GELU on the paths a user runs besides eager; {m['date']} on {m['cpu']} "
        f"({m['cpus']} CPUs), torch {m['torch']}, by `{report['command']}`: {report['rounds']} interleaved rounds, "
        "medians.",
        "",
        f"### Training step ({report['threads']} threads)",
        "",
        f"`nn.Sequential(nn.Linear({report['width']}, {report['hidden']}), act, nn.Linear({report['hidden']}, "
        f"{report['width']}))`, batch {report['batch']}, float32, MSE loss, SGD; compiled: the model under "
        "`torch.compile(fullgraph=True)` (Inductor), the optimizer eager.",
        "",
        "| activation | eager step | compiled step | compiled / compiled SiLU | target | met |",
        "|---|---|---|---|---|---|",
    ]
    silu = step["SiLU compiled"]
    for act in ACTIVATIONS:
        ratio = step[f"{act} compiled"] / silu
        target = f"<= {TARGET_STEP_VS_SILU}" if act == "LELU" else ""
        met = ("yes" if ratio <= TARGET_STEP_VS_SILU else "**no**") if act == "LELU" else ""
        lines.append(f"| {act} | {step[f'{act} eager'] * 1e3:.2f} ms | {step[f'{act} compiled'] * 1e3:.2f} ms | "
                     f"{ratio:.3f} | {target} | {met} |")
    lines += [
        "",
        f"### ONNX export in onnxruntime {ort['onnxruntime']} (CPU, 1 thread, 2^{ONNX_SIZE.bit_length() - 1} float32)",
        "",
        "`torch.onnx.export(module, (x,), dynamo=True)` of the activation alone; onnxruntime fuses "
        "x * Sigmoid(a x) into one QuickGelu node.",
        "",
        "| activation | nodes | time | / SiLU | target | met |",
        "|---|---|---|---|---|---|",
    ]
    osilu = ort["seconds"]["SiLU"]
    for act in ACTIVATIONS:
        ratio = ort["seconds"][act] / osilu
        target = f"<= {TARGET_ONNX_VS_SILU}" if act == "LELU" else ""
        met = ("yes" if ratio <= TARGET_ONNX_VS_SILU else "**no**") if act == "LELU" else ""
        lines.append(f"| {act} | {', '.join(ort['nodes'][act])} | {ort['seconds'][act] * 1e3:.3f} ms | "
                     f"{ratio:.2f} | {target} | {met} |")
    lines += ["", "### Core ATen graph of torch.export(...).run_decompositions()", "",
              "| activation | ops | the ops |", "|---|---|---|"]
    for act, ops in report["export"].items():
        lines.append(f"| {act} | {len(ops)} | {', '.join(op.removeprefix('aten.') for op in ops)} |")
    if "saved" in report:
        saved = report["saved"]
        lines += ["", "### What the compiled forward saves for the backward", "",
                  "Bytes per element of the tensors the compiled forward (Inductor, `fullgraph=True`) keeps for "
                  "the backward, from `torch.autograd.graph.saved_tensors_hooks`; target: LELU no more than SiLU.",
                  "", "| activation | " + " | ".join(saved) + " | target | met |",
                  "|---|" + "---|" * len(saved) + "---|---|"]
        met = "yes" if saved_ratio(saved) <= 1 else "**no**"
        for act in ACTIVATIONS:
            cells = " | ".join(f"{per_act[act]:g}" for per_act in saved.values())
            lines.append(f"| {act} | {cells} | {'<= SiLU' if act == 'LELU' else ''} | {met if act == 'LELU' else ''} |")
    return "\n".join(lines) + "\n"


def check(report: dict[str, Any]) -> list[tuple[str, float, bool]]:
    step = report["step"]["LELU compiled"] / report["step"]["SiLU compiled"]
    ort = report["onnx"]["seconds"]["LELU"] / report["onnx"]["seconds"]["SiLU"]
    checks = [(f"compiled LELU step / compiled SiLU step <= {TARGET_STEP_VS_SILU}", step, step <= TARGET_STEP_VS_SILU),
              (f"LELU ONNX / SiLU ONNX in onnxruntime <= {TARGET_ONNX_VS_SILU}", ort, ort <= TARGET_ONNX_VS_SILU)]
    if "saved" in report:
        ratio = saved_ratio(report["saved"])
        checks.append(("compiled LELU saved bytes / compiled SiLU saved bytes <= 1", ratio, ratio <= 1))
    return checks


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tools/lelu bench --paths", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paths", action="store_true", help="(selects this mode)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="threads of the training step (default: all)")
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--hidden", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--sample-ms", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--publish", action="store_true",
                        help="also write BENCHMARKS.md's compiled training step, ONNX and export section")
    parser.add_argument("--render", type=Path, metavar="PATHS_JSON",
                        help="measure nothing: render (and with --publish, publish) a saved paths.json")
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if args.render is not None:
        report = json.loads(args.render.read_text())
    else:
        rng = random.Random(args.seed)
        threads = torch.get_num_threads()
        try:
            torch.set_num_threads(args.threads)
            print(f"[bench] training step, {args.threads} threads (compiling three models first)", file=sys.stderr)
            step = training_steps(args.batch, args.width, args.hidden, args.rounds, args.sample_ms / 1000, rng)
            torch.set_num_threads(1)
            print("[bench] ONNX export in onnxruntime", file=sys.stderr)
            ort = onnx_runs(args.rounds, args.sample_ms / 1000, rng)
        finally:
            torch.set_num_threads(threads)
        report = {"machine": machine_info(), "command": "tools/lelu bench " + " ".join(argv),
                  "rounds": args.rounds, "threads": args.threads, "batch": args.batch, "width": args.width,
                  "hidden": args.hidden, "step": step, "onnx": ort, "export": export_nodes(),
                  "saved": saved_for_backward()}
    markdown = render(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "paths.json").write_text(json.dumps(report, indent=1))
    (args.out / "paths.md").write_text("# LELU on the compiled and exported paths\n\n" + markdown)
    if args.publish:
        SECTION.publish(REPO / "BENCHMARKS.md", markdown)
        print(f"[bench] wrote the {SECTION.heading.lstrip('# ')} section of {REPO / 'BENCHMARKS.md'}")
    print(markdown)
    for what, value, ok in check(report):
        print(f"[bench] target {'met    ' if ok else 'NOT MET'} {what}: {value:.3f}")
    return 0
