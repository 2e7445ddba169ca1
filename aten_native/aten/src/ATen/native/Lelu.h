#pragma once

#include <ATen/native/Activation.h>
#include <ATen/native/DispatchStub.h>

namespace at::native {

// LELU, the Logistic Error Linear Unit: lelu(x) = x * sigmoid(k * x) with
// k = pi / sqrt(3). The kernels evaluate it with LeluMath.h.
DECLARE_DISPATCH(structured_activation_fn, lelu_stub)
DECLARE_DISPATCH(structured_activation_backward_fn, lelu_backward_stub)

} // namespace at::native
