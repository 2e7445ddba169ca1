at::Tensor infinitely_differentiable_lelu_backward(
    const at::Tensor& grad_output,
    const at::Tensor& input);
at::Tensor lelu_double_backward(
    const at::Tensor& grad,
    const at::Tensor& grad_output,
    const at::Tensor& input);
