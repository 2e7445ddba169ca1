#pragma once

// The element functions of the LELU CPU kernel (cpu/LeluKernel.cpp): the
// arithmetic of LeluMath.h on at::vec::Vectorized<T>, for the CPU capability
// this translation unit is compiled for. Every capability PyTorch builds has a
// path here: x86 DEFAULT, AVX2 and AVX512; aarch64 DEFAULT (NEON) and SVE256;
// ppc64le DEFAULT and VSX (both VSX types); s390x DEFAULT and ZVECTOR.
//
// Wherever the CPU has a fused multiply-add (every capability except x86
// DEFAULT) the vectorized functions are lane by lane identical to
// lelu::LeluScalarOps, so that vectorized and scalar loops, thread counts and
// capabilities give the same bits. x86 DEFAULT is built for CPUs without FMA
// instructions, where a correctly rounded fma is a slow library call: there
// float (and bfloat16 and float16, computed in float) is evaluated in double
// and rounded once, which is at least as accurate but not the same bits;
// double keeps the FMA arithmetic (bit-identical, slow).

#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>
#include <ATen/native/LeluMath.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <c10/util/bit_cast.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace at::native {
inline namespace CPU_CAPABILITY {

using vec::Vectorized;

#if !defined(CPU_CAPABILITY_AVX2) && !defined(CPU_CAPABILITY_AVX512) && \
    !defined(__FMA__) &&                                                \
    (defined(__x86_64__) || defined(_M_X64) || defined(__i386__) ||     \
     defined(_M_IX86))
// x86 without AVX2 (and not built with -mfma): no fused multiply-add. (In
// ATen that is the DEFAULT capability; Inductor's generated kernels define no
// capability macro when it picks no vector ISA.)
constexpr bool lelu_float_in_double = true;
#else
constexpr bool lelu_float_in_double = false;
#endif

// The operations of LeluMath.h on Vectorized<T>.
template <typename T>
struct LeluVecOps {
  using scalar_t = T;
  using vec_t = Vectorized<T>;
  using C = lelu::LeluConstants<T>;
  static constexpr bool is_float = std::is_same_v<T, float>;
#if defined(CPU_CAPABILITY_AVX512)
  using mask_t = std::conditional_t<is_float, __mmask16, __mmask8>;
#else
  using mask_t = vec_t;
#endif

  static vec_t splat(T c) {
    return vec_t(c);
  }
  // a * b + c rounded once
  static vec_t fma(const vec_t& a, const vec_t& b, const vec_t& c) {
#if defined(CPU_CAPABILITY_AVX2) || defined(CPU_CAPABILITY_AVX512) || \
    defined(CPU_CAPABILITY_SVE) || defined(CPU_CAPABILITY_ZVECTOR) || \
    defined(__aarch64__)
    // vfmadd, svmad, vfmasb/vfmadb, and NEON's vfmaq
    return vec::fmadd(a, b, c);
#elif defined(__VSX__) || defined(CPU_CAPABILITY_VSX)
    // vec_madd (vec::fmadd<float> is the generic a * b + c on VSX)
    return a.madd(b, c);
#else
    // The generic Vectorized<T> of vec_base.h, whose fmadd is a * b + c
    // rounded twice: std::fma per lane (the hardware instruction where the
    // compiler targets one, as on ppc64le and s390x).
    __at_align__ T a_arr[vec_t::size()];
    __at_align__ T b_arr[vec_t::size()];
    __at_align__ T c_arr[vec_t::size()];
    a.store(a_arr);
    b.store(b_arr);
    c.store(c_arr);
    for (int64_t i = 0; i < vec_t::size(); ++i) {
      a_arr[i] = std::fma(a_arr[i], b_arr[i], c_arr[i]);
    }
    return vec_t::loadu(a_arr);
#endif
  }
  // a * b - c rounded once
  static vec_t fms(const vec_t& a, const vec_t& b, const vec_t& c) {
#if defined(CPU_CAPABILITY_AVX2) || defined(CPU_CAPABILITY_AVX512) || \
    defined(CPU_CAPABILITY_SVE)
    // vfmsub and svnmsb
    return vec::fmsub(a, b, c);
#else
    return fma(a, b, c.neg());
#endif
  }
  static vec_t neg(const vec_t& a) {
    return a.neg();
  }
  static mask_t is_negative(const vec_t& a) {
#if defined(CPU_CAPABILITY_AVX512)
    if constexpr (is_float) {
      return _mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_LT_OQ);
    } else {
      return _mm512_cmp_pd_mask(a, _mm512_setzero_pd(), _CMP_LT_OQ);
    }
#else
    return a < vec_t(T(0));
#endif
  }
  static vec_t select(const mask_t& m, const vec_t& a, const vec_t& b) {
#if defined(CPU_CAPABILITY_AVX512)
    if constexpr (is_float) {
      return _mm512_mask_blend_ps(m, b, a);
    } else {
      return _mm512_mask_blend_pd(m, b, a);
    }
#else
    return vec_t::blendv(b, a, m);
#endif
  }
  // max(-|x|, lowest) for lowest = -gate_limit; NaN stays NaN
  static vec_t gate_input(const vec_t& x, const vec_t& lowest) {
#if defined(CPU_CAPABILITY_AVX512)
    // max returns its second operand when one is NaN
    if constexpr (is_float) {
      return _mm512_max_ps(lowest, _mm512_or_ps(x, _mm512_set1_ps(-0.0f)));
    } else {
      return _mm512_max_pd(lowest, _mm512_or_pd(x, _mm512_set1_pd(-0.0)));
    }
#elif defined(CPU_CAPABILITY_AVX2)
    if constexpr (is_float) {
      return _mm256_max_ps(lowest, _mm256_or_ps(x, _mm256_set1_ps(-0.0f)));
    } else {
      return _mm256_max_pd(lowest, _mm256_or_pd(x, _mm256_set1_pd(-0.0)));
    }
#else
    // vec::maximum propagates NaN on every capability
    return vec::maximum(lowest, x.abs().neg());
#endif
  }
  // v * 2^n rounded once (see LeluScalarOps::scale)
  static vec_t scale(const vec_t& v, const vec_t& n) {
#if defined(CPU_CAPABILITY_AVX512)
    if constexpr (is_float) {
      return _mm512_scalef_ps(v, n);
    } else {
      return _mm512_scalef_pd(v, n);
    }
#else
    const vec_t minus_zero(T(-0.0));
#if defined(CPU_CAPABILITY_AVX2)
    // Where every 2^n is a normal number (|x| < 48 in float): one product.
    if (none_below(n, vec_t(T(C::min_exponent)))) {
      return vec::fmadd(v, exp2i(n), minus_zero);
    }
#endif
    // n = n1 + (n - n1) with n1 = trunc(n / 2): both factors are normal, the
    // first product is exact, the second rounds once.
    const vec_t n1 = (n * vec_t(T(0.5))).trunc();
    return fma(v * exp2i(n1), exp2i(n - n1), minus_zero);
#endif
  }

 private:
#if defined(CPU_CAPABILITY_AVX2)
  static bool none_below(const vec_t& a, const vec_t& b) {
    if constexpr (is_float) {
      return _mm256_movemask_ps(_mm256_cmp_ps(a, b, _CMP_LT_OQ)) == 0;
    } else {
      return _mm256_movemask_pd(_mm256_cmp_pd(a, b, _CMP_LT_OQ)) == 0;
    }
  }
#endif
  // 2^n for an integral n in the normal exponent range: n is added to a
  // constant whose last mantissa bits then hold n + bias, which are shifted
  // into the exponent field.
  static vec_t exp2i(const vec_t& n) {
    const vec_t biased = n + vec_t(T(C::shifter) + T(C::exponent_bias));
#if defined(CPU_CAPABILITY_AVX2)
    if constexpr (is_float) {
      return _mm256_castsi256_ps(
          _mm256_slli_epi32(_mm256_castps_si256(biased), C::mantissa_bits));
    } else {
      return _mm256_castsi256_pd(
          _mm256_slli_epi64(_mm256_castpd_si256(biased), C::mantissa_bits));
    }
#else
    using int_t = vec::int_same_size_t<T>;
    return vec::cast<T>(
        vec::cast<int_t>(biased)
        << Vectorized<int_t>(static_cast<int_t>(C::mantissa_bits)));
#endif
  }
};

