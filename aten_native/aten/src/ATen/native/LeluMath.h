#pragma once

// The arithmetic of LELU, lelu(x) = x * sigmoid(k * x) with k = pi / sqrt(3),
// written once for every kernel: the CPU kernel instantiates it with scalar and
// with at::vec::Vectorized operations.
//
// Why not x / (1 + exp(-k * x)):
//  * k * x is rounded before it reaches exp; for x < 0 the error grows with |k x|
//    (about 100 ULP near x = -55 in float32). Here k * x is carried as a
//    double-word th + tl (k split into k_hi + k_lo, products by FMA).
//  * exp(-k x) overflows for x < -48.9 in float32 and the result flushes to zero
//    long before the true value underflows (x = -59.6). Here only
//    e = exp(-|k x|) <= 1 is formed, as p * 2^n, and 2^n is applied last, so the
//    negative tail keeps its precision down to the subnormals.
//  * -inf * 0 and inf * 0 never occur: the input of the gate is clamped where the
//    result no longer depends on it, so lelu(-inf) = -0, lelu'(+inf) = 1.
//
// Results are bit-identical across CPU capabilities and between the scalar and
// the vectorized paths: the code uses only correctly rounded operations
// (+, -, *, /, fma, round-to-nearest-even, exact scaling by 2^n) and spells out
// every fused multiply-add; a product that feeds a sum is written fma(a, b, 0),
// so no compiler contraction (-ffp-contract) can change a result.
// Error bounds (measured against mpmath by the tests): forward <= 3 ULP, backward
// <= 4 ULP except near the zero of lelu' at x = -0.70485.

#include <c10/macros/Macros.h>
#include <c10/util/bit_cast.h>

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
  static constexpr float ln2_hi = 0.693145751953125f;
  static constexpr float ln2_lo = 1.428606765330187e-06f;
  static constexpr float inv_ln2 = 1.44269502162933349609f;
  // |x| beyond which the gate no longer changes the rounded result:
  // lelu(-64) and exp(-k * 64) are below half the smallest subnormal.
  static constexpr float gate_limit = 64.0f;
  static constexpr float exponent_bias = 127.0f;
  static constexpr int mantissa_bits = 23;
  // exp(r) on |r| <= ln2 / 2: Taylor to degree 7 (truncation < 0.05 ULP).
  static constexpr int degree = 7;
  static constexpr float coeff[degree + 1] = {
      1.0f,
      1.0f,
      0.5f,
      1.66666671633720398e-01f,
      4.16666679084300995e-02f,
      8.33333376795053482e-03f,
      1.38888892251998186e-03f,
      1.98412701138295233e-04f};
};

template <>
struct LeluConstants<double> {
  static constexpr double k_hi = 0x1.d05527b6e43d2p+0;
  static constexpr double k_lo = 0x1.fa756377d5f6ep-57;
  static constexpr double ln2_hi = 6.93147180369123816490e-01;
  static constexpr double ln2_lo = 1.90821492927058770002e-10;
  static constexpr double inv_ln2 = 1.44269504088896338700e+00;
  // lelu(-430) and exp(-k * 430) are below half the smallest subnormal.
  static constexpr double gate_limit = 430.0;
  static constexpr double exponent_bias = 1023.0;
  static constexpr int mantissa_bits = 52;
  // exp(r) on |r| <= ln2 / 2: Taylor to degree 13 (truncation < 0.05 ULP).
  static constexpr int degree = 13;
  static constexpr double coeff[degree + 1] = {
      1.0,
      1.0,
      0.5,
      1.66666666666666666667e-01,
      4.16666666666666666667e-02,
      8.33333333333333333333e-03,
      1.38888888888888888889e-03,
      1.98412698412698412698e-04,
      2.48015873015873015873e-05,
      2.75573192239858906526e-06,
      2.75573192239858906526e-07,
      2.50521083854417187751e-08,
      2.08767569878680989792e-09,
      1.60590438368216145994e-10};
};

// The operations for one scalar of type T (the vectorized CPU kernel has its
// own, lane by lane the same).
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
  static C10_HOST_DEVICE T neg(T a) {
    return -a;
  }
  static C10_HOST_DEVICE T round(T a) {
    return std::nearbyint(a);
  }
  static C10_HOST_DEVICE bool is_negative(T a) {
    return a < T(0);
  }
  static C10_HOST_DEVICE bool is_nan(T a) {
    return a != a;
  }
  static C10_HOST_DEVICE T select(bool m, T a, T b) {
    return m ? a : b;
  }
  // clamp(x, -limit, limit), with NaN replaced by 0
  static C10_HOST_DEVICE T gate_input(T x, T limit) {
    return x != x ? T(0) : (x < -limit ? -limit : (x > limit ? limit : x));
  }
  // 2^n for an integral n in the normal exponent range
  static C10_HOST_DEVICE T exp2i(T n) {
    const auto biased = static_cast<int_t>(n + LeluConstants<T>::exponent_bias);
    return c10::bit_cast<T>(
        static_cast<int_t>(biased << LeluConstants<T>::mantissa_bits));
  }
};

