class LELU(Module):
    r"""Applies the Logistic Error Linear Unit (LELU) function, element-wise.

    .. math::
        \text{LELU}(x) = x * \sigma(k x) = x * \frac{1}{2} \left(1 + \tanh\left(\frac{k x}{2}\right)\right),
        \quad k = \frac{\pi}{\sqrt{3}} \approx 1.8138,

    where :math:`\sigma(x)` is the logistic sigmoid.

    The gate :math:`\sigma(k x)` is the CDF of a logistic distribution with scale :math:`1 / k`, whose
    variance :math:`\pi^2 / (3 k^2)` is 1 for this :math:`k`, the variance of the standard normal
    distribution. LELU is to the logistic CDF what :class:`~torch.nn.GELU` is to the normal CDF, and
    :math:`\text{LELU}(x) = \text{SiLU}(k x) / k`.

    .. note::
        LELU keeps its limits at the infinities: :math:`\text{LELU}(-\infty) = -0` and
        :math:`\text{LELU}(+\infty) = +\infty`, and its gradient is finite at both (:math:`0` and
        :math:`1`). :class:`~torch.nn.SiLU`, :class:`~torch.nn.GELU` and :class:`~torch.nn.Mish`
        give NaN at :math:`-\infty`.

    .. note::
        See `pytorch/pytorch#165982 <https://github.com/pytorch/pytorch/issues/165982>`_
        where LELU was proposed.

    Args:
        inplace: can optionally do the operation in-place. Default: ``False``

    Shape:
        - Input: :math:`(*)`, where :math:`*` means any number of dimensions.
        - Output: :math:`(*)`, same shape as the input.

    .. image:: ../scripts/activation_images/LELU.png

    Examples::

        >>> m = nn.LELU()
        >>> input = torch.randn(2)
        >>> output = m(input)
    """

    __constants__ = ["inplace"]
    inplace: bool

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """
        Runs the forward pass.
        """
        return F.lelu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        """
        Return the extra representation of the module.
        """
        inplace_str = "inplace=True" if self.inplace else ""
        return inplace_str
