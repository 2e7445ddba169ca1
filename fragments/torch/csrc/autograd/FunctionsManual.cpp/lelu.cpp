// k = pi / sqrt(3) of lelu(x) = x * sigmoid(k * x), and the |k x| beyond which
// sigmoid(k x) * sigmoid(-k x) has underflowed in every floating type.
static constexpr double kLeluK = 1.8137993642342178;
static constexpr double kLeluZMax = 800.0;

// s = sigmoid(z) and t = sigmoid(-z) = 1 - s, as e / (1 + e) and 1 / (1 + e)
// with e = exp(-|z|) <= 1. Their derivatives, as autograd forms them, are then
// sums without cancellation, and the small one of s and t stays nonzero until
// exp(-|z|) underflows: sigmoid(z) directly would make s' = s (1 - s) round
// 1 - s to nothing for z > 17 (float), and sigmoid(z) is 1 / (1 + exp(-z)),
// which gives 0 as soon as exp(-z) overflows, long before sigmoid(z) does.
static std::tuple<Tensor, Tensor> lelu_sigmoids(const Tensor& z) {
  const Tensor positive = z >= 0;
  const Tensor e = at::where(positive, -z, z).exp();
  const Tensor small = e / (1 + e);
  const Tensor large = 1 / (1 + e);
  return {at::where(positive, large, small), at::where(positive, small, large)};
}

// lelu'(x) = s + z s (1 - s) with z = k x and s = sigmoid(z). z is clamped in
// the product, where s (1 - s) is already zero, so that neither inf * 0 nor
// -inf * 0 is formed: the limits at +-inf (1 and 0) are kept, and so are those
// of every higher derivative.
Tensor infinitely_differentiable_lelu_backward(
    const Tensor& grad_output,
    const Tensor& input) {
  const Tensor z = input * kLeluK;
  auto [s, one_minus_s] = lelu_sigmoids(z);
  return grad_output *
      (s + z.clamp(-kLeluZMax, kLeluZMax) * s * one_minus_s);
}

// lelu''(x) = k s (1 - s) (2 + z (1 - 2 s)), clamped like the first derivative.
Tensor lelu_double_backward(
    const Tensor& grad,
    const Tensor& grad_output,
    const Tensor& input) {
  const Tensor z = input * kLeluK;
  auto [s, one_minus_s] = lelu_sigmoids(z);
  return grad * grad_output * kLeluK * s * one_minus_s *
      (2 + z.clamp(-kLeluZMax, kLeluZMax) * (one_minus_s - s));
}
