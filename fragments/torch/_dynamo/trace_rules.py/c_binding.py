        "torch._C._nn.lelu_",
        "torch._C._nn.lelu",
