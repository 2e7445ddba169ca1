"""The timing harness shared by `tools/lelu bench` and its modes (--capabilities, --paths): peers
timed in interleaved rounds, the machine's load meanwhile, and what a report says of the machine."""

from __future__ import annotations

import dataclasses
import datetime
import gc
import math
import os
import platform
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "build" / "reports" / "bench"


def _cpu_busy_ticks() -> int | None:
    """Busy clock ticks of all CPUs since boot (Linux /proc/stat), None elsewhere."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    values = [int(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values[:8]) - idle


class LoadProbe:
    """The share of the machine's CPUs that *other* processes used between start() and stop()."""

    def __init__(self) -> None:
        self.ticks_per_s = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.cpus = os.cpu_count() or 1
        self._start: tuple[float, int | None, float] = (0.0, None, 0.0)

    def start(self) -> None:
        self._start = (time.perf_counter(), _cpu_busy_ticks(), time.process_time())

    def stop(self) -> float | None:
        wall0, busy0, own0 = self._start
        busy1 = _cpu_busy_ticks()
        wall = time.perf_counter() - wall0
        if busy0 is None or busy1 is None or wall <= 0:
            return None
        others = (busy1 - busy0) / self.ticks_per_s - (time.process_time() - own0)
        return max(0.0, others / (wall * self.cpus))


# ---------------------------------------------------------------------------------------------
# the harness
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Peer:
    """One thing to time: `run` does one call; `prepare` (untimed) runs before every sample."""

    name: str
    run: Callable[[int], object]  # argument: the index of the call within the sample
    prepare: Callable[[int], None] | None = None  # argument: the number of calls in the sample
    max_number: int = 10_000  # calls per sample at most


def _sample(peer: Peer, number: int) -> float:
    if peer.prepare is not None:
        peer.prepare(number)
    t0 = time.perf_counter()
    for i in range(number):
        peer.run(i)
    return (time.perf_counter() - t0) / number


def measure(peers: Sequence[Peer], rounds: int, sample_s: float, rng: random.Random) -> dict[str, list[float]]:
    """Seconds per call of each peer, one value per round, the peers interleaved in random order."""
    numbers: dict[str, int] = {}
    for peer in peers:  # warm-up and calibration
        single = min(_sample(peer, 1), _sample(peer, 1))
        numbers[peer.name] = max(1, min(peer.max_number, math.ceil(sample_s / max(single, 1e-9))))
        _sample(peer, min(numbers[peer.name], 3))
    times: dict[str, list[float]] = {peer.name: [] for peer in peers}
    order = list(peers)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            rng.shuffle(order)
            for peer in order:
                times[peer.name].append(_sample(peer, numbers[peer.name]))
    finally:
        if gc_was_enabled:
            gc.enable()
    return times


def machine_info() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
        "torch_git": torch.version.git_version,
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