// x86 DEFAULT's float arithmetic: lelu and grad * lelu' of floats evaluated
// in double and rounded once. k |x|, exp(-k |x|) (a polynomial after the usual
// reduction) and the quotients carry relative errors near 2^-46 at most
// (|k x| <= 117), far below float's 2^-24, so the result is the correctly
// rounded one except for inputs within 2^-20 ULP of a rounding boundary.
// |x| is clamped as in LeluMath.h, so lelu(-inf) = -0 and lelu'(+inf) = 1;
// NaN propagates. The clamp and the choice between the two branches are made
// on the bits (integer operations), so that the compiler vectorizes the loops
// with SSE2: selects between floating-point values are branches it will not
// convert while floating-point operations may trap (-ftrapping-math).
struct LeluInDouble {
  using C = lelu::LeluConstants<double>;
  static constexpr double k = C::k_hi;
  static constexpr uint32_t limit_bits = 0x42800000; // 64.0f, the gate limit
  static constexpr uint32_t inf_bits = 0x7f800000;
  static_assert(lelu::LeluConstants<float>::gate_limit == 64.0f);

  // exp(-t) for t in [0, k * 64] or NaN: exp(-t) = 2^-n exp(r), r = n ln2 - t,
  // |r| <= ln2 / 2, exp(r) by its Taylor polynomial of degree 11 (truncation
  // error below 2^-48), 2^-n from the bits of the shifted t / ln2.
  static double exp_neg(double t) {
    const double shifted = t * C::inv_ln2 + C::shifter;
    const double n = shifted - C::shifter;
    const double r = (n * C::ln2_hi - t) + n * C::ln2_lo;
    const double r2 = r * r;
    const double even =
        (((((1.0 / 3628800 * r2 + 1.0 / 40320) * r2 + 1.0 / 720) * r2 +
           1.0 / 24) *
              r2 +
          0.5) *
             r2 +
         1.0);
    const double odd =
        (((((1.0 / 39916800 * r2 + 1.0 / 362880) * r2 + 1.0 / 5040) * r2 +
           1.0 / 120) *
              r2 +
          1.0 / 6) *
             r2 +
         1.0);
    const uint64_t ni =
        c10::bit_cast<uint64_t>(shifted) - c10::bit_cast<uint64_t>(C::shifter);
    const uint64_t biased = uint64_t(C::exponent_bias) - ni;
    return (even + r * odd) * c10::bit_cast<double>(biased << C::mantissa_bits);
  }
  // min(|x|, 64) (NaN stays NaN), and x with |x| clamped for x < 0
  struct Clamped {
    double ax;
    double xc;
    uint64_t negative; // all ones where the sign bit of x is set
  };
  static Clamped clamp(float x) {
    const auto bits = c10::bit_cast<uint32_t>(x);
    const uint32_t magnitude = bits & 0x7fffffff;
    const uint32_t sign = bits & 0x80000000;
    const uint32_t over =
        0u - uint32_t((magnitude > limit_bits) & (magnitude <= inf_bits));
    const uint32_t clamped = magnitude ^ ((magnitude ^ limit_bits) & over);
    const uint32_t sign_mask = 0u - (bits >> 31);
    const uint32_t xc = ((clamped | sign) & sign_mask) | (bits & ~sign_mask);
    return {
        double(c10::bit_cast<float>(clamped)),
        double(c10::bit_cast<float>(xc)),
        uint64_t(0) - uint64_t(bits >> 31)};
  }
  static double choose(uint64_t mask, double a, double b) {
    return c10::bit_cast<double>(
        (c10::bit_cast<uint64_t>(a) & mask) |
        (c10::bit_cast<uint64_t>(b) & ~mask));
  }
  // x >= 0: x / (1 + e); x < 0: xc e / (1 + e), e = exp(-k |xc|)
  static void forward(const float* x, float* out, int64_t size) {
    for (int64_t i = 0; i < size; ++i) {
      const Clamped c = clamp(x[i]);
      const double e = exp_neg(k * c.ax);
      out[i] =
          static_cast<float>(c.xc * choose(c.negative, e, 1.0) / (1.0 + e));
    }
  }
  // lelu'(x) = (1 + e (1 + t)) / (1 + e)^2 for x >= 0, e (1 + e - t) / (1 +
  // e)^2 for x < 0, with t = k |x|, e = exp(-t). Near the zero of lelu' the
  // cancellation in 1 + e - t costs double's precision, not float's.
  static void backward(
      const float* grad,
      const float* x,
      float* out,
      int64_t size) {
    for (int64_t i = 0; i < size; ++i) {
      const Clamped c = clamp(x[i]);
      const double t = k * c.ax;
      const double e = exp_neg(t);
      const double den = 1.0 + e;
      const double numerator =
          choose(c.negative, e * (den - t), 1.0 + e * (1.0 + t));
      out[i] = static_cast<float>(double(grad[i]) * (numerator / (den * den)));
    }
  }
};

