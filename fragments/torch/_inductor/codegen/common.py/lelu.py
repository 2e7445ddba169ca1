    # lelu and lelu_backward: the element functions of the ATen kernel, inlined
    # (cpu/LeluVec.h through cpp_prefix.h; triton_helpers.lelu*), so compiled
    # code gets eager's bits and special values at eager's cost
    lelu=OverridesData(
        type_promotion_kind=ELEMENTWISE_TYPE_PROMOTION_KIND.DEFAULT,
        cpp=lambda x: f"at::native::lelu_opmath({x})",
        cppvec=lambda x: f"at::native::lelu_opmath({x})",
        triton=lambda x: f"triton_helpers.lelu({x})",
        name="lelu",
    ),
    lelu_backward=OverridesData(
        type_promotion_kind=ELEMENTWISE_TYPE_PROMOTION_KIND.DEFAULT,
        cpp=lambda grad, x: f"at::native::lelu_backward_opmath({grad}, {x})",
        cppvec=lambda grad, x: f"at::native::lelu_backward_opmath({grad}, {x})",
        triton=lambda grad, x: f"triton_helpers.lelu_backward({grad}, {x})",
        name="lelu_backward",
    ),
