"""tools/lelu triton-check's correctly rounded fma (it replaces the interpreter's, which rounds
twice); the check itself runs in CI (.ci/run), in build/triton-venv."""

from __future__ import annotations

import math

import numpy as np

from lelu_tools.triton_check import exact_fma


def test_float32_rounds_once() -> None:
    # (1 + 2^-12)^2 - 1 = 2^-11 + 2^-24: a * b rounds to 1 + 2^-11, losing the 2^-24
    a = np.array([1 + 2.0**-12], dtype=np.float32)
    got = exact_fma(a, a, np.array([-1.0], dtype=np.float32))
    assert got.dtype == np.float32 and float(got[0]) == 2.0**-11 + 2.0**-24
    assert float(a[0] * a[0] - np.float32(1.0)) == 2.0**-11  # what two roundings give


def test_float64_rounds_once() -> None:
    a = np.array([1 + 2.0**-30])
    assert float(exact_fma(a, a, np.array([-1.0]))[0]) == 2.0**-29 + 2.0**-60


def test_float32_never_rounds_twice_through_float64() -> None:
    # (1 + 2^-12)^2 + 2^-100 lies just above a float32 tie (1 + 2^-11 + 2^-24); through float64
    # it would land on the tie and round to even, down
    a = np.array([1 + 2.0**-12], dtype=np.float32)
    got = exact_fma(a, a, np.array([2.0**-100], dtype=np.float32))
    assert float(got[0]) == 1 + 2.0**-11 + 2.0**-23
    assert float(np.float32(float(a[0]) * float(a[0]) + 2.0**-100)) == 1 + 2.0**-11


def test_signed_zeros_and_specials() -> None:
    f = np.float32
    zero = exact_fma(np.array([f(-0.0)]), np.array([f(1.0)]), np.array([f(-0.0)]))
    assert zero[0] == 0 and math.copysign(1.0, float(zero[0])) == -1.0
    plus = exact_fma(np.array([f(2.0)]), np.array([f(3.0)]), np.array([f(-6.0)]))
    assert math.copysign(1.0, float(plus[0])) == 1.0
    assert math.isnan(float(exact_fma(np.array([f(np.inf)]), np.array([f(0.0)]), np.array([f(1.0)]))[0]))
