"""`tools/lelu triton-check`: the Triton helpers of the [inductor] patch against the CPU kernel, bit
for bit, without a GPU.

Inductor's Triton kernels compute lelu and lelu_backward with `triton_helpers.lelu` and
`triton_helpers.lelu_backward` (fragments/torch/_inductor/runtime/triton_helpers.py/lelu.py),
written to give the ATen kernel's bits.  No GPU is lent here, so this runs them with Triton's
interpreter (TRITON_INTERPRET=1, numpy underneath) on the overlay's torch, in a venv of its own
(build/triton-venv: triton from tools/requirements-triton.txt, the overlay's packages through a .pth
file), and compares their results with F.lelu and lelu_backward on the CPU: float32 and float64,
special values, both underflow bands, every binade and the neighbourhood of x0.

One change to the interpreter: its `tl.fma` computes x * y + z with two roundings (numpy has no
fma), so the check replaces it with a correctly rounded one (exact rational arithmetic), as a GPU's
fma instruction is.  What the interpreter cannot show: the GPU compiler's own transformations (no
contraction can apply, every product that feeds a sum is an explicit fma; Triton's `tl.div_rn` and
`/` on float64 are IEEE divisions on NVIDIA GPUs).  `tools/lelu gpu-check` measures the same on a GPU.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np

from lelu_tools import overlay
from lelu_tools.common import REPO_ROOT, LeluError

VENV = REPO_ROOT / "build" / "triton-venv"
REQUIREMENTS = REPO_ROOT / "tools" / "requirements-triton.txt"
HELPERS = REPO_ROOT / "fragments/torch/_inductor/runtime/triton_helpers.py/lelu.py"


def _round_float32(exact: Fraction) -> np.float32:
    """The float32 nearest to a rational, ties to even (float(exact) then float32 may round twice)."""
    guess = np.float32(float(exact))
    candidates = [np.nextafter(guess, np.float32(-np.inf)), guess, np.nextafter(guess, np.float32(np.inf))]
    finite = [c for c in candidates if np.isfinite(c)]
    return min(finite, key=lambda c: (abs(Fraction(float(c)) - exact), int(np.array(c).view(np.int32)) & 1))


def exact_fma(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """a * b + c rounded once, elementwise (the interpreter's own rounds twice)."""
    a, b, c = np.broadcast_arrays(a, b, c)
    out = np.empty(a.shape, dtype=a.dtype)
    flat_out = out.reshape(-1)
    for i, (x, y, z) in enumerate(zip(a.reshape(-1).tolist(), b.reshape(-1).tolist(), c.reshape(-1).tolist(),
                                      strict=True)):
        if not all(map(np.isfinite, (x, y, z))):
            flat_out[i] = a.dtype.type(x) * a.dtype.type(y) + a.dtype.type(z)
            continue
        exact = Fraction(x) * Fraction(y) + Fraction(z)
        if exact == 0:  # IEEE 754: -0.0 only when x * y and z are both zeros of negative sign
            negative_product = (x == 0 or y == 0) and math.copysign(1.0, x) * math.copysign(1.0, y) < 0
            flat_out[i] = -0.0 if negative_product and z == 0 and math.copysign(1.0, z) < 0 else 0.0
        elif a.dtype == np.float64:
            flat_out[i] = float(exact)  # Fraction.__float__ rounds correctly
        else:
            flat_out[i] = _round_float32(exact)
    return out


def _venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> None:
    """build/triton-venv: triton, and the overlay venv's packages (torch with the series) behind it."""
    overlay.ensure(overlay.PINNED)
    python = _venv_python()
    stamp = VENV / "requirements.txt"
    if python.is_file() and stamp.is_file() and stamp.read_text() == REQUIREMENTS.read_text():
        return
    print(f"[triton-check] creating {VENV.relative_to(REPO_ROOT)} (triton; the overlay's torch)", flush=True)
    overlay_py = overlay.PINNED.py
    subprocess.run([str(overlay_py), "-m", "venv", "--clear", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "-r", str(REQUIREMENTS)],
                   check=True)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # addsitedir also runs the overlay's own .pth files (they load the series' operators)
    (Path(site) / "lelu-overlay.pth").write_text(
        f"import site; site.addsitedir({str(overlay.site_packages(overlay.PINNED))!r})\n")
    stamp.write_text(REQUIREMENTS.read_text())


def run(args: argparse.Namespace) -> int:
    ensure_venv()
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=os.pathsep.join([str(REPO_ROOT / "tools"),
                                                                            str(REPO_ROOT / "test")]))
    env[overlay.ROOT_ENV] = str(overlay.PINNED.root)
    cmd = [str(_venv_python()), "-m", "lelu_tools.triton_interp", "--helpers", str(HELPERS),
           "--points", str(args.points)]
    done = subprocess.run(cmd, env=env, cwd=REPO_ROOT, check=False)
    if done.returncode != 0:
        raise LeluError(f"triton-check failed ({done.returncode})")
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "triton-check", help="run the Triton helpers of the [inductor] patch in Triton's interpreter and "
        "compare their bits with the CPU kernel's (no GPU needed)")
    parser.add_argument("--points", type=int, default=4096,
                        help="dense points per input range (default 4096; about 25,000 inputs per dtype)")
    parser.set_defaults(run=run)
