@register_decomposition(aten.lelu_backward)
@out_wrapper("grad_input")
@pw_cast_for_opmath
def lelu_backward(grad_output: Tensor, self: Tensor) -> Tensor:
    from torch._refs.nn.functional import _lelu_gate

    # lelu'(x) = (1 + E (1 + t)) / (1 + E)^2 for x >= 0 and E (1 + E + t) / (1 + E)^2
    # for x < 0, with t = k x and E = exp(-|t|) = e * e2; 1 + t_hi is exact where
    # 1 + E + t vanishes (at the minimum of lelu), and the negative tail is scaled by
    # e2 last
    _, neg, t_hi, t_lo, e, e2 = _lelu_gate(self)
    exp_t = e * e2
    den = 1 + exp_t
    den2 = den * den
    positive = (1 + exp_t * ((1 + t_hi) + t_lo)) / den2
    negative = e * (((1 + t_hi) + exp_t) + t_lo) / den2
    lelu_grad = torch.where(neg, negative, positive)
    return grad_output * lelu_grad * torch.where(neg, e2, 1.0)
