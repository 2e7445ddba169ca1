"""`tools/lelu bench --capabilities`: its targets, its table and where it publishes (the timing
itself is the benchmark's, never a test's)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from expecttest import TestCase

from lelu_tools import bench_capabilities as bc


def row(capability: str, dtype: str, direction: str, ratio: float) -> dict[str, Any]:
    return {"capability": capability, "dtype": dtype, "size": 16, "direction": direction,
            "lelu_s": ratio * 1e-4, "silu_s": 1e-4, "ratio": ratio}


def report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    machine = {"date": "2026-12-02 08:00 UTC", "cpu": "a CPU", "cpus": 2, "torch": "2.13.0+cpu"}
    return {"machine": machine, "command": "tools/lelu bench --capabilities", "rounds": 3, "rows": rows,
            "not_run": ["AVX512"]}


class TestTargets(TestCase):
    def test_the_issues_targets(self) -> None:
        self.assertEqual(bc.target("avx2", "float32", "fwd"), 1.10)
        self.assertEqual(bc.target("avx512", "bfloat16", "bwd"), 1.20)
        self.assertEqual(bc.target("avx2", "float64", "bwd"), 1.30)
        self.assertEqual(bc.target("default", "float32", "bwd"), 2.0)
        self.assertIsNone(bc.target("default", "float64", "fwd"))
        self.assertIsNone(bc.target("avx2", "float16", "fwd"))

    def test_render_marks_misses_and_explains_them(self) -> None:
        text = bc.render(report([row("avx2", "float32", "fwd", 1.05), row("avx2", "float32", "bwd", 1.31),
                                 row("default", "float64", "fwd", 9.0)]))
        self.assertIn("| AVX2 | float32 | 2^16 | fwd | 105.0 us | 100.0 us | 1.05 | <= 1.10 | yes |", text)
        self.assertIn("| AVX2 | float32 | 2^16 | bwd | 131.0 us | 100.0 us | 1.31 | <= 1.20 | **no** |", text)
        self.assertIn("1 of the rows with a target miss it.", text)
        self.assertIn("Missed: bwd only, by up to 1.31 (AVX2 float32 2^16 bwd). Why:", text)
        self.assertIn("No target for DEFAULT float64 (9.00 to 9.00x)", text)
        self.assertIn("Not run here: AVX512", text)


class TestPublish(TestCase):
    def test_section_is_added_then_replaced_and_kept(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            doc = Path(tmp) / "BENCHMARKS.md"
            doc.write_text("# LELU benchmarks\n\nthe main report\n")
            self.assertEqual(bc.SECTION.kept(doc), "")
            bc.publish("first table\n", doc)
            bc.publish("second table\n", doc)
            text = doc.read_text()
            self.assertEqual(text.count(bc.SECTION.heading), 1)
            self.assertNotIn("first table", text)
            self.assertTrue(text.startswith("# LELU benchmarks\n\nthe main report\n\n## CPU capabilities\n"))
            kept = bc.SECTION.kept(doc)
            self.assertIn(f"{bc.SECTION.begin}\nsecond table\n{bc.SECTION.end}", kept)
            # what bench --publish writes: its own report, then the kept section
            doc.write_text("# LELU benchmarks\n\na new main report\n" + kept)
            self.assertEqual(bc.SECTION.kept(doc), kept)

    def test_figures_of_other_kernel_sources_are_not_published(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            saved = Path(tmp) / "capabilities.json"
            stale = dict(report([row("avx2", "float32", "fwd", 1.0)]), kernel="0123456789abcdef")
            saved.write_text(json.dumps(stale))
            before = (bc.REPO / "BENCHMARKS.md").read_text()
            code = bc.main(["--capabilities", "--render", str(saved), "--out", tmp, "--publish"])
            self.assertEqual(code, 1)
            self.assertEqual((bc.REPO / "BENCHMARKS.md").read_text(), before)
            self.assertNotEqual(bc.kernel_digest(), "0123456789abcdef")
