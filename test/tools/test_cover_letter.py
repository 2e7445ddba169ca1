"""The cover letter: made from its source and the reports it quotes, deterministic, checked for
freshness like the patches, and never part of what `git am` applies."""

from __future__ import annotations

import io
import re
import tempfile
import tomllib
from pathlib import Path

import pytest
from expecttest import TestCase

import tiny
from lelu_tools import coverletter
from lelu_tools.check import apply_check, compare
from lelu_tools.common import REPO_ROOT
from lelu_tools.coverletter import CoverLetterError
from lelu_tools.manifest import ManifestError
from lelu_tools.series import SERIES_FILE, generate, write

REPORT = """\
# A report

Measured today on a machine.

## Results

Some words.

| activation | loss |
|---|---|
| LELU | 0.1 ± 0.01 |

Words after the table.

### A subsection

Still part of the results.

## Other

| x |
"""

SOURCE = """\
<!--
A comment for the people who edit this file.
-->
# Add LELU to everything

Why: because.

{{line REPORT.md "Measured"}}

{{table REPORT.md "Results"}}
"""

MANIFEST = tiny.MANIFEST.replace('date = "Mon, 23 Nov 2026 00:00:00 +0000"\n',
                                 'date = "Mon, 23 Nov 2026 00:00:00 +0000"\ncover_letter = "cover.md"\n')


