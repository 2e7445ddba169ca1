/// Options for the `LELU` module.
///
/// Example:
/// ```
/// LELU model(LELUOptions().inplace(true));
/// ```
struct TORCH_API LELUOptions {
  /* implicit */ LELUOptions(bool inplace = false);

  /// can optionally do the operation in-place. Default: False
  TORCH_ARG(bool, inplace);
};

namespace functional {
/// Options for `torch::nn::functional::lelu`.
///
/// See the documentation for `torch::nn::LELUOptions` class to learn what
/// arguments are supported.
///
/// Example:
/// ```
/// namespace F = torch::nn::functional;
/// F::lelu(input, F::LELUFuncOptions(false));
/// ```
using LELUFuncOptions = LELUOptions;
} // namespace functional

// ============================================================================
