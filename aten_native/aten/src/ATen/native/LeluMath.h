#pragma once

// The arithmetic of LELU, lelu(x) = x * sigmoid(k * x) with k = pi / sqrt(3),
// written once for every kernel: the CPU kernel instantiates it with scalar and
// with at::vec::Vectorized operations, the CUDA kernel with the scalar ones.
//
// Why not x / (1 + exp(-k * x)):
//  * k * x is rounded before it reaches exp; for x < 0 the error grows with
//    |k x| (about 100 ULP near x = -55 in float32). Here k * x is carried as
//    a double-word th + tl (k split into k_hi + k_lo, products by FMA).
//  * exp(-k x) overflows for x < -48.9 in float32 and the result flushes to
//    zero long before the true value underflows (x = -59.6). Here only
//    e = exp(-|k x|) <= 1 is formed, as (1 + q) * 2^n, and 2^n is applied
//    last, so the negative tail keeps its precision down to the subnormals.
//  * -inf * 0 and inf * 0 never occur: the input of the gate is clamped where
//    the result no longer depends on it, so lelu(-inf) = -0, lelu'(+inf) = 1.
//
// Results are bit-identical between the scalar and the vectorized paths and
// across the CPU capabilities with fused multiply-add instructions (see
// cpu/LeluVec.h; x86 DEFAULT evaluates float in double instead): the code uses
// only correctly rounded operations (+, -, *, /, fma, exact scaling by 2^n) and
// spells out every fused multiply-add; a product that feeds a sum is written
// mul(a, b) = fma(a, b, -0.0), so no compiler contraction (-ffp-contract) can
// change a result (-0.0 as the addend keeps the sign of a zero product). The
// CUDA kernel evaluates the same code with the scalar operations, so it is
// designed to give the CPU's bits (not yet run on a GPU).
// Error bounds (measured against mpmath by the tests): forward <= 3 ULP,
// backward <= 4 ULP except near the zero of lelu' at x = -0.70485.
//
// Cost (AVX-512, float): the vectorized forward is 24 vector operations and one
// division, the backward 36 and one division (double: 2 and 7 more). Every
// operation counts: in Inductor's loops, which inline these functions, three
// operations fewer made the float forward about 6% faster.

#include <c10/macros/Macros.h>
#include <c10/util/bit_cast.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace at::native::lelu {

template <typename T>
struct LeluConstants;

template <>
struct LeluConstants<float> {
  // k = 1.813799364234217850594078257642155732284 = k_hi + k_lo
  static constexpr float k_hi = 0x1.d05528p+0f;
  static constexpr float k_lo = -0x1.246f0cp-26f;
  // ln2 = ln2_hi + ln2_lo; ln2_hi has 16 significant bits, so n * ln2_hi is
  // exact for the |n| <= 168 that occur
  static constexpr float ln2_hi = 0.693145751953125f;
  static constexpr float ln2_lo = 1.428606765330187e-06f;
  static constexpr float inv_ln2 = 1.44269502162933349609f;
  // 1.5 * 2^23: fma(a, inv_ln2, shifter) - shifter rounds a / ln2 to an integer
  static constexpr float shifter = 0x1.8p23f;
  // |x| beyond which the gate no longer changes the rounded result:
  // lelu(-64) and exp(-k * 64) are below half the smallest subnormal.
  static constexpr float gate_limit = 64.0f;
  // Relative to the kernels' ops: 2^n is a normal number for n >= min_exponent
  static constexpr int min_exponent = -126;
  static constexpr int exponent_bias = 127;
  static constexpr int mantissa_bits = 23;
  // exp(r) - 1 = r * P(r) on |r| <= 0.3475 (> ln2 / 2): a minimax polynomial
  // of degree 5 with P(0) = 1 (error < 0.035 ULP, coefficients rounded).
  static constexpr int degree = 5;
  static constexpr std::array<float, degree + 1> coeff = {
      1.0f,
      0x1.fffffcp-2f,
      0x1.555490p-3f,
      0x1.5558fap-5f,
      0x1.123b68p-7f,
      0x1.6a21d4p-10f};
};

