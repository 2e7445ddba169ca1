"""The command line: pass-through to the overlay module, and errors without tracebacks."""

from __future__ import annotations

import sys
import types

import pytest

from lelu_tools import cli


def fake_overlay(calls: list[tuple[str, list[str], str]]) -> types.ModuleType:
    module = types.ModuleType("lelu_tools.overlay")
    module.PINNED = "pinned"  # type: ignore[attr-defined]
    module.torch_target = lambda python: f"torch of {python}"  # type: ignore[attr-defined]
    for name in ("demo", "test", "python", "build"):
        def run(args: list[str], target: str, name: str = name) -> int:
            calls.append((name, args, target))
            return 7
        setattr(module, f"run_{name}", run)
    return module


def test_overlay_commands_pass_everything_through(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, list[str], str]] = []
    monkeypatch.setitem(sys.modules, "lelu_tools.overlay", fake_overlay(calls))
    assert cli.main(["test", "-k", "foo", "-x"]) == 7
    assert cli.main(["python", "-c", "import torch; print(torch.lelu)"]) == 7
    assert cli.main(["demo", "--help"]) == 7
    assert cli.main(["build"]) == 7
    assert calls == [
        ("test", ["-k", "foo", "-x"], "pinned"),
        ("python", ["-c", "import torch; print(torch.lelu)"], "pinned"),
        ("demo", ["--help"], "pinned"),
        ("build", [], "pinned"),
    ]


def test_torch_option_selects_the_target(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, list[str], str]] = []
    monkeypatch.setitem(sys.modules, "lelu_tools.overlay", fake_overlay(calls))
    assert cli.main(["--torch", "/env/bin/python", "test", "-k", "cuda"]) == 7
    assert cli.main(["--torch=py3", "demo"]) == 7
    assert calls == [("test", ["-k", "cuda"], "torch of /env/bin/python"), ("demo", [], "torch of py3")]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--torch"], "--torch needs the interpreter whose torch to build on"),
        (["--torch", "--help"], "--torch needs the interpreter whose torch to build on"),
        (["--torch", "py", "patches"], "--torch goes with an overlay command"),
    ],
)
def test_torch_option_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 1
    assert message in capsys.readouterr().err


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["frobnicate"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err
