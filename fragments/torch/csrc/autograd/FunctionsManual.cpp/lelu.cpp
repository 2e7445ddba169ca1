// k = pi / sqrt(3) of lelu(x) = x * sigmoid(k * x), and the |k x| beyond which
// sigmoid(k x) * sigmoid(-k x) has underflowed in every floating type.
static constexpr double kLeluK = 1.8137993642342178;
static constexpr double kLeluZMax = 800.0;

// s = sigmoid(z) and t = sigmoid(-z) = 1 - s, both made from a = sigmoid(-|z|)
// <= 1/2 and 1 - a. The derivative autograd forms for a sigmoid, a * (1 - a),
// then never takes 1 - a of an a close to 1, so the derivatives of the
// formulas below stay accurate in both tails (sigmoid(z) itself would lose
// all precision in them for z > 17 in float).
static std::tuple<Tensor, Tensor> lelu_sigmoids(const Tensor& z) {
  const Tensor positive = z >= 0;
  const Tensor a = at::where(positive, -z, z).sigmoid();
  const Tensor b = 1 - a;
  return {at::where(positive, b, a), at::where(positive, a, b)};
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
