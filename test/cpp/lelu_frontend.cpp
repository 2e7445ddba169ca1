// A user program of the C++ frontend's LELU (test_cpp_frontend.py builds and runs it):
// it prints, one line each, a name and values (C hex floats, exact), or a name and text.
#include <torch/nn/functional/activation.h>
#include <torch/nn/modules/activation.h>
#include <torch/types.h>

#include <cstdio>
#include <limits>
#include <memory>
#include <sstream>
#include <string>

namespace F = torch::nn::functional;
namespace nn = torch::nn;

static void values(const char* name, const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kFloat64).contiguous();
  std::printf("%s", name);
  for (int64_t i = 0; i < c.numel(); ++i) {
    std::printf(" %a", c.data_ptr<double>()[i]);
  }
  std::printf("\n");
}

static void text(const char* name, const std::string& s) {
  std::printf("%s %s\n", name, s.c_str());
}

static std::string repr(const nn::Module& m) {
  std::ostringstream os;
  os << m;
  return os.str();
}

int main() {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const torch::Tensor x = torch::tensor(
      {-inf, -745.0, -60.0, -3.0, -0.70485444419638924, -0.5, -0.0, 0.0, 1e-300,
       0.5, 1.3228349991888276, 3.0, 20.0, 1e300, inf, nan},
      torch::kFloat64);
  values("x", x);

  for (const auto dtype : {torch::kFloat64, torch::kFloat32}) {
    const bool f64 = dtype == torch::kFloat64;
    const torch::Tensor xd = x.to(dtype);
    values(f64 ? "functional.float64" : "functional.float32", F::lelu(xd));
    values(f64 ? "functional_default.float64" : "functional_default.float32", F::lelu(xd, {}));

    torch::Tensor y = xd.clone();
    const torch::Tensor r = F::lelu(y, F::LELUFuncOptions(true));
    text(f64 ? "inplace_aliases.float64" : "inplace_aliases.float32",
         r.data_ptr() == y.data_ptr() ? "true" : "false");
    values(f64 ? "inplace.float64" : "inplace.float32", y);
  }

  nn::LELU module;
  nn::LELU inplace_module(nn::LELUOptions().inplace(true));
  text("repr", repr(*module));
  text("repr_inplace", repr(*inplace_module));
  text("options_inplace", inplace_module->options.inplace() ? "true" : "false");
  module->reset();
  const auto copy = std::dynamic_pointer_cast<nn::LELUImpl>(inplace_module->clone());
  text("clone_inplace", copy && copy->options.inplace() ? "true" : "false");
  values("module", module(x));

  torch::Tensor z = x.clone();
  const torch::Tensor out = inplace_module(z);
  text("module_inplace_aliases", out.data_ptr() == z.data_ptr() ? "true" : "false");
  values("module_inplace", z);

  // Autograd from C++: the gradient of sum(lelu(x)) is lelu'(x).
  const torch::Tensor leaf = x.clone().requires_grad_(true);
  module(leaf).sum().backward();
  values("grad", leaf.grad());
  return 0;
}
