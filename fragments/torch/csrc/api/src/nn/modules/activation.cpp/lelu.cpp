// ============================================================================

LELUImpl::LELUImpl(const LELUOptions& options_) : options(options_) {}

Tensor LELUImpl::forward(Tensor input) {
  return F::detail::lelu(std::move(input), options.inplace());
}

void LELUImpl::reset() {}

void LELUImpl::pretty_print(std::ostream& stream) const {
  stream << "torch::nn::LELU(";
  if (options.inplace()) {
    stream << std::boolalpha << "inplace=" << options.inplace();
  }
  stream << ')';
}
