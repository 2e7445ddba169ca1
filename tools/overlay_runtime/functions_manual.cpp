// The series adds these functions to torch/csrc/autograd/FunctionsManual.cpp,
// which the wheel does not ship: the overlay compiles the same fragment here,
// declared by the patched FunctionsManual.h.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/FunctionsManual.h>

namespace torch::autograd::generated::details {

using at::Tensor;

#include LELU_FUNCTIONS_MANUAL_FRAGMENT

} // namespace torch::autograd::generated::details