template <>
struct LeluConstants<double> {
  static constexpr double k_hi = 0x1.d05527b6e43d2p+0;
  static constexpr double k_lo = 0x1.fa756377d5f6ep-57;
  // ln2_hi has 32 significant bits: n * ln2_hi is exact for |n| <= 1126
  static constexpr double ln2_hi = 6.93147180369123816490e-01;
  static constexpr double ln2_lo = 1.90821492927058770002e-10;
  static constexpr double inv_ln2 = 1.44269504088896338700e+00;
  static constexpr double shifter = 0x1.8p52;
  // lelu(-430) and exp(-k * 430) are below half the smallest subnormal.
  static constexpr double gate_limit = 430.0;
  static constexpr int min_exponent = -1022;
  static constexpr int exponent_bias = 1023;
  static constexpr int mantissa_bits = 52;
  // exp(r) - 1 = r * P(r) on |r| <= 0.3475: minimax, degree 10, P(0) = 1
  // (error < 0.035 ULP, coefficients rounded).
  static constexpr int degree = 10;
  static constexpr std::array<double, degree + 1> coeff = {
      1.0,
      0x1.000000000000ap-1,
      0x1.55555555554f8p-3,
      0x1.55555555506e4p-5,
      0x1.111111112812bp-7,
      0x1.6c16c18489ba4p-10,
      0x1.a01a0129472e9p-13,
      0x1.a01998fb02ac1p-16,
      0x1.71df2609d8784p-19,
      0x1.28ae7a90babd3p-22,
      0x1.ad80f7d95e693p-26};
};

// The operations for one scalar of type T, on the host and on CUDA devices (the
// vectorized CPU kernel has its own, lane by lane the same).
template <typename T>
struct LeluScalarOps {
  using scalar_t = T;
  using vec_t = T;
  using mask_t = bool;
  using int_t = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;

  static C10_HOST_DEVICE T splat(T c) {
    return c;
  }
  static C10_HOST_DEVICE T fma(T a, T b, T c) {
    return std::fma(a, b, c);
  }
  // a * b - c rounded once
  static C10_HOST_DEVICE T fms(T a, T b, T c) {
    return std::fma(a, b, -c);
  }
  static C10_HOST_DEVICE T neg(T a) {
    return -a;
  }
  static C10_HOST_DEVICE bool is_negative(T a) {
    return a < T(0);
  }
  static C10_HOST_DEVICE T select(bool m, T a, T b) {
    return m ? a : b;
  }
  // max(-|x|, lowest) for lowest = -gate_limit; NaN stays NaN
  static C10_HOST_DEVICE T gate_input(T x, T lowest) {
    const T a = -std::fabs(x);
    return a < lowest ? lowest : a;
  }
  // v * 2^n rounded once, for an integral n in [2 * min_exponent, 0] (or NaN,
  // then v is NaN too). Callers keep v * 2^(n / 2) normal or zero, so that the
  // two exact-factor products below round once, as the AVX-512 vscalef does.
  static C10_HOST_DEVICE T scale(T v, T n) {
    if (n != n) {
      return n;
    }
    const auto ni = static_cast<int_t>(n);
    const int_t n1 = ni / 2;
    return std::fma(v * exp2i(n1), exp2i(ni - n1), T(-0.0));
  }
  // 2^n for an integral n in the normal exponent range
  static C10_HOST_DEVICE T exp2i(int_t n) {
    return c10::bit_cast<T>(static_cast<int_t>(
        (n + LeluConstants<T>::exponent_bias)
        << LeluConstants<T>::mantissa_bits));
  }
};

// a * b rounded once, never fused with a sum that follows it (the sign of a
// zero product is kept).
template <typename Ops, typename V>
C10_HOST_DEVICE inline V lelu_mul(const V& a, const V& b) {
  return Ops::fma(a, b, Ops::splat(typename Ops::scalar_t(-0.0)));
}

