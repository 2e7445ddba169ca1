#define TORCH_ASSERT_NO_OPERATORS
#include <ATen/native/Lelu.h>

#include <ATen/Dispatch.h>
#include <ATen/TensorIterator.h>
#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>
#include <ATen/native/cpu/LeluVec.h>

#include <algorithm>
#include <cstdint>

namespace at::native {

namespace {

using namespace vec;

// The loop of cpu_kernel_vec, except for operands that are not contiguous (a
// stride-2 slice, a broadcast): cpu_kernel_vec runs the scalar op on those, and
// LELU's scalar op costs several times its share of a vector op, so here they
// are gathered into a small buffer and go through the vector op as well. The
// scalar op does the remainders; both give the same bits (cpu/LeluVec.h).
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
          in_buf[k][j] =
              *reinterpret_cast<const scalar_t*>(src + j * strides[k + 1]);
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
  AT_DISPATCH_FLOATING_TYPES_AND2(
      kBFloat16, kHalf, iter.common_dtype(), "lelu_cpu", [&]() {
        using Ops = LeluElementOps<scalar_t>;
        lelu_cpu_kernel_vec<scalar_t, 1>(
            iter,
            [](scalar_t x) -> scalar_t { return Ops::forward(x); },
            [](Vectorized<scalar_t> x_vec) -> Vectorized<scalar_t> {
              return Ops::forward(x_vec);
            });
      });
}

void lelu_backward_kernel(TensorIteratorBase& iter) {
  AT_DISPATCH_FLOATING_TYPES_AND2(
      kBFloat16, kHalf, iter.common_dtype(), "lelu_backward_cpu", [&]() {
        using Ops = LeluElementOps<scalar_t>;
        lelu_cpu_kernel_vec<scalar_t, 2>(
            iter,
            [](scalar_t dy, scalar_t x) -> scalar_t {
              return Ops::backward(dy, x);
            },
            [](Vectorized<scalar_t> dy_vec,
               Vectorized<scalar_t> x_vec) -> Vectorized<scalar_t> {
              return Ops::backward(dy_vec, x_vec);
            });
      });
}

} // namespace

ALSO_REGISTER_AVX512_DISPATCH(lelu_stub, &lelu_kernel)
ALSO_REGISTER_AVX512_DISPATCH(lelu_backward_stub, &lelu_backward_kernel)

} // namespace at::native