// The element functions of the kernel: scalar_t in, scalar_t out. BFloat16 and
// Half compute in float and round once.
template <typename scalar_t>
struct LeluElementOps {
  using opmath_t =
      std::conditional_t<std::is_same_v<scalar_t, double>, double, float>;
  static constexpr bool is_reduced = !std::is_same_v<scalar_t, opmath_t>;
  static constexpr bool in_double =
      lelu_float_in_double && std::is_same_v<opmath_t, float>;
  using Vec = Vectorized<scalar_t>;

  static opmath_t forward_opmath(opmath_t x) {
    if constexpr (in_double) {
      float out = 0;
      LeluInDouble::forward(&x, &out, 1);
      return out;
    } else {
      return lelu::lelu_forward<lelu::LeluScalarOps<opmath_t>>(x);
    }
  }
  static opmath_t backward_opmath(opmath_t grad, opmath_t x) {
    if constexpr (in_double) {
      float out = 0;
      LeluInDouble::backward(&grad, &x, &out, 1);
      return out;
    } else {
      return lelu::lelu_backward<lelu::LeluScalarOps<opmath_t>>(grad, x);
    }
  }

  static scalar_t forward(scalar_t x) {
    return static_cast<scalar_t>(forward_opmath(static_cast<opmath_t>(x)));
  }
  static scalar_t backward(scalar_t grad, scalar_t x) {
    return static_cast<scalar_t>(
        backward_opmath(static_cast<opmath_t>(grad), static_cast<opmath_t>(x)));
  }

