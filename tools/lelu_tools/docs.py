"""`tools/lelu docs`: the LELU pages of the PyTorch docs, rendered to HTML with Sphinx in the overlay.

The last patch of the series adds LELU to three upstream docs files the wheel does not ship:
the torch.nn and torch.nn.functional pages (MyST markdown, as upstream's are) and
docs/source/scripts/build_activation_images.py; their fragments and excerpts are in docs_rst/.
From them and the overlay's torch this builds a small Sphinx project (in build/docs by default):

1. pages: the excerpt of each page (its UPSTREAM.toml) with the series' fragment placed at its
   anchor, the text the patch produces, keeping of the autosummary entries only the ones the
   series adds (the other entries' docstrings are upstream's, not ours);
2. the plot: the modules the series adds to the script's `functions` list, drawn with the figure
   settings of that script (the script itself is not in the wheel and is not copied here), to
   scripts/activation_images/<Name>.png, where the docstring's
   `.. image:: ../scripts/activation_images/LELU.png` finds it from generated/;
3. conf.py (autodoc, autosummary, napoleon, mathjax, myst_parser), a class template, an index;
4. `sphinx-build -W --keep-going`: a warning fails the build and is printed.

`run` is the command (it brings the overlay up to date, Sphinx included, then runs `main` in the
overlay's interpreter); `build` and `sphinx` are what test/test_docs.py calls.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import anchors
from .common import REPO_ROOT, LeluError, rel
from .manifest import Insert, Series, load_series

DOCS_PREFIX = "docs/source/"
SCRIPT = "docs/source/scripts/build_activation_images.py"
IMAGES = "scripts/activation_images"
# The page of each docs target: its title and the `currentmodule` its autosummary entries are
# relative to (upstream sets it above the excerpt: `torch` for the nn tables, the module for F).
PAGES = {
    "docs/source/nn.md": ("torch.nn", "torch"),
    "docs/source/nn.functional.md": ("torch.nn.functional", "torch.nn.functional"),
}
# An autosummary entry line of an excerpt: `    nn.Mish`, `    mish`, `    ~parameter.Buffer`.
ENTRY = re.compile(r"^    [~\w][\w.]*$")
DESCRIPTION = "Render the LELU docs pages (docstrings, docs_rst/, the plot) to HTML with Sphinx."
MARKER = ".lelu-docs"  # marks an output directory made by this command (it may be emptied)
PAGE = "html/generated/torch.nn.LELU.html"

CONF = '''\
# Written by tools/lelu docs (tools/lelu_tools/docs.py); rebuilt on every run.
project = "LELU in the PyTorch docs"
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
templates_path = ["_templates"]
exclude_patterns = ["_build"]
autosummary_generate = True
html_theme = "alabaster"
'''

# A class page as upstream's classtemplate.rst gives it: the class with its documented members.
CLASS_TEMPLATE = """\
{{ fullname | escape | underline }}

.. currentmodule:: {{ module }}

.. autoclass:: {{ objname }}
    :members:
"""


class DocsError(LeluError):
    """The docs could not be built, or Sphinx warned."""


@dataclass(frozen=True)
class Target:
    """One docs file the series changes: its excerpt with the series' inserts placed."""

    path: str
    source: str  # the UPSTREAM.toml the excerpt comes from, with its repository and commit
    text: str
    added: tuple[str, ...]  # the fragments' lines, without newlines


@dataclass(frozen=True)
class Built:
    html: Path
    page: Path  # the nn.LELU page, the one to open
    warnings: tuple[str, ...]


def targets(series: Series) -> dict[str, Target]:
    """The docs files the series changes, each patched as the series patches it."""
    inserts: dict[str, list[Insert]] = {}
    for patch in series.patches:
        for ins in patch.inserts:
            if ins.target.startswith(DOCS_PREFIX):
                inserts.setdefault(ins.target, []).append(ins)
    found: dict[str, Target] = {}
    for path, items in inserts.items():
        up = series.upstreams.get(path)
        if up is None:
            raise DocsError(f"{path}: the series inserts into it but names no UPSTREAM.toml (`unshipped`) for it")
        text, added = up.excerpt, []
        for ins in items:
            fragment = (series.root / ins.fragment).read_text(encoding="utf-8")
            text = anchors.place(text, path, ins.anchor, fragment, ins.where, ins.blank).text
            added += fragment.splitlines()
        found[path] = Target(path, f"{up.short} ({up.source})", text, tuple(added))
    for path in [*PAGES, SCRIPT]:
        if path not in found:
            raise DocsError(f"series.toml has no insert into {path}; the docs patch is missing (see docs_rst/)")
    return found


def page(target: Target) -> str:
    """The MyST page of a docs target: its patched excerpt under the page's title and module."""
    title, module = PAGES[target.path]
    lines = [line for line in target.text.splitlines() if not ENTRY.match(line) or line in target.added]
    return (
        f"# {title}\n\n"
        f"The section of `{target.path}` that the series changes, from {target.source}, with the\n"
        "series' entries; upstream's other entries are left out here.\n\n"
        f"```{{eval-rst}}\n.. currentmodule:: {module}\n```\n\n" + "\n".join(lines) + "\n"
    )


