"""`tools/lelu accuracy`: ULP error of lelu, its derivatives and its peers against mpmath.

Runs in the overlay's virtual environment, with the references of test/lelu_reference.py:
mpmath at 50 digits for float64 results, and the float64 evaluation (checked against mpmath by
test_accuracy.py) for float32 and narrower results.  Measured:

* lelu forward (F.lelu), backward (lelu_backward with grad 1) and double backward (autograd of
  the backward, create_graph=True), against lelu, lelu', lelu'';
* the compiled path: F.lelu and lelu_backward under torch.compile (Inductor, dynamic shapes), which
  runs the kernel's element functions, held to the native kernel's bounds (reported, not a failure);
* the exported path: the core ATen decompositions that torch.export's run_decompositions() and
  OpInfo's reference use (torch._refs lelu, torch._decomp lelu_backward; issue 17's bounds,
  reported, not a failure), and the dynamo ONNX
  export of F.lelu run in onnxruntime (float32 only, reported with no bound);
* the peers: the issue's x * torch.sigmoid(k * x) and F.silu(k * x) / k against lelu, and F.silu,
  F.gelu, F.mish against their own references;
* inputs: a dense float32 grid of [-20, 20], random samples of every finite exponent (both
  signs, subnormals included), the float32 underflow band [-60, -40] and every float32 within
  0.05 of x0 (every float32 in both), every finite bfloat16 and float16, and for float64
  mpmath-checked points (grid, every exponent, the float64 underflow band);
* the special values forward and backward, next to the mathematical limits.

Output: report.md, results.json and accuracy.png (ULP error vs x per dtype) in `--out`
(build/reports/accuracy), and a short summary on the terminal; `--publish` also writes ACCURACY.md
and docs/accuracy/.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import torch
import torch.nn.functional as F
from lelu_reference import (
    K64,
    X0,
    all_finite_values,
    dd_reference,
    f64_d2lelu,
    f64_dlelu,
    f64_lelu,
    float32_range,
    random_every_exponent,
    ulp,
    ulp_error,
)

from lelu_tools import gpu_bench
from lelu_tools.reports import publish_report

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "build" / "reports" / "accuracy"
DOCS = REPO / "docs" / "accuracy"
MP_DPS = 50
DTYPES = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16, "float16": torch.float16}
#: the error bounds of the native kernel (test/test_accuracy.py)
FORWARD_MAX_ULP = 3.0
BACKWARD_MAX_ULP = 4.0
NEAR_X0_ABS_FLOAT32 = 1e-7
# lelu'' = k s (1 - s) (2 + k x (1 - 2 s)) vanishes at x = +-X2: next to them its relative error has
# no bound, so the double backward's statistics leave out the points within 0.01 of them.
X2 = 1.3228349991888276
SPECIAL_X = [-math.inf, -1e30, -100.0, -50.0, -0.0, 0.0, "subnormal", 1e30, math.inf, math.nan]

Array = np.ndarray[Any, Any]


# ---------------------------------------------------------------------------------------------
# references
# ---------------------------------------------------------------------------------------------


def _mp_unary(fn: Callable[[Any], Any], pos_inf: float, neg_inf: float) -> Callable[[float], Any]:
    def ref(x: float) -> Any:
        if math.isnan(x):
            return mpmath.mpf("nan")
        if math.isinf(x):
            return mpmath.mpf(pos_inf if x > 0 else neg_inf)
        with mpmath.workdps(MP_DPS):
            return fn(mpmath.mpf(x))

    return ref


def _mp_silu(x: Any) -> Any:
    return x / (1 + mpmath.exp(-x)) if x > -1e6 else mpmath.mpf(0)


def _mp_gelu(x: Any) -> Any:
    if abs(x) > 60:  # the erfc factor is 2 or 0 to far below the smallest float64
        return x if x > 0 else mpmath.mpf(0)
    return x / 2 * mpmath.erfc(-x / mpmath.sqrt(2))


def _mp_mish(x: Any) -> Any:
    return x * mpmath.tanh(mpmath.log1p(mpmath.exp(x)))


MP_PEERS = {
    "silu": _mp_unary(_mp_silu, math.inf, 0.0),
    "gelu": _mp_unary(_mp_gelu, math.inf, 0.0),
    "mish": _mp_unary(_mp_mish, math.inf, 0.0),
}


def mp_reference(name: str, x: Array) -> tuple[Array, Array]:
    """The double-double reference (hi, lo) of lelu, dlelu, d2lelu or a peer, at every x."""
    if name in ("lelu", "dlelu", "d2lelu"):
        hi, lo = dd_reference(name, x)
        return np.asarray(hi), np.asarray(lo)
    fn = MP_PEERS[name]
    flat = np.asarray(x, dtype=np.float64).ravel()
    unique, inverse = np.unique(flat, return_inverse=True)
    pairs = np.empty((unique.size, 2))
    for i, v in enumerate(unique):
        value = fn(float(v))
        if mpmath.isnan(value) or mpmath.isinf(value):
            pairs[i] = (float(value), 0.0)
            continue
        with mpmath.workdps(MP_DPS):
            hi = float(value)
            pairs[i] = (hi, float(value - hi))
    return pairs[inverse, 0].reshape(np.shape(x)), pairs[inverse, 1].reshape(np.shape(x))


def _f64_silu(x: Array) -> Array:
    with np.errstate(over="ignore"):
        return np.where(np.isneginf(x), -0.0, x / (1.0 + np.exp(-x)))


_erfc = np.frompyfunc(math.erfc, 1, 1)


def _f64_gelu(x: Array) -> Array:
    return np.asarray(x / 2 * np.asarray(_erfc(-x / math.sqrt(2)), dtype=np.float64), dtype=np.float64)


def _f64_mish(x: Array) -> Array:
    with np.errstate(over="ignore"):
        return np.where(np.isneginf(x), -0.0, x * np.tanh(np.log1p(np.exp(x))))


#: float64 references, used for results of float32 and narrower types only
F64_REFERENCES: dict[str, Callable[[Array], Array]] = {
    "lelu": f64_lelu,
    "dlelu": f64_dlelu,
    "d2lelu": f64_d2lelu,
    "silu": _f64_silu,
    "gelu": _f64_gelu,
    "mish": _f64_mish,
}


def reference(name: str, x: Array, dtype: torch.dtype) -> tuple[Array, Array | None]:
    if dtype == torch.float64:
        return mp_reference(name, x)
    with np.errstate(all="ignore"):
        return F64_REFERENCES[name](x), None


# ---------------------------------------------------------------------------------------------
# what is measured
# ---------------------------------------------------------------------------------------------


def _k(x: torch.Tensor) -> float:
    return float(torch.tensor(K64, dtype=x.dtype)) if x.dtype != torch.float64 else K64


def lelu_backward_native(x: torch.Tensor) -> torch.Tensor:
    grad: torch.Tensor = torch.ops.aten.lelu_backward(torch.ones_like(x), x)
    return grad


def lelu_double_backward(x: torch.Tensor) -> torch.Tensor:
    xg = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(F.lelu(xg).sum(), xg, create_graph=True)  # type: ignore[attr-defined, unused-ignore]
    (gg,) = torch.autograd.grad(g.sum(), xg)
    return gg.detach()


_compiled: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {}
_onnx: dict[str, Any] = {}


def exported_lelu(x: torch.Tensor) -> torch.Tensor:
    """The core ATen decomposition of lelu (what run_decompositions() puts in the graph), eagerly."""
    from torch._refs.nn.functional import lelu  # type: ignore[attr-defined, unused-ignore]

    out: torch.Tensor = lelu(x)
    return out


def exported_lelu_backward(x: torch.Tensor) -> torch.Tensor:
    from torch._decomp.decompositions import lelu_backward  # type: ignore[attr-defined, unused-ignore]

    out: torch.Tensor = lelu_backward(torch.ones_like(x), x)
    return out


def onnx_lelu(x: torch.Tensor) -> torch.Tensor:
    """F.lelu exported with torch.onnx.export(dynamo=True) and run in onnxruntime (CPU)."""
    if "session" not in _onnx:
        import onnxruntime  # type: ignore[import-untyped, unused-ignore]
        from torch import nn

        program = torch.onnx.export(nn.Sequential(nn.LELU()).eval(), (torch.randn(16),),  # type: ignore[attr-defined, unused-ignore]
                                    dynamo=True, verbose=False, dynamic_shapes=({0: torch.export.Dim("n")},))
        assert program is not None
        _onnx["session"] = onnxruntime.InferenceSession(program.model_proto.SerializeToString(),
                                                        providers=["CPUExecutionProvider"])
    session = _onnx["session"]
    (y,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    return torch.from_numpy(np.asarray(y))


def compiled(name: str, fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """fn under torch.compile (Inductor, dynamic shapes: one compilation per dtype), made on first use."""

    def call(x: torch.Tensor) -> torch.Tensor:
        if name not in _compiled:
            _compiled[name] = torch.compile(fn, fullgraph=True, dynamic=True)
        out: torch.Tensor = _compiled[name](x)
        return out

    return call


#: name -> (function of a tensor, reference name)
FUNCTIONS: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], str]] = {
    "F.lelu": (lambda x: F.lelu(x), "lelu"),  # type: ignore[attr-defined, unused-ignore]
    "lelu_backward": (lelu_backward_native, "dlelu"),
    # Inductor's lowering: the kernel's element functions in the fused loop
    "compiled F.lelu": (compiled("lelu", lambda x: F.lelu(x)), "lelu"),  # type: ignore[attr-defined, unused-ignore]
    "compiled lelu_backward": (compiled("lelu_backward", lelu_backward_native), "dlelu"),
    # the core ATen decompositions (torch.export, the PrimTorch reference) and the ONNX export
    "exported F.lelu": (exported_lelu, "lelu"),
    "exported lelu_backward": (exported_lelu_backward, "dlelu"),
    "ONNX F.lelu (onnxruntime)": (onnx_lelu, "lelu"),
    "lelu double backward": (lelu_double_backward, "d2lelu"),
    "x*sigmoid(kx)": (lambda x: x * torch.sigmoid(_k(x) * x), "lelu"),
    "F.silu(kx)/k": (lambda x: F.silu(_k(x) * x) / _k(x), "lelu"),
    "F.silu": (F.silu, "silu"),
    "F.gelu": (F.gelu, "gelu"),
    "F.mish": (F.mish, "mish"),
}
LELU_NATIVE = ("F.lelu", "lelu_backward")
#: the compiled path runs the kernel's element functions: held to the native kernel's bounds
LELU_COMPILED = ("compiled F.lelu", "compiled lelu_backward")
#: the core ATen decompositions: held to issue 17's bounds for the exported path, forward / backward
LELU_EXPORTED = ("exported F.lelu", "exported lelu_backward")
EXPORTED_BOUNDS = {torch.float32: (4.0, 6.0), torch.float64: (3.0, 4.0), torch.bfloat16: (0.51, 0.51),
                   torch.float16: (0.51, 0.51)}
#: measured in float32 only
FLOAT32_ONLY = ("ONNX F.lelu (onnxruntime)",)


def input_sets(quick: bool) -> dict[str, tuple[torch.dtype, Array]]:
    """name -> (dtype, inputs as float64 values exact in that dtype)."""
    rng = np.random.default_rng(2)
    grid_points = 20_001 if quick else 2_000_001
    band_step = 101 if quick else 1
    per_exponent = 8 if quick else 64
    f64_grid = 401 if quick else 4001
    sets: dict[str, tuple[torch.dtype, Array]] = {
        "float32 grid [-20, 20]": (torch.float32, np.linspace(-20, 20, grid_points, dtype=np.float32).astype(float)),
        "float32 every exponent": (torch.float32, random_every_exponent(torch.float32, per_exponent, seed=1)),
        "float32 underflow band [-60, -40]": (torch.float32, float32_range(-60.0, -40.0, band_step).astype(np.float64)),
        "float32 within 0.05 of x0": (torch.float32, float32_range(X0 - 0.05, X0 + 0.05, band_step).astype(np.float64)),
        "bfloat16 every value": (torch.bfloat16, all_finite_values(torch.bfloat16).double().numpy()),
        "float16 every value": (torch.float16, all_finite_values(torch.float16).double().numpy()),
        "float64 grid [-20, 20]": (
            torch.float64,
            np.linspace(-20, 20, f64_grid) + rng.uniform(-1e-3, 1e-3, f64_grid),
        ),
        "float64 random [-20, 20]": (torch.float64, rng.uniform(-20, 20, 4_000 if quick else 40_000)),
        "float64 random within 0.3 of x0": (torch.float64, X0 + rng.uniform(-0.3, 0.3, 2_000 if quick else 20_000)),
        "float64 every exponent": (torch.float64, random_every_exponent(torch.float64, 1 if quick else 4, seed=3)),
        "float64 underflow band [-420, -370]": (
            torch.float64,
            np.linspace(-420, -370, 101 if quick else 1001) + rng.uniform(-0.02, 0.02, 101 if quick else 1001),
        ),
    }
    return sets


@dataclass
class ErrorStats:
    function: str
    inputs: str
    dtype: str
    points: int
    max_ulp: float
    p999_ulp: float
    x_at_max: float
    bound: float | None
    ok: bool | None


def measure(name: str, set_name: str, dtype: torch.dtype, x: Array) -> tuple[ErrorStats, Array]:
    fn, ref_name = FUNCTIONS[name]
    xt = torch.from_numpy(x).to(dtype)
    with torch.no_grad() if name != "lelu double backward" else torch.enable_grad():
        result = fn(xt)
    hi, lo = reference(ref_name, x, dtype)
    err = ulp_error(result, hi, dtype, lo)
    bound = None
    ok = None
    near_x0 = np.abs(x - X0) < 0.01
    if ref_name == "dlelu":  # lelu' vanishes at x0: only an absolute bound holds next to it
        err = np.where(near_x0, 0.0, err)
    if name in LELU_NATIVE or name in LELU_COMPILED:
        bound = FORWARD_MAX_ULP if ref_name == "lelu" else BACKWARD_MAX_ULP
        near_x0 = np.abs(x - X0) < 0.01
        if dtype in (torch.float32, torch.float64):
            check = err if ref_name == "lelu" else err[~near_x0]
            ok = bool(check.max(initial=0.0) <= bound)
        else:  # computed in float and rounded once: 0.5 ULP plus the float error before that rounding
            float_err = bound * ulp(hi, torch.float32)
            if ref_name != "lelu":
                float_err = np.where(near_x0, NEAR_X0_ABS_FLOAT32, float_err)
            ok = bool((err <= 0.5 + float_err / ulp(hi, dtype)).all())
    if name in LELU_EXPORTED:
        bound = EXPORTED_BOUNDS[dtype][0 if ref_name == "lelu" else 1]
        ok = bool(err.max(initial=0.0) <= bound)  # the backward's err is 0 within 0.01 of x0
    finite = np.where(np.isfinite(err), err, np.inf)
    if name == "lelu double backward":
        finite = np.where(np.abs(np.abs(x) - X2) < 0.01, 0.0, finite)
    i = int(np.argmax(finite))
    stats = ErrorStats(
        function=name,
        inputs=set_name,
        dtype=str(dtype).removeprefix("torch."),
        points=int(x.size),
        max_ulp=float(finite[i]),
        p999_ulp=float(np.percentile(np.minimum(finite, 1e300), 99.9)),
        x_at_max=float(x[i]),
        bound=bound,
        ok=ok,
    )
    return stats, err


# ---------------------------------------------------------------------------------------------
# special values
# ---------------------------------------------------------------------------------------------


def special_inputs(dtype: torch.dtype) -> list[float]:
    subnormal = torch.finfo(dtype).smallest_normal / 4
    values = []
    for v in SPECIAL_X:
        if v == "subnormal":
            values.append(float(torch.tensor(subnormal, dtype=dtype)))
        else:
            assert isinstance(v, float)
            values.append(float(torch.tensor(v, dtype=dtype)))  # 1e30 is inf in float16: stays so
    return values


def limit(name: str, x: float, dtype: torch.dtype) -> float:
    """The mathematical value (the limit at +-inf), rounded to dtype, with the sign of a zero."""
    if math.isnan(x):
        return math.nan
    if name == "lelu":
        if math.isinf(x):
            return math.inf if x > 0 else -0.0
        exact = float(mp_reference("lelu", np.array([x]))[0][0]) if x != 0 else x
        if exact == 0.0 and x < 0:
            exact = -0.0  # lelu(x) < 0 for x < 0: it underflows to -0
    else:
        if math.isinf(x):
            return 1.0 if x > 0 else 0.0
        exact = float(mp_reference("dlelu", np.array([x]))[0][0])
        if exact == 0.0 and x < 0:
            exact = -0.0  # lelu' < 0 for x < x0: it underflows to -0
    return float(torch.tensor(float(exact), dtype=torch.float64).to(dtype))


@dataclass
class SpecialRow:
    dtype: str
    x: float
    lelu: float
    lelu_limit: float
    dlelu: float
    dlelu_limit: float
    ok: bool


def _same(a: float, b: float, dtype: torch.dtype, bound: float) -> bool:
    """a is b, or within `bound` ULPs of it (the sign of a zero is not compared here)."""
    if math.isnan(b):
        return math.isnan(a)
    if a == b:
        return True
    if math.isinf(a) or math.isinf(b):
        return False
    err = ulp_error(np.array([a]), np.array([b]), dtype)[0]
    return bool(err <= bound)


def special_values(dtypes: Sequence[torch.dtype]) -> list[SpecialRow]:
    rows = []
    for dtype in dtypes:
        xs = special_inputs(dtype)
        xt = torch.tensor(xs, dtype=dtype)
        y = F.lelu(xt).double().tolist()  # type: ignore[attr-defined, unused-ignore]
        g = lelu_backward_native(xt).double().tolist()
        for x, yv, gv in zip(xs, y, g, strict=True):
            ly, lg = limit("lelu", x, dtype), limit("dlelu", x, dtype)
            # the result is the limit, correctly signed for lelu, within the kernel's ULP bounds
            signed_ok = not (ly == 0 and yv == 0) or math.copysign(1, ly) == math.copysign(1, yv)
            ok = _same(yv, ly, dtype, FORWARD_MAX_ULP) and signed_ok and _same(gv, lg, dtype, BACKWARD_MAX_ULP)
            rows.append(SpecialRow(str(dtype).removeprefix("torch."), x, yv, ly, gv, lg, ok))
    return rows


# ---------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------


def _num(v: float) -> str:
    if math.isnan(v):
        return "nan"
    if v == 0:
        return "-0.0" if math.copysign(1, v) < 0 else "0.0"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.9g}"


def render_summary(stats: list[ErrorStats], specials: list[SpecialRow]) -> list[str]:
    """The largest error of each function in each dtype, over all its input sets; the special values."""
    lines = ["## Summary", ""]
    dtypes = [d for d in DTYPES if any(s.dtype == d for s in stats)]
    if dtypes:
        lines += [
            "Max ULP error over all the input sets of a dtype (the sets are listed below).",
            "",
            "| function | " + " | ".join(dtypes) + " | within the bounds |",
            "|---|" + "---|" * (len(dtypes) + 1),
        ]
        for name in dict.fromkeys(s.function for s in stats):
            cells = []
            for dtype in dtypes:
                mine = [s.max_ulp for s in stats if s.function == name and s.dtype == dtype]
                cells.append(f"{max(mine):.3g}" if mine else "")
            checks = [s.ok for s in stats if s.function == name and s.ok is not None]
            cells.append(("yes" if all(checks) else "**no**") if checks else "")  # compiled rows: the same bounds
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += ["", "(The backward rows leave out the points within 0.01 of x0, where lelu' vanishes; the double "
                  "backward's, the points within 0.01 of +-1.32283, the zeros of lelu''. The compiled rows are "
                  "held to the native kernel's bounds, the exported rows to the exported path's: 4 ULP forward and "
                  "6 backward in float32, 3 and 4 in float64, 0.51 in bfloat16 and float16.)", ""]
    if specials:
        matched = sum(r.ok for r in specials)
        lines += [f"Special values (below): {matched} of {len(specials)} results of F.lelu and lelu_backward match "
                  "the mathematical limits.", ""]
    return lines


def render_markdown(stats: list[ErrorStats], specials: list[SpecialRow], command: str, image: str | None) -> str:
    lines = [
        f"torch {torch.__version__} with the LELU series; command: `{command}`.",
        "",
        "ULP error against mpmath (50 digits; float64 evaluation for float32 and narrower results, itself",
        "checked against mpmath by test/test_accuracy.py). Peers are measured on their own references;",
        "x * sigmoid(kx) and F.silu(kx)/k on lelu's. Bounds: the native kernel's (forward 3 ULP, backward 4",
        "ULP except within 0.01 of x0 = -0.70485; bfloat16/float16 0.5 ULP plus the float error before the",
        "final rounding). Backward rows leave out the points within 0.01 of x0, where lelu' vanishes and",
        "only an absolute bound holds. `compiled F.lelu` and `compiled lelu_backward` are torch.compile",
        "(Inductor, CPU, dynamic shapes), which inlines the kernel's element functions: held to the same",
        "bounds. `exported F.lelu` and `exported lelu_backward` are the core ATen decompositions that the",
        "run_decompositions() of torch.export emits (and OpInfo's reference), computed in the input's",
        "opmath type with the kernel's arithmetic in pointwise ops (no float64 for lower precisions),",
        "held to 4 ULP forward and 6 backward in float32, 3 and 4 in float64, 0.51 in bfloat16 and",
        "float16. `ONNX F.lelu (onnxruntime)` is the dynamo ONNX export (Mul, Sigmoid, Mul; float32) run",
        "in onnxruntime, which fuses it into QuickGelu: no bound here (onnxruntime's Sigmoid saturates,",
        "so the tail below x = -10 is far off in ULP though within 3e-7 absolute); the tests hold it to",
        "the float32 tolerances of torch.testing on [-20, 20].",
        "",
        *render_summary(stats, specials),
        "## By input set",
        "",
        "| function | inputs | points | max ULP | 99.9th pct | x at max | within the bound |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in stats:
        met = "" if s.ok is None else ("yes" if s.ok else "**no**")
        lines.append(
            f"| {s.function} | {s.inputs} | {s.points} | {s.max_ulp:.3g} | {s.p999_ulp:.3g} | {s.x_at_max:.9g} "
            f"| {met} |"
        )
    lines += [
        "",
        "## Special values",
        "",
        "| dtype | x | F.lelu | limit | lelu_backward | limit | matches |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in specials:
        lines.append(
            f"| {r.dtype} | {_num(r.x)} | {_num(r.lelu)} | {_num(r.lelu_limit)} | {_num(r.dlelu)} | "
            f"{_num(r.dlelu_limit)} | {'yes' if r.ok else '**no**'} |"
        )
    if image:
        lines += ["", f"![ULP error vs x]({image})"]
    return "\n".join(lines) + "\n"


def plot(curves: dict[str, dict[str, tuple[Array, Array]]], path: Path) -> None:
    """curves: dtype -> function -> (x, err); the max error in bins of x, per dtype."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(9, 6), squeeze=False)
    for ax, (dtype, functions) in zip(axes.ravel(), curves.items(), strict=False):
        for name, (x, err) in functions.items():
            order = np.argsort(x)
            xs, es = x[order], np.minimum(err[order], 1e6)
            bins = np.linspace(xs[0], xs[-1], 401)
            idx = np.clip(np.searchsorted(bins, xs) - 1, 0, 399)
            peak = np.zeros(400)
            np.maximum.at(peak, idx, es)
            centers = (bins[:-1] + bins[1:]) / 2
            style = {"linewidth": 1.8, "color": "black"} if name == "F.lelu" else {"linewidth": 0.9}
            ax.plot(centers, np.maximum(peak, 1e-3), label=name, **style)
        ax.set_yscale("log")
        ax.set_title(f"{dtype}: max ULP error per bin of x", fontsize=9)
        ax.set_xlabel("x")
        ax.grid(True, which="both", linewidth=0.3)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tools/lelu accuracy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer points (well under a minute)")
    parser.add_argument("--only-special", action="store_true", help="only the special-values table")
    parser.add_argument("--functions", nargs="+", choices=list(FUNCTIONS), help="default: all")
    parser.add_argument("--no-plots", action="store_true", help="write no PNG plot")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="report folder (default: build/reports/accuracy)")
    parser.add_argument("--publish", action="store_true",
                        help="also write ACCURACY.md and docs/accuracy/ from this run")
    parser.add_argument("--render", type=Path, metavar="GPU_ACCURACY_JSON",
                        help="measure nothing: the GPU section (with --publish, of ACCURACY.md) from "
                        "`tools/lelu gpu-check`'s gpu-accuracy.json")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.render is not None:
        return gpu_bench.render_file(args.render, args.out, REPO / "ACCURACY.md" if args.publish else None)
    if not hasattr(F, "lelu"):
        print("error: this torch has no F.lelu: run through `tools/lelu accuracy` (the overlay)", file=sys.stderr)
        return 1
    start = time.perf_counter()
    stats: list[ErrorStats] = []
    curves: dict[str, dict[str, tuple[Array, Array]]] = {}
    if not args.only_special:
        sets = input_sets(args.quick)
        names = args.functions or list(FUNCTIONS)
        for set_name, (dtype, x) in sets.items():
            for name in names:
                if name in FLOAT32_ONLY and dtype != torch.float32:
                    continue
                s, err = measure(name, set_name, dtype, x)
                stats.append(s)
                flag = "" if s.ok is None else ("  ok" if s.ok else "  OVER THE BOUND")
                print(f"[accuracy] {name:<22} {set_name:<36} max {s.max_ulp:9.3g} ULP at x = {s.x_at_max:<14.8g}"
                      f" p99.9 {s.p999_ulp:.3g}{flag}", flush=True)
                if name in ("F.lelu", "lelu_backward", "x*sigmoid(kx)", "F.silu(kx)/k") and (
                    "grid" in set_name or "every value" in set_name
                ):
                    curves.setdefault(s.dtype, {})[name] = (x, err)
    specials = special_values(list(DTYPES.values()))
    bad = [r for r in specials if not r.ok]
    print(f"[accuracy] special values: {len(specials) - len(bad)}/{len(specials)} match the limits")
    for r in bad:
        print(f"[accuracy]   {r.dtype} x={_num(r.x)}: lelu {_num(r.lelu)} (limit {_num(r.lelu_limit)}), "
              f"lelu' {_num(r.dlelu)} (limit {_num(r.dlelu_limit)})")
    args.out.mkdir(parents=True, exist_ok=True)
    image = None
    if curves and not args.no_plots:
        plot(curves, args.out / "accuracy.png")
        image = "accuracy.png"
    command = " ".join(["tools/lelu accuracy", *argv])
    (args.out / "report.md").write_text("# LELU accuracy report\n\n" + render_markdown(stats, specials, command, image))
    (args.out / "results.json").write_text(
        json.dumps({"command": command, "errors": [asdict(s) for s in stats],
                    "special_values": [asdict(r) for r in specials]}, indent=1, default=str)
    )
    if args.publish:
        publish(render_markdown(stats, specials, command, "docs/accuracy/accuracy.png" if image else None),
                args.out / image if image else None)
    over = [s for s in stats if s.ok is False and s.function in LELU_NATIVE]
    compiled_over = [s for s in stats if s.ok is False and s.function in (*LELU_COMPILED, *LELU_EXPORTED)]
    print(f"[accuracy] {len(stats)} measurements in {time.perf_counter() - start:.0f} s; "
          f"{len(over)} over the kernel's bounds, {len(compiled_over)} of the compiled and exported paths' over theirs "
          f"(reported, not a failure); wrote {args.out / 'report.md'}")
    return 1 if over or bad else 0


def publish(markdown: str, image: Path | None) -> None:
    """ACCURACY.md at the repository root and its plot under docs/accuracy/."""
    publish_report(REPO / "ACCURACY.md", "LELU accuracy", "tools/lelu accuracy --publish",
                   "The ULP error of lelu, its derivatives and its peers",
                   markdown + gpu_bench.SECTION.kept(REPO / "ACCURACY.md"),
                   [] if image is None else [image], DOCS)
    print(f"[accuracy] wrote {REPO / 'ACCURACY.md'}" + (f" and {DOCS / image.name}" if image else ""))


if __name__ == "__main__":
    sys.exit(main())
