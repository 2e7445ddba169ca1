"""What the training tasks share (`tools/lelu train`: lelu_tools.train, `--task lm`: lelu_tools.train_lm)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

#: the activations compared, in report order
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "GELU": nn.GELU,
    "SiLU": nn.SiLU,
    "LELU": lambda: nn.LELU(),  # type: ignore[attr-defined, unused-ignore]
}


@dataclass(frozen=True)
class Stat:
    mean: float
    std: float  # sample standard deviation over the seeds (0 with one seed)


def stat(values: Sequence[float]) -> Stat:
    return Stat(statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0)


def load_paragraph(load: dict[str, Any], lead: str, times: str) -> list[str]:
    """The report's lines on the machine's load during the run (none where it was not measured)."""
    if load["others_cpu_share"] is None:
        return []
    return [
        f"{lead}: other processes used {load['others_cpu_share']:.0%} of the CPUs; "
        f"1-minute load average {load['loadavg_before']:.2f} before, {load['loadavg_after']:.2f} after. {times}",
        "",
    ]
