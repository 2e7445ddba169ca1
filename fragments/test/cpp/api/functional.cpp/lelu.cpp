TEST_F(FunctionalTest, LELU) {
  const auto k = M_PI / std::sqrt(3.0);
  for (const auto inplace : {false, true}) {
    auto x = torch::randn(100) * 10;
    auto y_exp = x * torch::sigmoid(k * x);
    auto y = F::lelu(x, F::LELUFuncOptions().inplace(inplace));

    ASSERT_TRUE(torch::allclose(y, y_exp));
    if (inplace) {
      ASSERT_TRUE(torch::allclose(x, y_exp));
    }
  }
  ASSERT_TRUE(F::lelu(torch::tensor(1.)).defined());
}

TEST_F(FunctionalTest, LELUDefaultOptions) {
  const auto k = M_PI / std::sqrt(3.0);
  const auto inf = std::numeric_limits<float>::infinity();
  auto x = torch::tensor({-inf, -1.0f, 0.0f, 1.0f, inf});
  auto y = F::lelu(x);

  // The limits, where x * sigmoid(k * x) gives NaN at -inf: -0.0 and +inf.
  ASSERT_EQ(y[0].item<float>(), 0.0f);
  ASSERT_TRUE(std::signbit(y[0].item<float>()));
  ASSERT_EQ(y[4].item<float>(), inf);
  const auto finite = x.slice(0, 1, 4);
  ASSERT_TRUE(
      torch::allclose(y.slice(0, 1, 4), finite * torch::sigmoid(k * finite)));
}
