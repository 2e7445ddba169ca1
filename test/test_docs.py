"""`tools/lelu docs`: the LELU pages render with Sphinx (warnings as errors) and show what they should.

The full build (the series' docs pages, the nn.LELU and F.lelu docstrings, the plot) must print no
warning; the warning check itself is shown to work on a copy of nn.LELU's docstring, which renders
clean as it is and warns once a construct in it is broken.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import torch

from lelu_tools import docs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FORMULA = r"\quad k = \frac{\pi}{\sqrt{3}}"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> docs.Built:
    return docs.build(tmp_path_factory.mktemp("docs") / "out")


def test_build_prints_no_warning(built: docs.Built) -> None:
    assert built.warnings == ()
    assert built.page == built.html / "generated" / "torch.nn.LELU.html"


def test_lelu_pages_have_the_formula_and_the_plot(built: docs.Built) -> None:
    module_page = built.page.read_text()
    function_page = (built.html / "generated" / "torch.nn.functional.lelu.html").read_text()
    for text in (module_page, function_page):
        assert FORMULA in text  # the math block, for MathJax
        assert "pytorch/pytorch/issues/165982" in text
    assert 'id="torch.nn.LELU"' in module_page and 'id="torch.nn.functional.lelu"' in function_page
    assert re.search(r'<img [^>]*src="\.\./_images/LELU\.png"', module_page)
    image = built.html / "_images" / "LELU.png"
    assert image.read_bytes()[:8] == PNG_MAGIC
    assert image.stat().st_size > 10_000  # a drawn figure, not an empty canvas


def test_pages_list_the_series_entries_only(built: docs.Built) -> None:
    nn_page = (built.html / "nn.html").read_text()
    functional_page = (built.html / "nn.functional.html").read_text()
    assert "Non-linear Activations (weighted sum, nonlinearity)" in nn_page
    assert 'href="generated/torch.nn.LELU.html#torch.nn.LELU"' in nn_page
    assert 'href="generated/torch.nn.functional.lelu.html#torch.nn.functional.lelu"' in functional_page
    assert "nn.Mish" not in nn_page and ">mish<" not in functional_page
    assert sorted(p.name for p in (built.html / "generated").glob("*.html")) == [
        "torch.nn.LELU.html", "torch.nn.functional.lelu.html"]


def test_the_page_sources_are_the_patched_excerpts() -> None:
    found = docs.targets(docs.load_series(docs.REPO_ROOT / "series.toml"))
    nn_lines = found["docs/source/nn.md"].text.splitlines()
    assert nn_lines[nn_lines.index("    nn.Mish") + 1] == "    nn.LELU"
    f_lines = found["docs/source/nn.functional.md"].text.splitlines()
    assert f_lines[f_lines.index("    mish") + 1] == "    lelu"
    modules = docs.added_modules(found[docs.SCRIPT])
    assert [type(m) for m in modules] == [torch.nn.LELU]


def _render_probe(root: Path, docstring: str, image: Path | None) -> tuple[str, ...]:
    """Render a class whose docstring is `docstring` on a page in generated/, as autosummary puts
    nn.LELU's, with `image` (None: no image) where the docstring's image path points."""
    module_dir = root / "mod"
    module_dir.mkdir(parents=True)
    (module_dir / "lelu_doc_probe.py").write_text(f"class Probe:\n    r'''{docstring}'''\n")
    src = root / "src"
    docs.write_project(src, {"generated/probe": "# probe\n\n```{eval-rst}\n.. autoclass:: lelu_doc_probe.Probe\n```\n"})
    if image is not None:
        (src / docs.IMAGES).mkdir(parents=True)
        shutil.copyfile(image, src / docs.IMAGES / "LELU.png")
    return docs.sphinx(src, root / "html", (module_dir,))


def test_warnings_are_caught(built: docs.Built, tmp_path: Path) -> None:
    doc = torch.nn.LELU.__doc__
    assert doc is not None and ":math:`\\sigma(x)` is" in doc
    image = built.html / "_images" / "LELU.png"
    assert _render_probe(tmp_path / "clean", doc, image) == ()
    broken = doc.replace(":math:`\\sigma(x)` is", ":math:`\\sigma(x) is", 1)  # an unclosed role
    warnings = _render_probe(tmp_path / "broken", broken, image)
    assert len(warnings) == 1, warnings
    assert "docstring of lelu_doc_probe.Probe" in warnings[0]
    assert "start-string without end-string" in warnings[0]


def test_missing_plot_is_caught(tmp_path: Path) -> None:
    doc = torch.nn.LELU.__doc__
    assert doc is not None
    warnings = _render_probe(tmp_path, doc, None)
    assert len(warnings) == 1, warnings
    assert "image file not readable: scripts/activation_images/LELU.png" in warnings[0]


def test_out_dir_not_made_by_the_tool_is_left_alone(tmp_path: Path) -> None:
    keep = tmp_path / "mine.txt"
    keep.write_text("user data")
    with pytest.raises(docs.DocsError, match="was not made by `tools/lelu docs`"):
        docs.build(tmp_path)
    assert keep.read_text() == "user data"


def test_command_reports_errors_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mine.txt").write_text("user data")
    assert docs.main(["--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "give an empty or new --out" in err and "Traceback" not in err


def test_cli_runs_the_docs_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from lelu_tools import cli

    calls: list[Path] = []

    def fake_run(out: Path) -> int:
        calls.append(out)
        return 3

    monkeypatch.setattr(docs, "run", fake_run)
    assert cli.main(["docs", "--out", str(tmp_path / "d")]) == 3
    assert cli.main(["docs"]) == 3
    assert calls == [tmp_path / "d", docs.REPO_ROOT / "build" / "docs"]
