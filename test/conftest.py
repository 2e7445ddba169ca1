"""pytest configuration of the LELU tests.

They run in the overlay venv (``tools/lelu test``): the stock torch 2.13.0 wheel with the native
lelu ops loaded into it and the series' Python hunks applied.  Without it every test here would
fail for the same reason, so collection fails instead, once, with what to do about it.  Never a
skip: a missing overlay must not look like a passing run.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

_TEST_DIR = Path(__file__).resolve().parent
_HINT = "run `tools/lelu demo` to build the overlay, then run the tests with `tools/lelu test`"


@functools.cache
def overlay_problem() -> str | None:
    """Why the running torch is not the LELU overlay, or None if it is."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as exc:
        return f"cannot import torch ({exc}); {_HINT}"
    where = f"torch {torch.__version__} at {Path(torch.__file__).parent}"
    missing = [
        name
        for name, present in (
            ("torch._C._nn.lelu", hasattr(torch._C._nn, "lelu")),
            ("torch.ops.aten.lelu_backward", hasattr(torch.ops.aten, "lelu_backward")),
            ("torch.nn.functional.lelu", hasattr(F, "lelu")),
            ("torch.nn.LELU", hasattr(torch.nn, "LELU")),
        )
        if not present
    ]
    if missing:
        return f"{where} has no {', '.join(missing)}: the LELU overlay is missing; {_HINT}"
    return None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> None:
    """Fail the collection of the LELU test modules (test/test_*.py) when the overlay is missing.

    The failure is a collection error of the test directory, so `-x` stops at once.  Tests in
    subdirectories (test/tools: the series tooling) do not need torch and are not affected."""
    if file_path.parent != _TEST_DIR or not (file_path.name.startswith("test_") and file_path.suffix == ".py"):
        return None
    problem = overlay_problem()
    if problem is not None:
        raise pytest.Collector.CollectError(problem)
    return None
