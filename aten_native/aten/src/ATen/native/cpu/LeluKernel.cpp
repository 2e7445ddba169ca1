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
  // out[i] = op(in[.][i]) for i < n; step(from, to) gathers the next chunk's
  // elements from to to (see below): one vector's worth after each vector,
  // the rest at the end.
  auto compute = [&](scalar_t* out,
                     const scalar_t* const* in,
                     int64_t n,
                     const auto& step) {
    int64_t i = 0;
    for (; i + Vec::size() <= n; i += Vec::size()) {
      if constexpr (ninputs == 1) {
        vec_op(Vec::loadu(in[0] + i)).store(out + i);
      } else {
        vec_op(Vec::loadu(in[0] + i), Vec::loadu(in[1] + i)).store(out + i);
      }
      step(i, i + Vec::size());
    }
    const int64_t vectorized = i;
    for (; i < n; ++i) {
      if constexpr (ninputs == 1) {
        out[i] = scalar_op(in[0][i]);
      } else {
        out[i] = scalar_op(in[0][i], in[1][i]);
      }
    }
    step(vectorized, kChunk);
  };
  iter.for_each([&](char** data, const int64_t* strides, int64_t n) {
    constexpr auto size = static_cast<int64_t>(sizeof(scalar_t));
    bool dense[ninputs + 1];
    bool gathered = false;
    for (int k = 0; k <= ninputs; ++k) {
      dense[k] = strides[k] == size;
      gathered |= k > 0 && !dense[k];
    }
    // Two buffers per gathered input: the elements of the next chunk are
    // gathered while the current one is computed, vector by vector, so that
    // their loads overlap the arithmetic (float32, a stride-2 slice of 2^20
    // elements, 1 thread: 714 us so, 987 us gathering each chunk first).
    __at_align__ scalar_t in_buf[2][ninputs][kChunk];
    __at_align__ scalar_t out_buf[kChunk];
    auto gather = [&](int buf, int64_t begin, int64_t from, int64_t to) {
      to = std::min(to, n - begin);
      for (int k = 0; k < ninputs; ++k) {
        if (dense[k + 1]) {
          continue;
        }
        const char* src = data[k + 1] + begin * strides[k + 1];
        for (int64_t j = from; j < to; ++j) {
          in_buf[buf][k][j] =
              *reinterpret_cast<const scalar_t*>(src + j * strides[k + 1]);
        }
      }
    };
    if (gathered) {
      gather(0, 0, 0, kChunk);
    }
    int buf = 0;
    for (int64_t begin = 0; begin < n; begin += kChunk, buf ^= 1) {
      const int64_t m = std::min(kChunk, n - begin);
      const scalar_t* in[ninputs];
      for (int k = 0; k < ninputs; ++k) {
        in[k] = dense[k + 1] ? reinterpret_cast<const scalar_t*>(
                                   data[k + 1] + begin * strides[k + 1])
                             : in_buf[buf][k];
      }
      const int64_t next = begin + kChunk;
      auto step = [&](int64_t from, int64_t to) {
        if (gathered && next < n) {
          gather(buf ^ 1, next, from, to);
        }
      };
      char* dst = data[0] + begin * strides[0];
      if (dense[0]) {
        compute(reinterpret_cast<scalar_t*>(dst), in, m, step);
        continue;
      }
      compute(out_buf, in, m, step);
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
