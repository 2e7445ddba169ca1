"""`tools/lelu cross-check`: its inputs, its comparison and its reports (the emulated runs
themselves are .ci/run's `tools/lelu cross-check`)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
from expecttest import TestCase

from lelu_tools import cross_check as cc

TARGET = {t.name: t for t in cc.TARGETS}


def results_like(data: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, list[np.ndarray]]:
    """Results that are the inputs' own bits (any fixed function would do for the comparison)."""
    return {name: [data[name][0].view(cc.UINT[name]).copy() for _ in cc.RESULTS] for name, _ in cc.DTYPES}


class TestInputs(TestCase):
    def test_inputs_hold_the_hard_cases(self) -> None:
        data = cc.inputs()
        x = data["float"][0].astype(np.float64)
        self.assertTrue(np.isnan(x).any() and np.isposinf(x).any() and np.isneginf(x).any())
        self.assertTrue(((x == 0) & np.signbit(x)).any(), "-0.0")
        tiny = float(np.finfo(np.float32).tiny)
        self.assertGreater(int(((x != 0) & (np.abs(x) < tiny)).sum()), 1000, "subnormals")
        self.assertGreater(int(((x > -62) & (x < -38)).sum()), 10000, "the float32 underflow band")
        spacing = abs(float(np.spacing(np.float32(cc.X0))))
        self.assertGreater(int((np.abs(x - cc.X0) < 100 * spacing).sum()), 199, "every float next to x0")
        for name in ("bfloat16", "half"):
            self.assertEqual(len(np.unique(data[name][0].view(np.uint16))), 1 << 16, f"every {name}")

    def test_written_inputs_are_little_endian_with_counts(self) -> None:
        data = cc.inputs()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "in.bin"
            cc.write_inputs(path, data)
            raw = path.read_bytes()
        n = int(np.frombuffer(raw, dtype="<u8", count=1)[0])
        self.assertEqual(n, data["float"][0].size)
        first = np.frombuffer(raw, dtype="<u4", count=n, offset=8)
        np.testing.assert_array_equal(first, data["float"][0].view(np.uint32))
        expected = sum(8 + 2 * data[name][0].size * np.dtype(cc.UINT[name]).itemsize for name, _ in cc.DTYPES)
        self.assertEqual(len(raw), expected)


class TestCompare(TestCase):
    def setUp(self) -> None:
        self.data = cc.inputs()
        self.reference = results_like(self.data)

    def test_identical_results_pass(self) -> None:
        outcome = cc.Outcome(TARGET["s390x ZVECTOR"])
        cc.compare(outcome, self.data, results_like(self.data), self.reference)
        self.assertTrue(outcome.ok)
        self.assertEqual(outcome.summary(), "s390x ZVECTOR: ok")

    def test_one_flipped_bit_is_reported_with_input_and_both_results(self) -> None:
        mine = results_like(self.data)
        i = int(np.nonzero(self.data["double"][0] == 1.0)[0][0])
        mine["double"][2][i] ^= np.uint64(1)  # backward vectorized, x = 1.0
        outcome = cc.Outcome(TARGET["aarch64 SVE256"])
        cc.compare(outcome, self.data, mine, self.reference)
        self.assertFalse(outcome.ok)
        self.assertEqual(len(outcome.mismatches), 2)  # vs its scalar path, and vs x86
        self.assertIn("double backward vectorized: 1 inputs differ from x86-64 AVX2, e.g. x=np.float64(1.0)",
                      outcome.mismatches[1])
        self.assertIn("1.0000000000000002) vs np.float64(1.0)", outcome.mismatches[1])
        self.assertEqual(outcome.summary(), "aarch64 SVE256: 2 MISMATCHES")

    def test_nan_payloads_do_not_count(self) -> None:
        mine = results_like(self.data)
        nan = np.isnan(self.data["float"][0])
        mine["float"][0][nan] = np.uint32(0xFFC00001)
        mine["float"][1][nan] = np.uint32(0xFFC00001)
        outcome = cc.Outcome(TARGET["ppc64le VSX"])
        cc.compare(outcome, self.data, mine, self.reference)
        self.assertTrue(outcome.ok, outcome.mismatches)

    def test_x86_default_differs_by_design_only_in_float_types(self) -> None:
        mine = results_like(self.data)
        mine["float"][0] = mine["float"][0] + np.uint32(1)
        mine["float"][1] = mine["float"][1] + np.uint32(1)
        outcome = cc.Outcome(TARGET["x86-64 DEFAULT"])
        cc.compare(outcome, self.data, mine, self.reference)
        self.assertTrue(outcome.ok, outcome.mismatches)
        self.assertIn("float in double by design: forward <= ", outcome.notes[0])
        mine["double"][0][0] ^= np.uint64(1)  # x = 0.0
        cc.compare(outcome, self.data, mine, self.reference)
        self.assertFalse(outcome.ok)

    def test_known_divergence_is_that_one_and_nothing_else(self) -> None:
        ref = np.array([0x80400000, 0x00400000, 0x3F800000, 0x80400000], dtype=np.uint32)  # -2^-127, 2^-127, 1
        mine = np.array([0x80000000, 0x00000000, 0x00000000, 0x00000000], dtype=np.uint32)
        got = cc.known_divergence(TARGET["ppc64le DEFAULT"], "float", "forward vectorized", mine, ref)
        # a zero of the same sign for a subnormal: yes; a zero for 1.0 or of the other sign: no
        self.assertEqual(got.tolist(), [True, True, False, False])
        for target, what in (("ppc64le VSX", "forward vectorized"), ("ppc64le DEFAULT", "forward scalar"),
                             ("ppc64le DEFAULT", "backward vectorized")):
            self.assertFalse(cc.known_divergence(TARGET[target], "float", what, mine, ref).any())


class TestToolchainPieces(TestCase):
    def test_vsx_shim_maps_pytorch_names_onto_debian_ones(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            vsx = Path(tmp)
            (vsx / "a.h").write_text("Sleef_expf4_u10(x); Sleef_copysignd2(a, b); Sleef_atanf4_u10(y);")
            debian = "Sleef_expf4_u10vsx(); Sleef_copysignd2_vsx(); Sleef_atanf4_u10();"
            shim = cc.vsx_shim(debian, vsx)
        self.assertIn("#include_next <sleef.h>", shim)
        self.assertIn("#define Sleef_expf4_u10 Sleef_expf4_u10vsx\n", shim)
        self.assertIn("#define Sleef_copysignd2 Sleef_copysignd2_vsx\n", shim)
        self.assertNotIn("Sleef_atanf4_u10 ", shim)  # declared as is

    def test_a_compile_error_names_the_file_and_its_first_error(self) -> None:
        if shutil.which("g++") is None:
            self.skipTest("no g++")
        with tempfile.TemporaryDirectory() as tmp:
            cpu = Path(tmp) / "cpu"
            cpu.mkdir()
            (cpu / "BrokenKernel.cpp").write_text("int f() { return lanewise(1); }\n")
            with mock.patch.object(cc, "CPU_DIR", cpu), mock.patch.object(cc, "OUT", Path(tmp) / "out"):
                error, binary = cc.compile_target(TARGET["x86-64 AVX2"], Path(tmp), [])
        self.assertIsNone(binary)
        self.assertIn("BrokenKernel.cpp: ", error)
        self.assertIn("error: ", error)
        self.assertIn("lanewise", error)
