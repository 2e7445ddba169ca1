#define TORCH_ASSERT_NO_OPERATORS
#include <ATen/native/Lelu.h>

#include <ATen/Dispatch.h>
#include <ATen/TensorIterator.h>
#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>
#include <ATen/native/LeluMath.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace at::native {

namespace {

using namespace vec;

// The operations of LeluMath.h on Vectorized<T>, lane by lane identical to
// lelu::LeluScalarOps<T>, so that vectorized and scalar loops (and thread
// counts, which move the boundary between them) give the same bits.
template <typename T>
struct LeluVecOps {
  using scalar_t = T;
  using vec_t = Vectorized<T>;
  using C = lelu::LeluConstants<T>;
  using ScalarOps = lelu::LeluScalarOps<T>;
  static constexpr bool is_float = std::is_same_v<T, float>;
#if defined(CPU_CAPABILITY_AVX512)
  using mask_t = std::conditional_t<is_float, __mmask16, __mmask8>;
#else
  using mask_t = vec_t;
#endif

  static vec_t splat(T c) {
    return vec_t(c);
  }
  static vec_t fma(const vec_t& a, const vec_t& b, const vec_t& c) {
#ifdef CPU_CAPABILITY_DEFAULT
    // The generic fmadd rounds twice; std::fma rounds once, like the
    // hardware instruction the other capabilities use.
    return lanewise(a, b, c, [](T x, T y, T z) { return std::fma(x, y, z); });
#else
    return vec::fmadd(a, b, c);
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
  // -min(|x|, limit); NaN stays NaN (max returns its second operand when one
  // is NaN)
  static vec_t gate_input(const vec_t& x, const vec_t& limit) {
#if defined(CPU_CAPABILITY_AVX512)
    if constexpr (is_float) {
      return _mm512_max_ps(limit.neg(), _mm512_or_ps(x, _mm512_set1_ps(-0.0f)));
    } else {
      return _mm512_max_pd(limit.neg(), _mm512_or_pd(x, _mm512_set1_pd(-0.0)));
    }
#elif defined(CPU_CAPABILITY_AVX2)
    if constexpr (is_float) {
      return _mm256_max_ps(limit.neg(), _mm256_or_ps(x, _mm256_set1_ps(-0.0f)));
    } else {
      return _mm256_max_pd(limit.neg(), _mm256_or_pd(x, _mm256_set1_pd(-0.0)));
    }
#else
    return lanewise(x, limit, limit, [](T a, T l, T) { return ScalarOps::gate_input(a, l); });
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
#elif defined(CPU_CAPABILITY_AVX2)
    const vec_t minus_zero(T(-0.0));
    // Where every 2^n is a normal number (|x| < 48 in float): one product.
    if (none_below(n, vec_t(T(C::min_exponent)))) {
      return vec::fmadd(v, exp2i(n), minus_zero);
    }
    vec_t n1 = n * vec_t(T(0.5));
    if constexpr (is_float) {
      n1 = _mm256_round_ps(n1, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    } else {
      n1 = _mm256_round_pd(n1, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    }
    return vec::fmadd(v * exp2i(n1), exp2i(n - n1), minus_zero);
#else
    return lanewise(v, n, n, [](T a, T b, T) { return ScalarOps::scale(a, b); });
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
  // 2^n for an integral n in the normal exponent range: n is added to a
  // constant whose last mantissa bits then hold n + bias.
  static vec_t exp2i(const vec_t& n) {
    const vec_t magic(T(C::shifter) + T(C::exponent_bias));
    const vec_t biased = n + magic;
    if constexpr (is_float) {
      return _mm256_castsi256_ps(
          _mm256_slli_epi32(_mm256_castps_si256(biased), C::mantissa_bits));
    } else {
      return _mm256_castsi256_pd(
          _mm256_slli_epi64(_mm256_castpd_si256(biased), C::mantissa_bits));
    }
  }
#endif
#ifdef CPU_CAPABILITY_DEFAULT
  template <typename F>
  static vec_t lanewise(const vec_t& a, const vec_t& b, const vec_t& c, F f) {
    __at_align__ T a_arr[vec_t::size()];
    __at_align__ T b_arr[vec_t::size()];
    __at_align__ T c_arr[vec_t::size()];
    a.store(a_arr);
    b.store(b_arr);
    c.store(c_arr);
    for (int64_t i = 0; i < vec_t::size(); ++i) {
      a_arr[i] = f(a_arr[i], b_arr[i], c_arr[i]);
    }
    return vec_t::loadu(a_arr);
  }
#endif
};

// The loop of cpu_kernel_vec, except for operands that are not contiguous (a
// stride-2 slice, a broadcast): cpu_kernel_vec runs the scalar op on those, and
// LELU's scalar op costs several times its share of a vector op, so here they
// are gathered into a small buffer and go through the vector op as well. The
// scalar op does the remainders; both give the same bits (LeluMath.h).
template <typename scalar_t, int ninputs, typename ScalarOp, typename VecOp>
void lelu_cpu_kernel_vec(
    TensorIteratorBase& iter,
    const ScalarOp& scalar_op,
    const VecOp& vec_op) {
  using Vec = Vectorized<scalar_t>;
  constexpr int64_t kChunk = 16 * Vec::size();
  TORCH_INTERNAL_ASSERT(iter.ninputs() == ninputs && iter.noutputs() == 1);
  auto compute = [&](scalar_t* out, const scalar_t* const* in, int64_t n) {
    int64_t i = 0;
    for (; i + Vec::size() <= n; i += Vec::size()) {
      if constexpr (ninputs == 1) {
        vec_op(Vec::loadu(in[0] + i)).store(out + i);
      } else {
        vec_op(Vec::loadu(in[0] + i), Vec::loadu(in[1] + i)).store(out + i);
      }
    }
    for (; i < n; ++i) {
      if constexpr (ninputs == 1) {
        out[i] = scalar_op(in[0][i]);
      } else {
        out[i] = scalar_op(in[0][i], in[1][i]);
      }
    }
  };
  iter.for_each([&](char** data, const int64_t* strides, int64_t n) {
    constexpr auto size = static_cast<int64_t>(sizeof(scalar_t));
    bool dense[ninputs + 1];
    for (int k = 0; k <= ninputs; ++k) {
      dense[k] = strides[k] == size;
    }
    __at_align__ scalar_t in_buf[ninputs][kChunk];
    __at_align__ scalar_t out_buf[kChunk];
    for (int64_t begin = 0; begin < n; begin += kChunk) {
      const int64_t m = std::min(kChunk, n - begin);
      const scalar_t* in[ninputs];
      for (int k = 0; k < ninputs; ++k) {
        const char* src = data[k + 1] + begin * strides[k + 1];
        if (dense[k + 1]) {
          in[k] = reinterpret_cast<const scalar_t*>(src);
          continue;
        }
        for (int64_t j = 0; j < m; ++j) {
          in_buf[k][j] = *reinterpret_cast<const scalar_t*>(src + j * strides[k + 1]);
        }
        in[k] = in_buf[k];
      }
      char* dst = data[0] + begin * strides[0];
      if (dense[0]) {
        compute(reinterpret_cast<scalar_t*>(dst), in, m);
        continue;
      }
      compute(out_buf, in, m);
      for (int64_t j = 0; j < m; ++j) {
        *reinterpret_cast<scalar_t*>(dst + j * strides[0]) = out_buf[j];
      }
    }
  });
}

void lelu_kernel(TensorIteratorBase& iter) {
  const auto dtype = iter.common_dtype();
  if (at::isReducedFloatingType(dtype)) {
    AT_DISPATCH_REDUCED_FLOATING_TYPES(dtype, "lelu_cpu", [&]() {
      lelu_cpu_kernel_vec<scalar_t, 1>(
          iter,
          [](scalar_t x) -> scalar_t {
            return lelu::lelu_forward<lelu::LeluScalarOps<float>>(float(x));
          },
          [](Vectorized<scalar_t> x_vec) -> Vectorized<scalar_t> {
            auto [x_vec0, x_vec1] = convert_to_float<scalar_t>(x_vec);
            return convert_from_float<scalar_t>(
                lelu::lelu_forward<LeluVecOps<float>>(x_vec0),
                lelu::lelu_forward<LeluVecOps<float>>(x_vec1));
          });
    });
  } else {
    AT_DISPATCH_FLOATING_TYPES(dtype, "lelu_cpu", [&]() {
      lelu_cpu_kernel_vec<scalar_t, 1>(
          iter,
          [](scalar_t x) -> scalar_t {
            return lelu::lelu_forward<lelu::LeluScalarOps<scalar_t>>(x);
          },
          [](Vectorized<scalar_t> x_vec) -> Vectorized<scalar_t> {
            return lelu::lelu_forward<LeluVecOps<scalar_t>>(x_vec);
          });
    });
  }
}

void lelu_backward_kernel(TensorIteratorBase& iter) {
  const auto dtype = iter.common_dtype();
  if (at::isReducedFloatingType(dtype)) {
    AT_DISPATCH_REDUCED_FLOATING_TYPES(dtype, "lelu_backward_cpu", [&]() {
      lelu_cpu_kernel_vec<scalar_t, 2>(
          iter,
          [](scalar_t dy, scalar_t x) -> scalar_t {
            return lelu::lelu_backward<lelu::LeluScalarOps<float>>(
                float(dy), float(x));
          },
          [](Vectorized<scalar_t> dy_vec,
             Vectorized<scalar_t> x_vec) -> Vectorized<scalar_t> {
            auto [x_vec0, x_vec1] = convert_to_float<scalar_t>(x_vec);
            auto [dy_vec0, dy_vec1] = convert_to_float<scalar_t>(dy_vec);
            return convert_from_float<scalar_t>(
                lelu::lelu_backward<LeluVecOps<float>>(dy_vec0, x_vec0),
                lelu::lelu_backward<LeluVecOps<float>>(dy_vec1, x_vec1));
          });
    });
  } else {
    AT_DISPATCH_FLOATING_TYPES(dtype, "lelu_backward_cpu", [&]() {
      lelu_cpu_kernel_vec<scalar_t, 2>(
          iter,
          [](scalar_t dy, scalar_t x) -> scalar_t {
            return lelu::lelu_backward<lelu::LeluScalarOps<scalar_t>>(dy, x);
          },
          [](Vectorized<scalar_t> dy_vec,
             Vectorized<scalar_t> x_vec) -> Vectorized<scalar_t> {
            return lelu::lelu_backward<LeluVecOps<scalar_t>>(dy_vec, x_vec);
          });
    });
  }
}

} // namespace

ALSO_REGISTER_AVX512_DISPATCH(lelu_stub, &lelu_kernel)
ALSO_REGISTER_AVX512_DISPATCH(lelu_backward_stub, &lelu_backward_kernel)

} // namespace at::native