def added_modules(target: Target) -> list[Any]:
    """The modules the series adds to the script's `functions` list (evaluated with the overlay's torch)."""
    import torch

    try:
        compile(target.text, target.path, "exec")  # the patched list is still Python
        entries = eval("[\n" + "\n".join(target.added) + "\n]", {"torch": torch})  # our fragment's lines
    except Exception as err:
        raise DocsError(f"{target.path}: the series' entries of `functions` do not evaluate: {err!r}") from None
    return list(entries)


def plot(module: Any, path: Path) -> None:
    """Draw `module` on [-7, 7] with the figure settings of build_activation_images.py."""
    import matplotlib

    matplotlib.use("Agg")
    import torch
    from matplotlib import pyplot as plt

    x = torch.arange(-7.0, 7.0, 0.01)
    plt.clf()
    plt.grid(color="k", alpha=0.2, linestyle="--")
    plt.plot(x.numpy(), module(x).detach().numpy())
    plt.title(module)
    plt.xlabel("Input")
    plt.ylabel("Output")
    plt.xlim([-7, 7])
    plt.ylim([-7, 7])
    plt.savefig(path)


def write_project(src: Path, pages: dict[str, str]) -> None:
    """conf.py, the class template, and the pages (name -> MyST text; the name is a path in `src`
    without .md) with an index that lists them."""
    (src / "_templates").mkdir(parents=True, exist_ok=True)
    (src / "conf.py").write_text(CONF)
    (src / "_templates" / "classtemplate.rst").write_text(CLASS_TEMPLATE)
    toctree = "".join(f"{name}\n" for name in pages)
    (src / "index.md").write_text(
        "# LELU in the PyTorch docs\n\n"
        "Rendered by `tools/lelu docs` from the series' docs patch and the overlay's docstrings.\n\n"
        f"```{{toctree}}\n:maxdepth: 2\n\n{toctree}```\n"
    )
    for name, text in pages.items():
        (src / f"{name}.md").parent.mkdir(parents=True, exist_ok=True)
        (src / f"{name}.md").write_text(text)


def sphinx(src: Path, html: Path, extra_path: tuple[Path, ...] = ()) -> tuple[str, ...]:
    """Run sphinx-build (warnings are errors, all reported); return the warnings it printed."""
    doctrees = html.parent / f"{html.name}.doctrees"
    warnings = html.parent / f"{html.name}.warnings.txt"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*map(str, extra_path), env.get("PYTHONPATH", "")]).strip(os.pathsep)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-E", "-q",
           "-d", str(doctrees), "-w", str(warnings), str(src), str(html)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    printed = warnings.read_text() if warnings.is_file() else ""
    lines = tuple(line for line in printed.splitlines() if line.strip())
    if done.returncode != 0 and not lines:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        hint = "Sphinx and myst-parser are in tools/requirements-overlay.txt; `tools/lelu build` installs them"
        raise DocsError(f"sphinx-build failed ({done.returncode}) without a warning:\n{tail}\n({hint})")
    return lines


def _fresh(out: Path) -> None:
    """Empty `out` if this command made it; never touch a directory it did not make."""
    if out.exists() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise DocsError(f"{out} exists and was not made by `tools/lelu docs`; give an empty or new --out")
    for name in ("src", "html", "html.doctrees", "html.warnings.txt"):
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by tools/lelu docs; emptied on its next run\n")


def build(out: Path, series: Series | None = None) -> Built:
    """Build the project in `out` (src/, html/); the warnings are returned, not raised."""
    series = series or load_series(REPO_ROOT / "series.toml")
    found = targets(series)
    _fresh(out)
    src = out / "src"
    write_project(src, {Path(path).stem: page(found[path]) for path in PAGES})
    images = src / IMAGES
    images.mkdir(parents=True)
    for module in added_modules(found[SCRIPT]):
        plot(module, images / f"{module._get_name()}.png")
    warnings = sphinx(src, out / "html")
    return Built(out / "html", out / PAGE, warnings)


def main(argv: list[str] | None = None) -> int:
    """In the overlay's interpreter: build, and print the page to open or the warnings."""
    parser = argparse.ArgumentParser(prog="tools/lelu docs", description=DESCRIPTION)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build/docs",
                        help="the Sphinx project and its HTML go here (default: build/docs)")
    args = parser.parse_args(argv)
    try:
        built = build(args.out.resolve())
    except LeluError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if built.warnings:
        print(f"error: Sphinx printed {len(built.warnings)} warning line(s):", file=sys.stderr)
        for line in built.warnings:
            print(f"  {line}", file=sys.stderr)
        print("fix the docstring or docs_rst/ source they name, then run `tools/lelu docs` again", file=sys.stderr)
        return 1
    print(f"docs: no Sphinx warnings; HTML in {rel(built.html, REPO_ROOT)}/")
    print(f"open {built.page}")
    return 0


def run(out: Path) -> int:
    """`tools/lelu docs`: bring the overlay up to date (Sphinx is in its requirements), then build."""
    from . import overlay

    overlay.ensure()
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "tools"))
    cmd = [str(overlay.PINNED.py), "-m", "lelu_tools.docs", "--out", str(out)]
    return subprocess.run(cmd, env=env, cwd=REPO_ROOT).returncode


if __name__ == "__main__":
    sys.exit(main())
