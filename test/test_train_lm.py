"""`tools/lelu train --task lm` on a tiny configuration: the corpus and its split, determinism (two
runs give the same losses bit for bit), the report computed from the runs, and publishing its section
of TRAINING.md without touching the digits report (in a temporary folder, never the real one)."""

from __future__ import annotations

import hashlib
import json
import math
import re
import statistics
from pathlib import Path
from typing import Any

import pytest
import torch

from lelu_tools import coverletter, train, train_lm

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TINY = ["--quick", "--seeds", "2", "--steps", "6", "--eval-every", "3"]
NAMES = ["GELU", "SiLU", "LELU"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """The tiny run twice in this process: through `tools/lelu train --task lm` and train_lm directly."""
    first, second = tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second")
    assert train.main(["--task", "lm", *TINY, "--out", str(first)]) == 0
    assert train_lm.main([*TINY, "--no-plots", "--out", str(second)]) == 0
    return (json.loads((first / "results.json").read_text()), json.loads((second / "results.json").read_text()),
            first)


def test_the_corpus_is_the_stdlib_sorted_and_split() -> None:
    corpus = train_lm.load_corpus()
    root = Path(corpus.root)
    files = sorted(p.name for p in root.glob("*.py"))
    assert list(corpus.files) == files and len(files) > 50
    assert "os.py" in files and all("/" not in name for name in files)
    data = b"".join((root / name).read_bytes() for name in files)
    assert corpus.sha256 == hashlib.sha256(data).hexdigest()
    assert corpus.total == len(data) == sum(corpus.sizes)
    assert corpus.val.numel() == int(len(data) * train_lm.VAL_FRACTION)
    assert corpus.train.numel() + corpus.val.numel() == len(data)
    assert bytes(corpus.train[:100].tolist()) == data[:100] and bytes(corpus.val[-100:].tolist()) == data[-100:]
    again = train_lm.load_corpus()
    assert (again.files, again.sha256) == (corpus.files, corpus.sha256)
    assert torch.equal(again.val, corpus.val)
    described = corpus.describe()
    assert described["count"] == len(files) and described["bytes"] == len(data)
    assert 3.5 < described["unigram_bits"] < 6  # source code: far from 8 bits per byte


def test_a_small_corpus(tmp_path: Path) -> None:
    (tmp_path / "b.py").write_bytes(b"b" * 40)
    (tmp_path / "a.py").write_bytes(b"a" * 60)
    (tmp_path / "notes.txt").write_bytes(b"not python")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "c.py").write_bytes(b"in a package")
    corpus = train_lm.load_corpus(tmp_path)
    assert corpus.files == ("a.py", "b.py") and corpus.sizes == (60, 40)
    assert corpus.sha256 == hashlib.sha256(b"a" * 60 + b"b" * 40).hexdigest()
    assert bytes(corpus.train.tolist()) == b"a" * 60 + b"b" * 30
    assert bytes(corpus.val.tolist()) == b"b" * 10
    assert corpus.val_starts_in() == "b.py"
    # unigram: 60 a and 30 b in training, add-one smoothed over 256 bytes; validation all b
    assert train_lm.unigram_bits(corpus.train, corpus.val) == pytest.approx(-math.log2(31 / (90 + 256)))
    with pytest.raises(ValueError, match="no .py files"):
        train_lm.load_corpus(tmp_path / "pkg" / "missing")


def test_windows_and_batches_are_fixed() -> None:
    cfg = train_lm.config(train_lm.parse_args(TINY))
    data = torch.arange(200, dtype=torch.uint8)
    windows = train_lm.val_windows(data, cfg.context, 5)
    assert windows.shape == (5, cfg.context + 1) and windows.dtype == torch.int64
    assert windows[0, 0] == 0 and windows[-1, -1] == 199
    assert torch.equal(windows[:, 1:] - windows[:, :-1], torch.ones(5, cfg.context, dtype=torch.int64))
    first, second = train_lm.Batches(data, cfg, 3), train_lm.Batches(data, cfg, 3)
    assert torch.equal(first.next(), second.next())
    assert not torch.equal(first.next(), train_lm.Batches(data, cfg, 4).next())


def test_every_activation_starts_from_the_same_weights() -> None:
    cfg = train_lm.config(train_lm.parse_args(TINY))
    models = {name: train_lm.initial_model(0, cfg, make) for name, make in train_lm.ACTIVATIONS.items()}
    base = models["GELU"].state_dict()
    for name, model in models.items():
        assert type(model.blocks[0].mlp[1]).__name__ == name
        assert all(torch.equal(value, base[key]) for key, value in model.state_dict().items()), name
    other = train_lm.initial_model(1, cfg, train_lm.ACTIVATIONS["LELU"])
    assert not torch.equal(other.embed.weight, models["LELU"].embed.weight)


def curves(report: dict[str, Any]) -> dict[tuple[int, str], Any]:
    return {(r["seed"], r["activation"]): (r["curve"], r["final"]) for r in report["runs"]}


