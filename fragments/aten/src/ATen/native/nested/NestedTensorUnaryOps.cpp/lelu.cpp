Tensor NestedTensor_lelu(const Tensor& self) {
  return map_nt(self, at::lelu);
}

Tensor& NestedTensor_lelu_(Tensor& self) {
  auto self_ptr = get_nested_tensor_impl(self);
  check_numel_equals_buffer_size(self_ptr);
  auto buffer = self_ptr->get_buffer();
  at::lelu_(buffer);
  return self;
}
