  BINARY_POINTWISE(lelu_backward);
