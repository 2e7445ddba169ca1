// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~ LELU ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

/// Applies the lelu function element-wise.
/// See https://pytorch.org/docs/main/nn.html#torch.nn.LELU to learn
/// about the exact behavior of this module.
///
/// See the documentation for `torch::nn::LELUOptions` class to learn what
/// constructor arguments are supported for this module.
///
/// Example:
/// ```
/// LELU model(LELUOptions().inplace(true));
/// ```
class TORCH_API LELUImpl : public torch::nn::Cloneable<LELUImpl> {
 public:
  explicit LELUImpl(const LELUOptions& options_ = {});

  Tensor forward(Tensor input);

  void reset() override;

  /// Pretty prints the `LELU` module into the given `stream`.
  void pretty_print(std::ostream& stream) const override;

  /// The options with which this `Module` was constructed.
  LELUOptions options;
};

/// A `ModuleHolder` subclass for `LELUImpl`.
/// See the documentation for `LELUImpl` class to learn what methods it
/// provides, and examples of how to use `LELU` with `torch::nn::LELUOptions`.
/// See the documentation for `ModuleHolder` to learn about PyTorch's
/// module storage semantics.
TORCH_MODULE(LELU);
