// The series adds torch::nn::LELU and its options to
// torch/csrc/api/src/nn/modules/activation.cpp and options/activation.cpp, which the
// wheel does not ship: the overlay compiles the same fragments here, against the
// patched C++ frontend headers.
#include <torch/nn/functional/activation.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/options/activation.h>

#include <utility>

namespace F = torch::nn::functional;

namespace torch::nn {

#include LELU_CPP_OPTIONS_FRAGMENT

#include LELU_CPP_MODULES_FRAGMENT

} // namespace torch::nn
