"""`tools/lelu train` on a tiny configuration: deterministic (two processes give the same losses bit
for bit), the same initial weights for every activation, the report computed from the runs."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from lelu_tools import train

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TOOLS = Path(train.__file__).resolve().parents[1]
QUICK = ["--quick", "--seeds", "2", "--epochs", "2"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """The tiny run twice: once in this process, once in a new one."""
    here, there = tmp_path_factory.mktemp("here"), tmp_path_factory.mktemp("there")
    assert train.main([*QUICK, "--out", str(here)]) == 0
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TOOLS), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-m", "lelu_tools.train", *QUICK, "--no-plots", "--out", str(there)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return (json.loads((here / "results.json").read_text()), json.loads((there / "results.json").read_text()), here)


def losses(report: dict[str, Any]) -> dict[tuple[int, str], list[tuple[float, float, float]]]:
    return {(r["seed"], r["activation"]): [(e["train_loss"], e["test_loss"], e["test_acc"]) for e in r["epochs"]]
            for r in report["runs"]}


def test_two_runs_give_identical_losses(runs: tuple[dict[str, Any], dict[str, Any], Path]) -> None:
    first, second, _ = runs
    assert losses(first) == losses(second)
    assert [r["final"] for r in first["runs"]] == [r["final"] for r in second["runs"]]
    table = losses(first)
    assert set(table) == {(seed, name) for seed in (0, 1) for name in ("GELU", "SiLU", "LELU")}
    # not identical by accident: the seeds differ, and so do the activations for one seed
    assert table[(0, "LELU")] != table[(1, "LELU")]
    assert len({tuple(table[(0, name)]) for name in ("GELU", "SiLU", "LELU")}) == 3


def test_every_activation_starts_from_the_same_weights() -> None:
    cfg = train.Config(seeds=1, epochs=1, width=16, depth=2, batch=8, lr=1e-3, threads=1)
    base = train.initial_model(0, cfg, features=64, classes=10)
    models = {name: train.with_activation(base, make) for name, make in train.ACTIVATIONS.items()}
    for name, model in models.items():
        kinds = [type(layer).__name__ for layer in model]
        assert kinds == ["Linear", name, "Linear", name, "Linear"]
        for key, value in base.state_dict().items():
            assert torch.equal(model.state_dict()[key], value), (name, key)
    assert all(isinstance(base[i], nn.Identity) for i in (1, 3))  # the base itself is not changed
    other = train.initial_model(1, cfg, features=64, classes=10)
    assert not torch.equal(other[0].weight, base[0].weight)


def test_the_summary_is_mean_and_spread_of_the_runs(runs: tuple[dict[str, Any], dict[str, Any], Path]) -> None:
    report, _, out = runs
    assert list(report["summary"]) == ["GELU", "SiLU", "LELU"]
    for name, summary in report["summary"].items():
        mine = [r for r in report["runs"] if r["activation"] == name]
        for key in ("train_loss", "test_loss", "test_acc"):
            values = [r["final"][key] for r in mine]
            assert summary[key]["mean"] == pytest.approx(statistics.fmean(values))
            assert summary[key]["std"] == pytest.approx(statistics.stdev(values))
        assert summary["epoch_s_median"] == statistics.median(e["seconds"] for r in mine for e in r["epochs"])
        assert all(r["final"]["test_acc"] == r["epochs"][-1]["test_acc"] for r in mine)
    assert report["data"] == {"train": 1347, "test": 450, "features": 64, "classes": 10}
    markdown = (out / "report.md").read_text()
    rows = [line for line in markdown.split("## Results", 1)[1].split("## ", 1)[0].splitlines()
            if line.startswith("| ") and not line.startswith("| activation")]
    assert [row.split(" | ")[0] for row in rows] == ["| GELU", "| SiLU", "| LELU"]
    number = r"[\d.e+-]+ ± [\d.e+-]+"
    for row in rows:
        assert re.fullmatch(rf"\| \w+ \| {number} \| {number} \| [\d.]+% ± [\d.]+ \| [\d.]+ ms \|", row), row
    lelu = report["summary"]["LELU"]["test_acc"]
    assert f"| {lelu['mean']:.2%} ± {lelu['std'] * 100:.2f} |" in rows[2]
    assert "Machine load while training" in markdown or report["load"]["others_cpu_share"] is None
    assert "| 1 | " in markdown.split("## Per seed", 1)[1]
    assert (out / train.PLOT).read_bytes()[:8] == PNG_MAGIC


def test_publish_writes_training_md(runs: tuple[dict[str, Any], dict[str, Any], Path], tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    report, _, out = runs
    monkeypatch.setattr(train, "REPO", tmp_path)
    monkeypatch.setattr(train, "DOCS", tmp_path / "docs" / "training")
    train.publish(report)
    text = (tmp_path / "TRAINING.md").read_text()
    assert text.startswith("# LELU in training\n")
    assert f"![loss_curves](docs/training/{train.PLOT})" in text
    assert "## Results" in text and report["command"] in text
    assert (tmp_path / "docs" / "training" / train.PLOT).read_bytes() == (out / train.PLOT).read_bytes()


def test_bad_arguments_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--seeds", "0"])
    assert exit_info.value.code == 2
    assert "must be positive" in capsys.readouterr().err
