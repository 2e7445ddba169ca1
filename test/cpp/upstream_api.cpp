// The series' cases of PyTorch's C++ API suite (test/cpp/api/modules.cpp and
// functional.cpp), built against the overlay with googletest: the fragments
// the series inserts into those files (fragments/test/cpp/api/*/lelu.cpp),
// after the preambles of the two upstream files and a stand-in for
// test/cpp/api/support.h, which the wheel does not ship.

#include <gtest/gtest.h>

#include <c10/util/irange.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>

namespace torch::test {
// As test/cpp/api/support.h's: every case starts from the same seed.
struct SeedingFixture : public ::testing::Test {
  SeedingFixture() {
    torch::manual_seed(0);
  }
};
} // namespace torch::test

namespace F = torch::nn::functional;
using namespace torch::nn;
using namespace torch::test;

struct ModulesTest : torch::test::SeedingFixture {};
struct FunctionalTest : torch::test::SeedingFixture {};

#include "modules.cpp/lelu.cpp"

#include "functional.cpp/lelu.cpp"
