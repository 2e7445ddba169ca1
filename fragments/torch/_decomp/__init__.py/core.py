            aten.lelu,
            aten.lelu_,
            aten.lelu_backward.grad_input,
            aten.lelu_backward,
