#define TORCH_ASSERT_NO_OPERATORS
#include <ATen/native/Lelu.h>

#include <ATen/Dispatch.h>
#include <ATen/TensorIterator.h>
#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>
#include <ATen/native/LeluMath.h>
#include <ATen/native/cpu/Loops.h>

#include <cmath>
#include <cstdint>

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
  using mask_t = Vectorized<T>;
  using int_t = int_same_size_t<T>;

  static vec_t splat(T c) {
    return vec_t(c);
  }
  static vec_t fma(const vec_t& a, const vec_t& b, const vec_t& c) {
#ifdef CPU_CAPABILITY_DEFAULT
    // The generic fmadd rounds twice; std::fma rounds once, like the
    // hardware instruction the other capabilities use.
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
#else
    return vec::fmadd(a, b, c);
#endif
  }
  static vec_t neg(const vec_t& a) {
    return a.neg();
  }
  static vec_t round(const vec_t& a) {
    return a.round();
  }
  static mask_t is_negative(const vec_t& a) {
    return a < vec_t(T(0));
  }
  static mask_t is_nan(const vec_t& a) {
    return a.isnan();
  }
  static vec_t select(const mask_t& m, const vec_t& a, const vec_t& b) {
    return vec_t::blendv(b, a, m);
  }
  static vec_t gate_input(const vec_t& x, const vec_t& limit) {
    const vec_t clamped = vec::clamp(x, limit.neg(), limit);
    return vec_t::blendv(clamped, vec_t(T(0)), x.isnan());
  }
  static vec_t exp2i(const vec_t& n) {
    using C = lelu::LeluConstants<T>;
    const auto biased = convert_to_int_of_same_size(n + vec_t(C::exponent_bias));
    return cast<T>(
        biased * Vectorized<int_t>(static_cast<int_t>(int_t(1) << C::mantissa_bits)));
  }
};

void lelu_kernel(TensorIteratorBase& iter) {
  const auto dtype = iter.common_dtype();
  if (at::isReducedFloatingType(dtype)) {
    AT_DISPATCH_REDUCED_FLOATING_TYPES(dtype, "lelu_cpu", [&]() {
      cpu_kernel_vec(
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
      cpu_kernel_vec(
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
      cpu_kernel_vec(
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
      cpu_kernel_vec(
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

REGISTER_DISPATCH(lelu_stub, &lelu_kernel)
REGISTER_DISPATCH(lelu_backward_stub, &lelu_backward_kernel)

} // namespace at::native
