    TorchLibOpInfo("nn.functional.lelu", nn_ops.aten_lelu),
