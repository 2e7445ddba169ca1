@onnx_impl(aten.lelu.default, trace_only=True)
def aten_lelu(self: TFloat) -> TFloat:
    """lelu(Tensor self) -> Tensor"""
    # x * sigmoid(k * x), k = pi / sqrt(3), in the input's dtype: three standard nodes,
    # which onnxruntime fuses into one (QuickGelu).  Unlike the ATen kernel, -inf gives
    # NaN (-inf * 0); clamping the input first would cost a pass over the data.
    k = ir.tensor(1.8137993642342178, dtype=self.dtype)
    return op18.Mul(self, op18.Sigmoid(op18.Mul(self, k)))
