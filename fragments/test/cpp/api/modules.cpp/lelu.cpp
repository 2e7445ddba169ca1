TEST_F(ModulesTest, LELU) {
  const auto k = M_PI / std::sqrt(3.0);
  for (const auto inplace : {false, true}) {
    LELU model(inplace);
    auto x = torch::randn(100) * 10;
    if (!inplace) {
      x.requires_grad_(true);
    }
    auto x_orig = x.detach().clone();
    auto y = model(x);
    torch::Tensor s = y.sum();

    ASSERT_EQ(s.ndimension(), 0);
    ASSERT_EQ(y.sizes(), x_orig.sizes());
    auto y_exp = x_orig * torch::sigmoid(k * x_orig);
    ASSERT_TRUE(torch::allclose(y, y_exp));
    if (inplace) {
      ASSERT_TRUE(torch::allclose(x, y_exp));
    } else {
      s.backward();
      const auto sig = torch::sigmoid(k * x_orig);
      const auto grad_exp = sig * (1 + k * x_orig * (1 - sig));
      ASSERT_TRUE(torch::allclose(x.grad(), grad_exp, 1e-4, 1e-6));
    }
  }
}

TEST_F(ModulesTest, PrettyPrintLELU) {
  ASSERT_EQ(c10::str(LELU()), "torch::nn::LELU()");
  ASSERT_EQ(
      c10::str(LELU(LELUOptions().inplace(true))),
      "torch::nn::LELU(inplace=true)");
}
