// ============================================================================

#ifndef DOXYGEN_SHOULD_SKIP_THIS
namespace detail {
inline Tensor lelu(Tensor input, bool inplace) {
  if (inplace) {
    return torch::lelu_(input);
  } else {
    return torch::lelu(input);
  }
}
} // namespace detail
#endif /* DOXYGEN_SHOULD_SKIP_THIS */

/// See
/// https://pytorch.org/docs/main/nn.functional.html#torch.nn.functional.lelu
/// about the exact behavior of this functional.
///
/// See the documentation for `torch::nn::functional::LELUFuncOptions` class to
/// learn what optional arguments are supported for this functional.
///
/// Example:
/// ```
/// namespace F = torch::nn::functional;
/// F::lelu(input, F::LELUFuncOptions(false));
/// ```
inline Tensor lelu(Tensor input, const LELUFuncOptions& options = {}) {
  return detail::lelu(std::move(input), options.inplace());
}
