"""`tools/lelu demo`: LELU working inside a stock torch (the pinned 2.13.0, or --torch's), in a few lines.

Runs in the overlay's virtual environment (torch with the series applied and built); its first
line names the torch and the CUDA it runs on.
"""

from __future__ import annotations

import math
import time

import mpmath
import torch
import torch.nn.functional as F
from torch import nn

mpmath.mp.dps = 50
K = mpmath.pi / mpmath.sqrt(3)


def reference(x: float) -> float:
    """lelu(x) to 50 digits, rounded to float64."""
    if math.isinf(x):
        return -0.0 if x < 0 else math.inf
    xm = mpmath.mpf(x)
    return float(xm / (1 + mpmath.exp(-K * xm)))


def _ulps(got: float, want: float, dtype: torch.dtype) -> float:
    if got == want:
        return 0.0
    info = torch.finfo(dtype)
    spacing: float = info.eps * max(abs(want), info.tiny)
    return abs(got - want) / spacing


def show_values() -> None:
    print("lelu(x) = x * sigmoid(k x), k = pi / sqrt(3), next to a 50-digit mpmath reference")
    print(f"{'x':>8} {'F.lelu float32':>18} {'F.lelu float64':>24} {'reference':>24}  ULP32")
    xs = [-57.0, -20.0, -3.0, -1.0, -0.70485444419638924, 0.0, 0.5, 1.0, 3.0]
    y32 = F.lelu(torch.tensor(xs, dtype=torch.float32))  # type: ignore[attr-defined, unused-ignore]
    y64 = F.lelu(torch.tensor(xs, dtype=torch.float64))  # type: ignore[attr-defined, unused-ignore]
    for x, a, b in zip(xs, y32.tolist(), y64.tolist(), strict=True):
        ref = reference(x)
        ulps = _ulps(a, float(torch.tensor(ref, dtype=torch.float32)), torch.float32)
        print(f"{x:>8.4g} {a:>18.9g} {b:>24.17g} {ref:>24.17g}  {ulps:.2f}")


def show_special_values() -> None:
    print("\nspecial values (SiLU, GELU and Mish give NaN at -inf)")
    x = torch.tensor([-math.inf, math.inf, math.nan, -0.0, 0.0], requires_grad=True)
    y = F.lelu(x)  # type: ignore[attr-defined, unused-ignore]
    (g,) = torch.autograd.grad(y.sum(), x)
    silu = F.silu(x.detach())
    for xi, yi, gi, si in zip(x.tolist(), y.tolist(), g.tolist(), silu.tolist(), strict=True):
        print(f"  x = {xi:>5}: lelu = {yi:>5}, lelu' = {gi:>5}   (F.silu: {si})")


def show_gradient() -> None:
    print("\ngradient: autograd through the native lelu_backward kernel")
    x = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64, requires_grad=True)
    y = F.lelu(x)  # type: ignore[attr-defined, unused-ignore]
    (g,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    (gg,) = torch.autograd.grad(g.sum(), x)
    print(f"  grad_fn: {type(y.grad_fn).__name__}; lelu'(-1, 0, 1) = {[round(v, 12) for v in g.tolist()]}")
    print(f"  lelu''(-1, 0, 1) = {[round(v, 12) for v in gg.tolist()]} (k/2 at 0 = {float(K / 2):.12f})")
    ok = torch.autograd.gradcheck(F.lelu, (x,)) and torch.autograd.gradgradcheck(F.lelu, (x,))  # type: ignore[attr-defined, unused-ignore]
    print(f"  gradcheck and gradgradcheck: {'pass' if ok else 'FAIL'}")


def show_module() -> None:
    print("\nnn.LELU in a small model")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.LELU(), nn.Linear(8, 1))
    print("  " + repr(model).replace("\n", "\n  "))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(64, 4)
    target = x.sum(1, keepdim=True).sin()
    losses = []
    for _ in range(50):
        opt.zero_grad()
        loss = F.mse_loss(model(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    print(f"  50 SGD steps: loss {losses[0]:.4f} -> {losses[-1]:.4f}")


def _median_time(fn: object, x: torch.Tensor, reps: int = 30) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn(x)  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def show_timing() -> None:
    n = 1 << 20
    x = torch.randn(n)
    k = float(K)
    torch.set_num_threads(1)
    for f in (F.lelu, F.silu):  # type: ignore[attr-defined, unused-ignore]
        f(x)
    lelu_t = _median_time(F.lelu, x)  # type: ignore[attr-defined, unused-ignore]
    silu_t = _median_time(F.silu, x)
    comp_t = _median_time(lambda t: t * torch.sigmoid(k * t), x)
    print("\nquick timing, float32, 2^20 elements, 1 thread (median of 30; `tools/lelu bench` measures properly)")
    print(f"  F.lelu {lelu_t * 1e3:.3f} ms, F.silu {silu_t * 1e3:.3f} ms, x*sigmoid(k*x) {comp_t * 1e3:.3f} ms")


def torch_line() -> str:
    """The torch and CUDA this runs on, e.g. `torch 2.11.0+cu130 (git 70d99e998b49), CUDA 13.0: no GPU`."""
    if torch.version.cuda is None:
        cuda = "CPU build"
    elif torch.cuda.is_available():
        cuda = f"CUDA {torch.version.cuda}: {torch.cuda.get_device_name()}"
    else:
        cuda = f"CUDA {torch.version.cuda}: no GPU visible"
    return f"torch {torch.__version__} (git {torch.version.git_version[:12]}), {cuda}, with the LELU series"


def show_cuda() -> None:
    if not torch.cuda.is_available():
        return
    print("\nCUDA: F.lelu and its gradient on the GPU next to the CPU kernel, 2^20 float32 and float64 values")
    for dtype in (torch.float32, torch.float64):
        x = torch.randn(1 << 20, dtype=dtype) * 8
        xc = x.cuda().requires_grad_()
        y = F.lelu(xc)  # type: ignore[attr-defined, unused-ignore]
        (g,) = torch.autograd.grad(y.sum(), xc)
        same_y = torch.equal(y.detach().cpu(), F.lelu(x))  # type: ignore[attr-defined, unused-ignore]
        same_g = torch.equal(g.cpu(), torch.ops.aten.lelu_backward(torch.ones_like(x), x))
        print(f"  {str(dtype).removeprefix('torch.')}: forward {'same bits' if same_y else 'DIFFERENT'}, "
              f"backward {'same bits' if same_g else 'DIFFERENT'}")


def main() -> None:
    print(torch_line() + "\n")
    show_values()
    show_special_values()
    show_gradient()
    show_module()
    show_cuda()
    show_timing()


if __name__ == "__main__":
    main()
