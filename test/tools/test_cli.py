"""The command line: pass-through to the overlay module, and errors without tracebacks."""

from __future__ import annotations

import sys
import types

import pytest

from lelu_tools import cli


def fake_overlay(calls: list[tuple[str, list[str]]]) -> types.ModuleType:
    module = types.ModuleType("lelu_tools.overlay")
    for name in ("demo", "test", "python", "build"):
        def run(args: list[str], name: str = name) -> int:
            calls.append((name, args))
            return 7
        setattr(module, f"run_{name}", run)
    return module


def test_overlay_commands_pass_everything_through(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, list[str]]] = []
    monkeypatch.setitem(sys.modules, "lelu_tools.overlay", fake_overlay(calls))
    assert cli.main(["test", "-k", "foo", "-x"]) == 7
    assert cli.main(["python", "-c", "import torch; print(torch.lelu)"]) == 7
    assert cli.main(["demo", "--help"]) == 7
    assert cli.main(["build"]) == 7
    assert calls == [
        ("test", ["-k", "foo", "-x"]),
        ("python", ["-c", "import torch; print(torch.lelu)"]),
        ("demo", ["--help"]),
        ("build", []),
    ]


def test_missing_overlay_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "lelu_tools.overlay", None)
    assert cli.main(["demo"]) == 1
    assert capsys.readouterr().err == (
        "error: `tools/lelu demo` needs tools/lelu_tools/overlay.py, which is not there yet\n"
    )


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["frobnicate"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err
