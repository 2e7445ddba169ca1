    ModuleInfo(torch.nn.LELU,
               module_inputs_func=module_inputs_torch_nn_LELU,
               skips=(
                   # not supported on MPS backend
                   DecorateInfo(skipMPS),)
               ),
