            "nn.functional.lelu": None,
