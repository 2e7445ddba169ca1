"""Run by `tools/lelu triton-check` in build/triton-venv with TRITON_INTERPRET=1: the Triton helpers
against the CPU kernel, bit for bit (see lelu_tools.triton_check)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import triton  # type: ignore[import-not-found, unused-ignore]
import triton.language as tl  # type: ignore[import-not-found, unused-ignore]
from lelu_reference import STRESS_VALUES, X0, float32_range, random_every_exponent
from triton.runtime import interpreter  # type: ignore[import-not-found, unused-ignore]

from lelu_tools.triton_check import exact_fma

BITS = {torch.float32: torch.int32, torch.float64: torch.int64}


def _create_fma(self: Any, x: Any, y: Any, z: Any) -> Any:
    return interpreter.TensorHandle(exact_fma(x.data, y.data, z.data), x.dtype.scalar)


# Kernels that apply the helpers elementwise, compiled in the helpers' namespace (the
# interpreter resolves names in a kernel's globals, not in closures).
KERNELS = """

@triton.jit
def forward_kernel(x_ptr, y_ptr, n, block: tl.constexpr):
    i = tl.program_id(0) * block + tl.arange(0, block)
    tl.store(y_ptr + i, lelu(tl.load(x_ptr + i, mask=i < n)), mask=i < n)


@triton.jit
def backward_kernel(g_ptr, x_ptr, y_ptr, n, block: tl.constexpr):
    i = tl.program_id(0) * block + tl.arange(0, block)
    grad = tl.load(g_ptr + i, mask=i < n)
    tl.store(y_ptr + i, lelu_backward(grad, tl.load(x_ptr + i, mask=i < n)), mask=i < n)
"""


def load_helpers(path: Path) -> dict[str, Any]:
    """The fragment's functions and the kernels, in a namespace with what triton_helpers.py imports."""
    from triton.language.extra import libdevice  # type: ignore[import-not-found, unused-ignore]

    namespace: dict[str, Any] = {"triton": triton, "tl": tl, "libdevice": libdevice}
    exec(compile(path.read_text() + KERNELS, str(path), "exec"), namespace)
    return namespace


def inputs(dtype: torch.dtype, points: int) -> torch.Tensor:
    rng = np.random.default_rng(5)
    bands = [np.linspace(-20, 20, points), np.linspace(-62, -38, points // 2), rng.uniform(-0.3, 0.3, points // 4) + X0,
             random_every_exponent(dtype, per_exponent=4, seed=6), np.array(STRESS_VALUES)]
    if dtype == torch.float32:
        bands.append(float32_range(X0 - 1e-4, X0 + 1e-4, 7).astype(np.float64))
    else:
        bands.append(np.linspace(-425, -360, points // 2))
    return torch.from_numpy(np.concatenate(bands)).to(dtype)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--helpers", type=Path, required=True)
    parser.add_argument("--points", type=int, default=4096)
    args = parser.parse_args(argv)
    interpreter.InterpreterBuilder.create_fma = _create_fma
    helpers = load_helpers(args.helpers)
    forward_kernel, backward_kernel = helpers["forward_kernel"], helpers["backward_kernel"]

    failed = 0
    for dtype in (torch.float32, torch.float64):
        x = inputs(dtype, args.points)
        grad = torch.linspace(-2, 2, x.numel(), dtype=torch.float64).to(dtype)
        y, dx = torch.empty_like(x), torch.empty_like(x)
        n, block = x.numel(), 1024
        forward_kernel[(triton.cdiv(n, block),)](x, y, n, block)
        backward_kernel[(triton.cdiv(n, block),)](grad, x, dx, n, block)
        for name, got, expected in (("lelu", y, F.lelu(x)),  # type: ignore[attr-defined, unused-ignore]
                                    ("lelu_backward", dx, torch.ops.aten.lelu_backward(grad, x))):
            differ = (got.view(BITS[dtype]) != expected.view(BITS[dtype])) & ~(got.isnan() & expected.isnan())
            count = int(differ.sum())
            failed += count
            example = f"; e.g. x = {x[differ][:3].tolist()}: {got[differ][:3].tolist()} against " \
                      f"{expected[differ][:3].tolist()}" if count else ""
            print(f"[triton-check] {str(dtype).removeprefix('torch.'):<8} {name:<14} {n} inputs: "
                  f"{count} differ from the CPU kernel's bits{example}", flush=True)
    print("[triton-check] " + ("the Triton helpers give the CPU kernel's bits" if not failed
                               else f"{failed} results differ"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
