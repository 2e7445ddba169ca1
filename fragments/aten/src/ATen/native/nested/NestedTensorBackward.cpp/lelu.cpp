Tensor lelu_backward_nested(const Tensor& grad_output, const Tensor& self) {
  return map_nt_binary(
      grad_output, self, [](const Tensor& grad, const Tensor& input) {
        return at::lelu_backward(grad, input);
      });
}
