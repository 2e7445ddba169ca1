#define TORCH_ASSERT_ONLY_METHOD_OPERATORS
#include <ATen/native/Lelu.h>

#include <ATen/TensorIterator.h>
#include <ATen/TensorMeta.h>
#include <ATen/core/Tensor.h>

#ifndef AT_PER_OPERATOR_HEADERS
#include <ATen/NativeFunctions.h>
#else
#include <ATen/ops/lelu_backward_native.h>
#include <ATen/ops/lelu_native.h>
#endif

namespace at::meta {

TORCH_META_FUNC(lelu)(const Tensor& self) {
  build_unary_op(maybe_get_output(), self);
}

TORCH_META_FUNC(lelu_backward)
(const Tensor& grad_output, const Tensor& input) {
  build_borrowing_binary_op(maybe_get_output(), grad_output, input);
}

} // namespace at::meta

namespace at::native {

DEFINE_DISPATCH(lelu_stub);
DEFINE_DISPATCH(lelu_backward_stub);

TORCH_IMPL_FUNC(lelu_out)(const Tensor& self, const Tensor& result) {
  lelu_stub(device_type(), *this);
}

TORCH_IMPL_FUNC(lelu_backward_out)
(const Tensor& grad_output, const Tensor& input, const Tensor& grad_input) {
  lelu_backward_stub(device_type(), *this);
}

} // namespace at::native
