    @skipIfUnsupportedMinOpsetVersion(9)
    def test_lelu(self):
        class LELUModel(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.lelu = torch.nn.LELU()

            def forward(self, x):
                return self.lelu(x)

        x = torch.randn(2, 3, 4, requires_grad=True)
        # onnxruntime's Sigmoid is off by up to 3e-7 (absolute) in the tail,
        # k * x < -10: more than run_test's default atol of 1e-7
        self.run_test(LELUModel(), (x,), atol=1e-6)

        class LELUInplaceModel(torch.nn.Module):
            def forward(self, x):
                return torch.nn.functional.lelu(x * 2.0, inplace=True)

        self.run_test(LELUInplaceModel(), (x,), atol=1e-6)
