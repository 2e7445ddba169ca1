// The series adds the nested tensor kernels of lelu to
// aten/src/ATen/native/nested/NestedTensorUnaryOps.cpp and NestedTensorBackward.cpp,
// which the wheel does not ship: the overlay compiles the same fragments here,
// declared by the generated lelu_native.h and registered by RegisterNestedTensorCPU.
#include <ATen/native/nested/NestedTensorMath.h>
#include <ATen/native/nested/NestedTensorUtils.h>
#include <ATen/ops/lelu.h>
#include <ATen/ops/lelu_backward.h>
#include <ATen/ops/lelu_backward_native.h>
#include <ATen/ops/lelu_native.h>

namespace at::native {

#include LELU_NESTED_UNARY_FRAGMENT

#include LELU_NESTED_BACKWARD_FRAGMENT

} // namespace at::native