// The gate: for the clamped input xc, e = exp(-|k xc|) = p * 2^n1 * 2^n2 with
// p in [0.7, 1.42] and den = 1 + e. Ops supplies the arithmetic for V, a scalar
// or a vector of Ops::scalar_t.
template <typename V, typename M>
struct LeluGate {
  V xc; // the input, clamped to [-gate_limit, gate_limit], NaN replaced by 0
  V th; // k * xc = th + tl
  V tl;
  M neg; // xc < 0
  V q; // exp(r) - 1
  V p; // 1 + q, rounded
  V s1; // 2^n1
  V s2; // 2^n2
  V den; // 1 + e, rounded
};

template <typename Ops, typename V = typename Ops::vec_t>
C10_HOST_DEVICE inline LeluGate<V, typename Ops::mask_t> lelu_gate(const V& x) {
  using T = typename Ops::scalar_t;
  using C = LeluConstants<T>;
  const V zero = Ops::splat(T(0));
  const V one = Ops::splat(T(1));
  const V xc = Ops::gate_input(x, Ops::splat(C::gate_limit));
  const V k_hi = Ops::splat(C::k_hi);
  // th = k_hi * xc rounded, as an FMA so that no later sum can be contracted with it
  const V th = Ops::fma(xc, k_hi, zero);
  const V tl = Ops::fma(xc, Ops::splat(C::k_lo), Ops::fma(xc, k_hi, Ops::neg(th)));
  const auto neg = Ops::is_negative(xc);
  // a = ah + al = -|k xc| <= 0
  const V ah = Ops::select(neg, th, Ops::neg(th));
  const V al = Ops::select(neg, tl, Ops::neg(tl));
  const V n = Ops::round(ah * Ops::splat(C::inv_ln2));
  V r = Ops::fma(n, Ops::splat(-C::ln2_hi), ah);
  r = Ops::fma(n, Ops::splat(-C::ln2_lo), r) + al;
  // exp(r) = 1 + q with q = r * P(r): q keeps the bits that 1 + q rounds away.
  V poly = Ops::splat(C::coeff[C::degree]);
  for (int i = C::degree - 1; i >= 1; --i) {
    poly = Ops::fma(poly, r, Ops::splat(C::coeff[i]));
  }
  const V q = Ops::fma(r, poly, zero);
  const V p = one + q;
  // 2^n as two factors so that each is a normal number even where e is not.
  const V n1 = Ops::round(n * Ops::splat(T(0.5)));
  const V n2 = n - n1;
  const V s1 = Ops::exp2i(n1);
  const V s2 = Ops::exp2i(n2);
  const V den = Ops::fma(p * s1, s2, one);
  return {xc, th, tl, neg, q, p, s1, s2, den};
}

// lelu(x) = x / (1 + e) for x >= 0, x * e / (1 + e) for x < 0.
template <typename Ops, typename V = typename Ops::vec_t>
C10_HOST_DEVICE inline V lelu_forward(const V& x) {
  using T = typename Ops::scalar_t;
  const auto g = lelu_gate<Ops>(x);
  // One division for both branches; 2^n is applied last, after the division,
  // so the negative tail loses no precision before it underflows.
  const V one = Ops::splat(T(1));
  const V numerator = Ops::select(g.neg, g.xc * g.p, x);
  return (numerator / g.den) * Ops::select(g.neg, g.s1, one) *
      Ops::select(g.neg, g.s2, one);
}

// grad * lelu'(x), with s = sigmoid(k x), t = k x:
//   lelu'(x) = s + t s (1 - s)
//            = (1 + e (1 + t)) / (1 + e)^2   for x >= 0
//            = e (1 + e + t) / (1 + e)^2     for x < 0
// For x < 0, 1 + e + t vanishes at the minimum of lelu (x0 = -0.70485): it is
// summed from exact parts (1 + th is exact there, 2^n is a power of two) and the
// small ones (q 2^n, tl), so its absolute error stays near 1e-9 (float). (1 + e)^2
// is squared from the double-word 1 + e.
template <typename Ops, typename V = typename Ops::vec_t>
C10_HOST_DEVICE inline V lelu_backward(const V& grad, const V& x) {
  using T = typename Ops::scalar_t;
  const auto g = lelu_gate<Ops>(x);
  const V one = Ops::splat(T(1));
  const V zero = Ops::splat(T(0));
  // Products that feed a sum are FMAs with 0 (see the top of this file).
  const V two_n = Ops::fma(g.s1, g.s2, zero);
  // 1 + e = den + den_lo, with e = (p + p_lo) 2^n
  const V e = Ops::fma(g.p * g.s1, g.s2, zero);
  const V p_lo = (one - g.p) + g.q;
  const V den_lo = Ops::fma(p_lo, two_n, (one - g.den) + e);
  const V den2 = Ops::fma(g.den, g.den, (g.den + g.den) * den_lo);
  const V one_plus_t = (one + g.th) + g.tl;
  // x >= 0
  const V positive = grad * (Ops::fma(e, one_plus_t, one) / den2);
  // x < 0: e (1 + e + t) = 2^n (1 + q) (1 + t + 2^n + q 2^n)
  const V sum = Ops::fma(g.q, two_n, (one + g.th) + two_n) + g.tl;
  const V negative =
      (grad * (Ops::fma(g.q, sum, sum) / den2)) * g.s1 * g.s2;
  // The gate replaced NaN by 0: give the NaN back.
  return Ops::select(Ops::is_nan(x), x, Ops::select(g.neg, negative, positive));
}

} // namespace at::native::lelu
