        "torch.nn.functional.lelu",
