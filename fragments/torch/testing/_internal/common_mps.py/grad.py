            "nn.functional.lelu": None,  # `lelu.out` not implemented for MPS