// The gate's argument: -|k xc| = th + tl, with xc the input clamped to
// [-gate_limit, gate_limit] and ax = -|xc| (NaN for a NaN input): th = k_hi ax
// rounded, tl its rounding error (by fma) plus ax k_lo. The callers form ax and
// th; this returns tl.
template <typename Ops, typename V = typename Ops::vec_t>
C10_HOST_DEVICE inline V lelu_product_lo(const V& ax, const V& th) {
  using C = LeluConstants<typename Ops::scalar_t>;
  return Ops::fma(
      ax, Ops::splat(C::k_lo), Ops::fms(ax, Ops::splat(C::k_hi), th));
}

// The gate: e = exp(th + tl) = (1 + q) 2^n, n = th / ln2 rounded to an integer
// (in [2 * min_exponent, 0]), r = th + tl - n ln2 with |r| <= ln2 / 2 and
// exp(r) = 1 + q. (Each function returns one vector: inside Inductor's OpenMP
// loops gcc kept the fields of a returned struct in memory, at up to 10% of
// the forward's time.)
template <typename Ops, typename V = typename Ops::vec_t>
C10_HOST_DEVICE inline V lelu_exp_exponent(const V& th) {
  using C = LeluConstants<typename Ops::scalar_t>;
  // the shifter makes the fma round to an integer
  const V shifter = Ops::splat(C::shifter);
  return Ops::fma(th, Ops::splat(C::inv_ln2), shifter) - shifter;
}

// P(r), with exp(r) - 1 = r * P(r) on |r| <= 0.3475. (A local copy of the
// coefficients: device code cannot read the static one.)
template <typename Ops, typename V = typename Ops::vec_t>
C10_HOST_DEVICE inline V lelu_exp_poly(const V& r) {
  using C = LeluConstants<typename Ops::scalar_t>;
  constexpr auto coeff = C::coeff;
  V poly = Ops::splat(coeff[C::degree]);
  for (int i = C::degree - 1; i >= 0; --i) {
    poly = Ops::fma(poly, r, Ops::splat(coeff[i]));
  }
  return poly;
}

// q = exp(r) - 1 = r * P(r) for the n above (q keeps the bits that 1 + q
// rounds away); th - n ln2_hi is exact. r is carried as r + r_lo, and r_lo goes
// back into q to first order (exp'(r) = 1 + q), except in the float forward
// (kFast): there r is rounded once (absolute error below 2^-26, under 0.19 ULP
// of e), which saves three vector operations. The float backward keeps r_lo:
// near x0 it would exceed 4 ULP without.
template <typename Ops, bool kFast = false, typename V = typename Ops::vec_t>
C10_HOST_DEVICE inline V lelu_exp_q(const V& th, const V& tl, const V& n) {
  using T = typename Ops::scalar_t;
  using C = LeluConstants<T>;
  const V s = Ops::fma(n, Ops::splat(-C::ln2_hi), th);
  if constexpr (kFast && sizeof(T) == 4) {
    const V r = s + Ops::fma(n, Ops::splat(-C::ln2_lo), tl);
    return lelu_mul<Ops>(r, lelu_exp_poly<Ops>(r));
  } else {
    const V r_hi = Ops::fma(n, Ops::splat(-C::ln2_lo), s);
    const V r = r_hi + tl;
    const V r_lo = (r_hi - r) + tl;
    return Ops::fma(r, lelu_exp_poly<Ops>(r), r_lo);
  }
}

