// The generated VariableType kernels call torch::autograd::VariableType::unpack,
// which is local to libtorch_cpu: equivalent definitions, hidden like the rest of
// this library.
#include <torch/csrc/autograd/generated/VariableType.h>

namespace torch::autograd::VariableType {
const at::Tensor& unpack(const at::Tensor& t, const char* name, int pos) {
  TORCH_CHECK(
      t.defined(),
      "Expected a proper Tensor but got None (or an undefined Tensor in C++) ",
      "for argument #", pos, " '", name, "'");
  return t;
}
at::Tensor& unpack(at::Tensor& t, const char* name, int pos) {
  TORCH_CHECK(
      t.defined(),
      "Expected a proper Tensor but got None (or an undefined Tensor in C++) ",
      "for argument #", pos, " '", name, "'");
  return t;
}
} // namespace torch::autograd::VariableType