  static Vectorized<opmath_t> forward_opmath(const Vectorized<opmath_t>& x) {
    if constexpr (in_double) {
      // the generic Vectorized<float> is an array of lanes
      __at_align__ float lanes[Vectorized<float>::size()];
      x.store(lanes);
      LeluInDouble::forward(lanes, lanes, Vectorized<float>::size());
      return Vectorized<float>::loadu(lanes);
    } else {
      return lelu::lelu_forward<LeluVecOps<opmath_t>>(x);
    }
  }
  static Vectorized<opmath_t> backward_opmath(
      const Vectorized<opmath_t>& grad,
      const Vectorized<opmath_t>& x) {
    if constexpr (in_double) {
      __at_align__ float grad_arr[Vectorized<float>::size()];
      __at_align__ float x_arr[Vectorized<float>::size()];
      grad.store(grad_arr);
      x.store(x_arr);
      LeluInDouble::backward(grad_arr, x_arr, x_arr, Vectorized<float>::size());
      return Vectorized<float>::loadu(x_arr);
    } else {
      return lelu::lelu_backward<LeluVecOps<opmath_t>>(grad, x);
    }
  }

  static Vec forward(const Vec& x) {
    if constexpr (is_reduced) {
      auto [x0, x1] = vec::convert_to_float<scalar_t>(x);
      return vec::convert_from_float<scalar_t>(
          forward_opmath(x0), forward_opmath(x1));
    } else {
      return forward_opmath(x);
    }
  }
  static Vec backward(const Vec& grad, const Vec& x) {
    if constexpr (is_reduced) {
      auto [x0, x1] = vec::convert_to_float<scalar_t>(x);
      auto [grad0, grad1] = vec::convert_to_float<scalar_t>(grad);
      return vec::convert_from_float<scalar_t>(
          backward_opmath(grad0, x0), backward_opmath(grad1, x1));
    } else {
      return backward_opmath(grad, x);
    }
  }
};

// lelu and grad * lelu' of opmath values (float, double), of their Vectorized
// and of their VectorizedN, with the kernel's arithmetic: code that inlines the
// element functions in loops of its own gets the kernel's bits. Inductor's
// generated C++ kernels call these (torch/csrc/inductor/cpp_prefix.h) for
// aten.lelu and aten.lelu_backward; bfloat16 and half reach them in float.
template <typename T>
inline T lelu_opmath(const T& x) {
  return LeluElementOps<T>::forward_opmath(x);
}
template <typename T>
inline Vectorized<T> lelu_opmath(const Vectorized<T>& x) {
  return LeluElementOps<T>::forward_opmath(x);
}
template <typename T, int N>
inline vec::VectorizedN<T, N> lelu_opmath(const vec::VectorizedN<T, N>& x) {
  vec::VectorizedN<T, N> out;
  for (int i = 0; i < N; ++i) {
    out[i] = LeluElementOps<T>::forward_opmath(x[i]);
  }
  return out;
}
template <typename T>
inline T lelu_backward_opmath(const T& grad, const T& x) {
  return LeluElementOps<T>::backward_opmath(grad, x);
}
template <typename T>
inline Vectorized<T> lelu_backward_opmath(
    const Vectorized<T>& grad,
    const Vectorized<T>& x) {
  return LeluElementOps<T>::backward_opmath(grad, x);
}
template <typename T, int N>
inline vec::VectorizedN<T, N> lelu_backward_opmath(
    const vec::VectorizedN<T, N>& grad,
    const vec::VectorizedN<T, N>& x) {
  vec::VectorizedN<T, N> out;
  for (int i = 0; i < N; ++i) {
    out[i] = LeluElementOps<T>::backward_opmath(grad[i], x[i]);
  }
  return out;
}

} // namespace CPU_CAPABILITY
} // namespace at::native