def test_two_runs_give_identical_losses(runs: tuple[dict[str, Any], dict[str, Any], Path]) -> None:
    first, second, _ = runs
    assert curves(first) == curves(second)
    table = curves(first)
    assert set(table) == {(seed, name) for seed in (0, 1) for name in NAMES}
    assert [p["step"] for p in table[(0, "LELU")][0]] == [3, 6]
    # not identical by accident: the seeds differ, and so do the activations for one seed
    assert table[(0, "LELU")] != table[(1, "LELU")]
    assert len({json.dumps(table[(0, name)]) for name in NAMES}) == 3
    assert first["command"] == "tools/lelu train --task lm " + " ".join(TINY) + f" --out {runs[2]}"


def test_global_state_is_restored(tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch.use_deterministic_algorithms(False)
        torch.manual_seed(123)
        expected = torch.rand(3)
        torch.manual_seed(123)
        assert train_lm.main([*TINY, "--seeds", "1", "--activations", "LELU", "--no-plots", "--out",
                              str(tmp_path)]) == 0
        assert torch.get_num_threads() == 2
        assert not torch.are_deterministic_algorithms_enabled()
        assert torch.equal(torch.rand(3), expected)
    finally:
        torch.set_num_threads(threads)


def test_the_report_is_computed_from_the_runs(runs: tuple[dict[str, Any], dict[str, Any], Path]) -> None:
    report, _, out = runs
    assert list(report["summary"]) == NAMES
    for name, summary in report["summary"].items():
        mine = [r for r in report["runs"] if r["activation"] == name]
        for key in ("val_loss", "val_bpb", "train_loss"):
            values = [r["final"][key] for r in mine]
            assert summary[key]["mean"] == pytest.approx(statistics.fmean(values))
            assert summary[key]["std"] == pytest.approx(statistics.stdev(values))
        assert all(r["final"]["val_bpb"] == pytest.approx(r["final"]["val_loss"] / math.log(2)) for r in mine)
        assert summary["step_s"]["eager"] == statistics.median(s for r in mine for s in r["step_s"])
        assert summary["step_s"]["compiled"] is None  # --quick: no timing run
    pairs = {(p["first"], p["second"]): p for p in report["comparison"]}
    assert set(pairs) == {("GELU", "SiLU"), ("GELU", "LELU"), ("SiLU", "LELU")}
    gelu, lelu = report["summary"]["GELU"]["val_bpb"], report["summary"]["LELU"]["val_bpb"]
    assert pairs[("GELU", "LELU")]["difference"] == pytest.approx(lelu["mean"] - gelu["mean"])
    assert pairs[("GELU", "LELU")]["spread"] == pytest.approx(lelu["std"] + gelu["std"])
    data = report["data"]
    assert data["count"] == len(data["files"]) and data["train"] + data["val"] == data["bytes"]
    markdown = (out / "report.md").read_text()
    assert markdown.startswith("# LELU in a small transformer language model\n")
    results = markdown.split("## Language model results", 1)[1].split("## ", 1)[0]
    rows = [line for line in results.splitlines() if line.startswith("| ") and " | " in line]
    assert [row.split(" | ")[0] for row in rows[1:4]] == ["| GELU", "| SiLU", "| LELU"]
    number = r"\d+\.\d+ ± \d+\.\d+"
    for row in rows[1:4]:
        assert re.fullmatch(rf"\| \w+ \| {number} \| {number} \| {number} \| [\d.]+ ms \| — \| — \|", row), row
    assert f"| {lelu['mean']:.3f} ± {lelu['std']:.3f} |" in rows[3]
    assert [row.split(" | ")[0] for row in rows[5:]] == ["| SiLU − GELU", "| LELU − GELU", "| LELU − SiLU"]
    assert train_lm.verdict(report) in markdown
    assert train_lm.learned([r["final"]["val_bpb"] for r in report["runs"]], data["unigram_bits"]) in markdown
    assert train_lm.learned([2.5, 2.75], 5.0) == ("Every run ends between 2.500 and 2.750 bits per byte on the "
                                                  "validation split, below the unigram baseline (5.000 bits per "
                                                  "byte) by 45% or more.")
    assert train_lm.learned([4.5, 5.5], 5.0).endswith("5.000 for the unigram baseline: not every run got below it.")
    assert data["sha256"] in markdown and f"{data['count']} top-level `.py` files" in markdown
    assert "| 1 | " in markdown.split("## Language model per seed", 1)[1]
    assert (out / train_lm.PLOT).read_bytes()[:8] == PNG_MAGIC


def with_bpb(report: dict[str, Any], values: dict[str, tuple[float, float]]) -> dict[str, Any]:
    summary = {name: {"val_bpb": {"mean": mean, "std": std}} for name, (mean, std) in values.items()}
    return {**report, "summary": summary, "comparison": train_lm.compare(summary)}


def test_the_verdict_compares_differences_with_the_spread(
        runs: tuple[dict[str, Any], dict[str, Any], Path]) -> None:
    report = runs[0]
    within = with_bpb(report, {"GELU": (2.50, 0.02), "SiLU": (2.51, 0.01), "LELU": (2.49, 0.02)})
    assert not any(p["exceeds"] for p in within["comparison"])
    assert train_lm.verdict(within).startswith("No difference between the activations' mean final validation")
    apart = with_bpb(report, {"GELU": (2.50, 0.01), "SiLU": (2.60, 0.01), "LELU": (2.49, 0.01)})
    assert [p["exceeds"] for p in apart["comparison"]] == [True, False, True]
    sentence = train_lm.verdict(apart)
    assert "GELU is lower than SiLU by 0.100 bits/byte (spread 0.020)" in sentence
    assert "LELU is lower than SiLU by 0.110 bits/byte" in sentence
    assert sentence.endswith("Within the spread: GELU/LELU.")
    one_seed = {**apart, "config": {**report["config"], "seeds": 1}}
    assert "not measured" in train_lm.verdict(one_seed)


def test_compiled_step_times_are_rendered(runs: tuple[dict[str, Any], dict[str, Any], Path]) -> None:
    report = runs[0]
    timing = {name: {"step_s_median": 0.0123, "first_step_s": 4.0} for name in NAMES}
    summary = train_lm.summarize(report["runs"], timing, NAMES, compiled=False)
    assert summary["LELU"]["step_s"]["compiled"] == 0.0123 and summary["LELU"]["compile_first_step_s"] == 4.0
    cfg = {**report["config"], "time_steps": 20}
    markdown = train_lm.render_markdown({**report, "config": cfg, "summary": summary}, ".")
    assert re.search(r"\| LELU \| .* \| [\d.]+ ms \| 12.3 ms \| 4.0 s \|", markdown)
    assert "compiled, the median of a 20-step timing run" in markdown


def test_publish_keeps_the_digits_report(runs: tuple[dict[str, Any], dict[str, Any], Path], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    report, _, out = runs
    monkeypatch.setattr(train, "REPO", tmp_path)
    monkeypatch.setattr(train, "DOCS", tmp_path / "docs" / "training")
    document, docs = tmp_path / "TRAINING.md", tmp_path / "docs" / "training"
    assert train.main(["--quick", "--seeds", "2", "--epochs", "1", "--out", str(tmp_path / "digits"), "--publish"]) == 0
    digits = document.read_text()
    assert digits.startswith("# LELU in training\n") and train_lm.SECTION.begin not in digits

    train_lm.publish(report, document, docs)
    text = document.read_text()
    assert text.startswith(digits.rstrip("\n") + "\n\n" + train_lm.SECTION.heading + "\n")
    assert f"![lm_val_loss](docs/training/{train_lm.PLOT})" in text
    assert (docs / train_lm.PLOT).read_bytes() == (out / train_lm.PLOT).read_bytes()
    assert (docs / train.PLOT).is_file()  # the digits plot stays
    train_lm.publish(report, document, docs)  # again: the section is replaced, not repeated
    assert document.read_text() == text

    assert train.main(["--quick", "--seeds", "2", "--epochs", "1", "--out", str(tmp_path / "digits"), "--publish"]) == 0
    again = document.read_text()
    assert again.count(train_lm.SECTION.begin) == 1
    assert again.split(train_lm.SECTION.begin, 1)[1] == text.split(train_lm.SECTION.begin, 1)[1]
    before = again.split("\n" + train_lm.SECTION.heading, 1)[0]
    assert re.sub(r"[\d.]+", "0", before.rstrip("\n")) == re.sub(r"[\d.]+", "0", digits.rstrip("\n"))  # times differ

    # the cover letter quotes the digits report by line prefixes and headings: each still matches once
    letter = (Path(train.__file__).resolve().parents[2] / "cover_letter.md").read_text()
    directives = [m for m in (coverletter.DIRECTIVE.match(line) for line in letter.splitlines()) if m]
    quoted = [m for m in directives if m.group(2) == "TRAINING.md"]
    assert quoted
    for m in quoted:
        assert coverletter.expand(tmp_path, m.group(1), m.group(2), m.group(3), "cover_letter.md")


def test_bad_arguments_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--task", "lm", "--width", "30", "--heads", "4"])
    assert exit_info.value.code == 2
    assert "multiple of --heads" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--task", "lm", "--steps", "0"])
    assert "must be positive" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--task", "poetry"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_render_writes_the_same_report_again(runs: tuple[dict[str, Any], dict[str, Any], Path],
                                             tmp_path: Path) -> None:
    """--render RESULTS_JSON trains nothing and writes the report of the earlier run again."""
    first_dir = runs[2]
    assert train_lm.main(["--render", str(first_dir / "results.json"), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "report.md").read_text() == (first_dir / "report.md").read_text()
    assert json.loads((tmp_path / "results.json").read_text())["runs"] == runs[0]["runs"]
    assert (tmp_path / train_lm.PLOT).read_bytes().startswith(PNG_MAGIC)
