@_onnx_symbolic("aten::lelu")
def lelu(g: jit_utils.GraphContext, input):
    # lelu(x) = x * sigmoid(k * x), k = pi / sqrt(3)
    k = torch.tensor(math.pi / math.sqrt(3), dtype=torch.double)
    return g.op("Mul", input, g.op("Sigmoid", g.op("Mul", input, k)))