class TestCoverLetter(TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.root = Path(self.tmp.name)

    def tearDown(self) -> None:
        self.tmp.cleanup()

    def make(self, source: str = SOURCE, report: str = REPORT) -> None:
        self.series = tiny.make(self.root, {"series.toml": MANIFEST, "cover.md": source, "REPORT.md": report})

    def test_letter(self) -> None:
        self.make()
        generated = generate(self.series, tiny.pin())
        self.assertNotIn(coverletter.NAME, generated.names)
        self.assertExpectedInline(
            generated.files[coverletter.NAME].decode(),
            """\
From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: LELU series <lelu-series@users.noreply.github.com>
Date: Mon, 23 Nov 2026 00:00:00 +0000
Subject: [PATCH 0/2] Add LELU to everything
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: 8bit

Why: because.

Measured today on a machine.

| activation | loss |
|---|---|
| LELU | 0.1 ± 0.01 |

LELU series (2):
  [ATen] Add lelu
  [nn] Add F.lelu

 aten/src/ATen/native/Lelu.h                | 1 +
 aten/src/ATen/native/native_functions.yaml | 3 +++
 torch/csrc/autograd/Manual.cpp             | 4 ++++
 torch/nn/functional.py                     | 4 ++++
 4 files changed, 12 insertions(+)
 create mode 100644 aten/src/ATen/native/Lelu.h


base-commit: cf30153c4c131c8164ee7798e5022d810682e2cb
""",
        )

    def test_deterministic_and_not_in_the_series_order(self) -> None:
        self.make()
        first = generate(self.series, tiny.pin())
        self.assertEqual(first.files, generate(self.series, tiny.pin()).files)
        patches = self.root / "patches"
        self.assertIn(f"wrote patches/{coverletter.NAME}", write(first, patches))
        self.assertEqual(write(first, patches), [])
        self.assertNotIn(coverletter.NAME, (patches / SERIES_FILE).read_text())
        # git am is given the series order only: the letter (which has no diff) is not applied
        out = io.StringIO()
        self.assertTrue(apply_check(self.series, tiny.pin(), patches, out))
        self.assertNotIn(coverletter.NAME, out.getvalue())

    def test_stale_when_a_report_changes(self) -> None:
        self.make()
        patches = self.root / "patches"
        write(generate(self.series, tiny.pin()), patches)
        self.make(report=REPORT.replace("0.1 ± 0.01", "0.2 ± 0.01"))
        out = io.StringIO()
        self.assertFalse(compare(generate(self.series, tiny.pin()), patches, out))
        self.assertIn(f"stale:   patches/{coverletter.NAME}", out.getvalue())
        self.assertIn("+| LELU | 0.2 ± 0.01 |", out.getvalue())

    def test_section_and_ascii(self) -> None:
        self.make('# Subject\n\nText.\n\n{{section REPORT.md "Results"}}\n', REPORT.replace(" ± ", " +- "))
        text = generate(self.series, tiny.pin()).files[coverletter.NAME].decode()
        self.assertNotIn("MIME-Version", text)  # ASCII: no MIME headers, as git does
        self.assertIn("Some words.\n\n| activation | loss |\n|---|---|\n| LELU | 0.1 +- 0.01 |\n\n"
                      "Words after the table.\n\n### A subsection\n\nStill part of the results.\n\nLELU series (2):",
                      text)

    def test_errors_name_the_place_and_the_fix(self) -> None:
        cases = {
            '# S\n\n{{table REPORT.md "Nope"}}\n':
                "cover.md:3: REPORT.md has no heading 'Nope' (exactly one is needed)",
            '# S\n\n{{table REPORT.md "Other"}}\n\n{{table REPORT.md "A subsection"}}\n':
                "cover.md:5: REPORT.md has no table under 'A subsection'",
            '# S\n\n{{line REPORT.md "|"}}\n': "cover.md:3: REPORT.md has 4 lines that start with '|'",
            '# S\n\n{{line TRAINING.md "Measured"}}\n':
                "cover.md:3: cannot read TRAINING.md (No such file or directory); run `tools/lelu train --publish`",
            '# S\n\n{{tabel REPORT.md "Results"}}\n': "cover.md:3: not a directive",
            "No subject\n": "cover.md: the first line (after the comment) must be `# SUBJECT`",
            "# S\n": "cover.md: the cover letter has no text after the subject",
        }
        for source, message in cases.items():
            self.make(source)
            with self.assertRaises(CoverLetterError) as raised:
                generate(self.series, tiny.pin())
            self.assertIn(message, str(raised.exception), source)

    def test_manifest_names_a_missing_source(self) -> None:
        with self.assertRaises(ManifestError) as raised:
            tiny.make(self.root, {"series.toml": MANIFEST})
        self.assertIn("cover letter cover.md does not exist", str(raised.exception))


def test_committed_letter_quotes_the_committed_reports() -> None:
    """patches/0000-cover-letter.patch holds every quoted report part as the reports have it now,
    lists every patch of series.toml, and names the pin as its base (`tools/lelu patches --check`
    checks the rest, byte for byte)."""
    manifest = tomllib.loads((REPO_ROOT / "series.toml").read_text())
    assert "cover_letter" in manifest, "series.toml names no cover letter"
    letter = (REPO_ROOT / "patches" / coverletter.NAME).read_text()
    source = (REPO_ROOT / manifest["cover_letter"]).read_text()
    quoted = 0
    for number, line in enumerate(source.splitlines(), 1):
        m = coverletter.DIRECTIVE.match(line)
        if m:
            text = "\n".join(coverletter.expand(REPO_ROOT, m.group(1), m.group(2), m.group(3), f"line {number}"))
            assert f"\n{text}\n" in letter, f"{line} is not quoted as {m.group(2)} has it: run `tools/lelu patches`"
            quoted += 1
    assert quoted >= 3
    subjects = re.findall(r"^  (\[.+)$", letter.split("\nLELU series (", 1)[1], re.MULTILINE)
    assert subjects == [p["subject"] for p in manifest["patch"]]
    assert letter.startswith("From 0000000000000000000000000000000000000000 ")
    assert re.search(rf"^Subject: \[PATCH 0+/{len(manifest['patch'])}\] \S", letter, re.MULTILINE)  # 00/10 from 10 on
    assert letter.endswith(f"\nbase-commit: {manifest['pin']}\n")


def test_overlay_survives_a_broken_cover_letter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """The overlay regenerates patches/ before every build but never reads the letter: a report that
    lost a quoted heading leaves the old letter in place instead of stopping every test run."""
    from contextlib import nullcontext

    from lelu_tools import overlay

    tiny.make(tmp_path, {"series.toml": MANIFEST, "cover.md": SOURCE, "REPORT.md": REPORT})
    (tmp_path / "patches").mkdir()
    (tmp_path / "patches" / coverletter.NAME).write_text("the old letter\n")
    (tmp_path / "REPORT.md").write_text(REPORT.replace("## Results", "## Renamed"))
    monkeypatch.setattr(overlay, "REPO", tmp_path)
    monkeypatch.setattr(overlay.pin, "wheel_path", lambda version: tmp_path / "no.whl")
    monkeypatch.setattr(overlay.pin, "WheelPin", lambda wheel, pin: nullcontext(tiny.pin()))
    overlay.refresh_patches()
    printed = capsys.readouterr().out
    assert f"warning: patches/{coverletter.NAME} not regenerated: cover.md:10: REPORT.md has no heading" in printed
    assert (tmp_path / "patches" / coverletter.NAME).read_text() == "the old letter\n"
    assert (tmp_path / "patches" / SERIES_FILE).read_text() == "0001-ATen-Add-lelu.patch\n0002-nn-Add-F.lelu.patch\n"
