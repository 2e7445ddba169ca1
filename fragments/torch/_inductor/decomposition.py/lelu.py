    aten.lelu,  # inductor lowers these to the ATen kernel's element functions
    aten.lelu_,
    aten.lelu_backward,
