// The series adds the batching rules of lelu to
// aten/src/ATen/functorch/BatchRulesUnaryOps.cpp and BatchRulesBinaryOps.cpp, which
// the wheel does not ship: the overlay registers the same fragments here, with the
// macros those files define around them, and the vmap plumbing of the new ops.
#include <ATen/functorch/BatchRulesHelper.h>
#include <ATen/OverlayVmapGeneratedPlumbing.h>

namespace at::functorch {

// Helpers that BatchRulesHelper.h and PlumbingHelper.h declare but libtorch_cpu
// keeps local: equivalent definitions, hidden like the rest of this library.
void vmap_check_escaped(const std::optional<DynamicLayer>& layer, const char* what) {
  TORCH_CHECK(
      layer.has_value(),
      "Either your tensor may have escaped from inside a function being vmapped and this is a user error ",
      "(see https://pytorch.org/functorch/stable/ux_limitations.html), ",
      "or there is an internal functorch error in `", what,
      "` Please file an issue if it looks like the latter");
}

Tensor moveBatchDimToFront(Tensor tensor, std::optional<int64_t> maybe_batch_dim) {
  if (!maybe_batch_dim.has_value() || *maybe_batch_dim == 0) {
    return tensor;
  }
  return tensor.movedim(*maybe_batch_dim, 0);
}

int64_t rankWithoutBatchDim(const Tensor& tensor, std::optional<int64_t> maybe_batch_dim) {
  return tensor.dim() - (maybe_batch_dim.has_value() ? 1 : 0);
}

Tensor maybePadToLogicalRank(const Tensor& tensor, std::optional<int64_t> has_bdim, int64_t logical_rank) {
  if (!has_bdim.has_value()) {
    return tensor;
  }
  const int64_t missing = logical_rank - rankWithoutBatchDim(tensor, has_bdim);
  if (missing <= 0) {
    return tensor;
  }
  // The batch dimension is in front: new size-1 dimensions go right after it.
  VmapSymDimVector sizes(tensor.sym_sizes().begin(), tensor.sym_sizes().end());
  sizes.insert(sizes.begin() + 1, missing, c10::SymInt(1));
  return tensor.view_symint(sizes);
}

std::tuple<Tensor, Tensor> _binary_pointwise_helper(
    const Tensor& tensor, std::optional<int64_t> tensor_batch_dim,
    const Tensor& other, std::optional<int64_t> other_batch_dim,
    bool do_type_promotion) {
  const int64_t tensor_rank = rankWithoutBatchDim(tensor, tensor_batch_dim);
  const int64_t other_rank = rankWithoutBatchDim(other, other_batch_dim);
  Tensor tensor_ = moveBatchDimToFront(tensor, tensor_batch_dim);
  Tensor other_ = moveBatchDimToFront(other, other_batch_dim);
  if (do_type_promotion) {
    // A batch of 0-d tensors promotes like one 0-d tensor, not like a 1-d one.
    const bool tensor_is_scalar = tensor_rank == 0 && tensor_batch_dim.has_value();
    const bool other_is_scalar = other_rank == 0 && other_batch_dim.has_value();
    if (tensor_is_scalar != other_is_scalar) {
      Tensor& scalar = tensor_is_scalar ? tensor_ : other_;
      Tensor& full = tensor_is_scalar ? other_ : tensor_;
      const auto type = at::result_type(scalar[0], full);
      scalar = scalar.to(type);
      full = full.to(type);
    }
  }
  const int64_t rank = std::max(tensor_rank, other_rank);
  return std::make_tuple(
      maybePadToLogicalRank(tensor_, tensor_batch_dim, rank),
      maybePadToLogicalRank(other_, other_batch_dim, rank));
}

// The batch rule of BatchRulesBinaryOps.cpp's BINARY_POINTWISE, for ops whose
// arguments are the two tensors.
template <typename F, F Func>
std::tuple<Tensor, std::optional<int64_t>> binary_pointwise_batch_rule(
    const Tensor& tensor, std::optional<int64_t> tensor_batch_dim,
    const Tensor& other, std::optional<int64_t> other_batch_dim) {
  auto [tensor_, other_] = _binary_pointwise_helper(tensor, tensor_batch_dim, other, other_batch_dim);
  return std::make_tuple(Func(tensor_, other_), 0);
}

TORCH_LIBRARY_IMPL(aten, FuncTorchBatched, m) {
#define UNARY_POINTWISE_ALL(op) \
  POINTWISE_BOXED(op ## _); \
  VMAP_SUPPORT(op, BASIC_UNARY_BATCH_RULE(ATEN_FN(op)));
#define BINARY_POINTWISE(op) \
  VMAP_SUPPORT(op, SINGLE_ARG(binary_pointwise_batch_rule<decltype(&ATEN_FN(op)), &ATEN_FN(op)>));

#include LELU_BATCH_RULES_UNARY_FRAGMENT
#include LELU_BATCH_RULES_BINARY_FRAGMENT

#undef UNARY_POINTWISE_ALL
#undef BINARY_POINTWISE
}

} // namespace at::functorch
