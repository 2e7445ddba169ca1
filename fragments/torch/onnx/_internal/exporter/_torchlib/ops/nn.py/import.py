    opset18 as op18,