// lelu(x) = x / (1 + e) for x >= 0, x * e / (1 + e) for x < 0, e = exp(-|k x|).
template <typename Ops, typename V = typename Ops::vec_t>
C10_HOST_DEVICE inline V lelu_forward(const V& x) {
  using T = typename Ops::scalar_t;
  using C = LeluConstants<T>;
  const V ax = Ops::gate_input(x, Ops::splat(-C::gate_limit));
  const V th = lelu_mul<Ops>(ax, Ops::splat(C::k_hi));
  const V tl = lelu_product_lo<Ops>(ax, th);
  const V n = lelu_exp_exponent<Ops>(th);
  const V q = lelu_exp_q<Ops, /*kFast=*/true>(th, tl, n);
  const V one = Ops::splat(T(1));
  const V den = one + Ops::scale(one + q, n);
  // One division for both branches; 2^n is applied last, after the division, so
  // the negative tail loses no precision before it underflows. x (1 + q) is
  // rounded once; NaN passes through the x >= 0 branch.
  const auto neg = Ops::is_negative(x);
  const V numerator = Ops::select(neg, Ops::fma(ax, q, ax), x);
  return Ops::scale(numerator / den, Ops::select(neg, n, Ops::splat(T(0))));
}

// (1 + e)^2 for e = (p + p_lo) 2^n = exp(-|k x|), p = 1 + q rounded. In float,
// 1 + e (2 + e) by one fma: 7 vector operations fewer than a double-word
// square, and the backward stays within 4 ULP. In double that form reaches 4
// ULP near x0, so double squares the double-word 1 + e = den + den_lo.
template <typename Ops, typename V = typename Ops::vec_t>
C10_HOST_DEVICE inline V lelu_den_squared(
    const V& p,
    const V& q,
    const V& e,
    const V& two_n) {
  using T = typename Ops::scalar_t;
  const V one = Ops::splat(T(1));
  if constexpr (sizeof(T) == 4) {
    return Ops::fma(e, Ops::splat(T(2)) + e, one);
  } else {
    const V den = one + e;
    const V p_lo = (one - p) + q;
    const V den_lo = Ops::fma(p_lo, two_n, (one - den) + e);
    return Ops::fma(den, den, lelu_mul<Ops>(den + den, den_lo));
  }
}

// grad * lelu'(x), with s = sigmoid(k x), t = k x:
//   lelu'(x) = s + t s (1 - s)
//            = (1 + e (1 + t)) / (1 + e)^2   for x >= 0
//            = e (1 + e + t) / (1 + e)^2     for x < 0
// For x < 0, 1 + e + t vanishes at the minimum of lelu (x0 = -0.70485): it is
// summed from exact parts (1 + th is exact there, 2^n is a power of two) and
// the small ones (q 2^n, tl), so its absolute error stays near 1e-9 (float).
// lelu'(x) is formed (and scaled by 2^n) before it multiplies grad, so grad
// enters with one rounding.
template <typename Ops, typename V = typename Ops::vec_t>
C10_HOST_DEVICE inline V lelu_backward(const V& grad, const V& x) {
  using T = typename Ops::scalar_t;
  using C = LeluConstants<T>;
  const V ax = Ops::gate_input(x, Ops::splat(-C::gate_limit));
  const V th = lelu_mul<Ops>(ax, Ops::splat(C::k_hi));
  const V tl = lelu_product_lo<Ops>(ax, th);
  const V n = lelu_exp_exponent<Ops>(th);
  const V q = lelu_exp_q<Ops>(th, tl, n);
  const V one = Ops::splat(T(1));
  const V p = one + q;
  const V two_n = Ops::scale(one, n);
  // e = (p + p_lo) 2^n; p 2^n is exact where 2^n is normal, and where it is
  // not, e is too small to change 1 + e.
  const V e = lelu_mul<Ops>(p, two_n);
  const V den2 = lelu_den_squared<Ops>(p, q, e, two_n);
  // x >= 0: t = -(th + tl)
  const V positive = Ops::fma(e, (one - th) - tl, one);
  // x < 0: e (1 + e + t) = 2^n (1 + q) (1 + t + 2^n + q 2^n)
  const V sum = Ops::fma(q, two_n, (one + th) + two_n) + tl;
  const V negative = Ops::fma(q, sum, sum);
  const auto neg = Ops::is_negative(x);
  const V derivative = Ops::scale(
      Ops::select(neg, negative, positive) / den2,
      Ops::select(neg, n, Ops::splat(T(0))));
  return grad * derivative;
}

} // namespace at::native::lelu
