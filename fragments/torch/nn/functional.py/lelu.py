def lelu(input: Tensor, inplace: bool = False) -> Tensor:
    r"""Apply the Logistic Error Linear Unit (LELU) function, element-wise.

    .. math::
        \text{LELU}(x) = x * \sigma(k x) = x * \frac{1}{2} \left(1 + \tanh\left(\frac{k x}{2}\right)\right),
        \quad k = \frac{\pi}{\sqrt{3}},

    where :math:`\sigma(x)` is the logistic sigmoid. :math:`\sigma(k x)` is the CDF of a logistic
    distribution whose variance :math:`\pi^2 / (3 k^2)` is 1 for this :math:`k`: LELU is to the
    logistic CDF what GELU is to the normal CDF.

    .. note::
        See `pytorch/pytorch#165982 <https://github.com/pytorch/pytorch/issues/165982>`_
        where LELU was proposed.

    See :class:`~torch.nn.LELU` for more details.
    """
    if has_torch_function_unary(input):
        return handle_torch_function(lelu, (input,), input, inplace=inplace)
    if inplace:
        return torch._C._nn.lelu_(input)
    return torch._C._nn.lelu(input)
