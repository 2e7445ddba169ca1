#define TORCH_ASSERT_NO_OPERATORS
#include <ATen/native/Lelu.h>

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/core/TensorBase.h>
#include <ATen/native/LeluMath.h>
#include <ATen/native/cuda/Loops.cuh>

// The same arithmetic as the CPU kernel (LeluMath.h with lelu::LeluScalarOps),
// so CUDA and CPU results agree bit for bit. The device code calls only exact
// or correctly rounded IEEE operations, so the error bounds of LeluMath.h
// (forward <= 3 ULP, backward <= 4 ULP) hold unchanged:
//  * +, -, * and / of float and double: correctly rounded under nvcc's defaults
//    (-prec-div=true, -ftz=false; PyTorch does not build with --use_fast_math),
//    which also keep the subnormal results of the negative tail;
//  * std::fma (fma.rn, one rounding) and std::fabs (exact);
//  * conversions of integral values to integers and c10::bit_cast (exact), to
//    scale by 2^n;
//  * Half and BFloat16 to float (opmath_t, exact) and back (rounded once to
//    nearest even), as on the CPU.
// No approximate device function (expf, __expf, ...) is called: the exponential
// is LeluMath.h's polynomial. Every product that feeds a sum is spelled as an
// FMA, so nvcc's contraction (--fmad=true) cannot change a result either.

namespace at::native {
namespace {

void lelu_kernel(TensorIteratorBase& iter) {
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::ScalarType::Half,
      at::ScalarType::BFloat16,
      iter.common_dtype(),
      "lelu_cuda",
      [&]() {
        gpu_kernel(iter, [] GPU_LAMBDA(scalar_t x) -> scalar_t {
          using opmath_t = at::opmath_type<scalar_t>;
          return lelu::lelu_forward<lelu::LeluScalarOps<opmath_t>>(
              static_cast<opmath_t>(x));
        });
      });
}

void lelu_backward_kernel(TensorIteratorBase& iter) {
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::ScalarType::Half,
      at::ScalarType::BFloat16,
      iter.common_dtype(),
      "lelu_backward_cuda",
      [&]() {
        gpu_kernel(iter, [] GPU_LAMBDA(scalar_t dy, scalar_t x) -> scalar_t {
          using opmath_t = at::opmath_type<scalar_t>;
          return lelu::lelu_backward<lelu::LeluScalarOps<opmath_t>>(
              static_cast<opmath_t>(dy), static_cast<opmath_t>(x));
        });
      });
}

} // namespace

REGISTER_DISPATCH(lelu_stub, &lelu_kernel)
REGISTER_DISPATCH(lelu_backward_stub, &lelu_backward_kernel)

} // namespace at::native
