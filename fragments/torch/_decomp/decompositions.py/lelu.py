# lelu'(x) near x0, its zero: d * P(d) with d = k x - k x0, |d| < 0.5, P the Taylor
# polynomial of lelu'(x0 + d / k) / d to degree 22 (truncated below 2e-18 relative)
_LELU_GRAD_NEAR_X0 = (
    0.2178117057198001, 0.1466487969969469, 0.018874814223782312,
    -0.015222655223188032, -0.006606589138356696, 0.000126627410081122,
    0.0007985218818397998, 0.00018570724361186496, -4.090534237428612e-05,
    -2.9733542213263917e-05, -2.942631888842464e-06, 2.346029682463866e-06,
    8.599695028268575e-07, -3.051244750055421e-08, -9.266646309267441e-08,
    -1.8877622907727957e-08, 4.619379769031606e-09, 2.9177603026903803e-09,
    2.3648315053103244e-10, -2.251366201881081e-10, -7.50344609385287e-11,
    3.998547874723996e-12, 8.04274075537398e-12,
)


@register_decomposition(aten.lelu_backward)
@out_wrapper("grad_input")
@pw_cast_for_opmath
def lelu_backward(grad_output: Tensor, self: Tensor) -> Tensor:
    from torch._refs.nn.functional import _lelu_float32, _lelu_gate, _lelu_scale

    if self.dtype == torch.float32:
        # The kernel's formulas (LeluMath.h), with t = k x = -(th + tl) for x >= 0 and
        # th + tl for x < 0, e = exp(-|t|) = p 2^n:
        #   lelu'(x) = (1 + e (1 + t)) / (1 + e)^2         for x >= 0
        #            = 2^n p (1 + t + 2^n + q 2^n) / (1 + e)^2   for x < 0,
        # 1 + th + 2^n summed from exact parts first (it cancels near x0 = -0.70485), and
        # (1 + e)^2 squared from 1 + e and its rounding error
        _, neg, th, tl, n, q, p = _lelu_float32(self)
        two_n = torch.pow(2.0, n)
        e = p * two_n
        den = 1 + e
        den_lo = ((1 - p) + q) * two_n + ((1 - den) + e)
        den2 = den * den + (den + den) * den_lo
        positive = e * ((1 - th) - tl) + 1
        total = q * two_n + ((1 + th) + two_n) + tl
        negative = q * total + total
        derivative = torch.where(neg, negative, positive) / den2
        return grad_output * _lelu_scale(derivative, torch.where(neg, n, 0.0))
    # float64: lelu'(x) = (1 + E (1 + t)) / (1 + E)^2 for x >= 0 and E (1 + E + t) / (1 + E)^2
    # for x < 0, with t = k x and E = exp(-|t|) = e * e2 (see _lelu_gate),
    # (1 + E)^2 as 1 + E (2 + E); the negative tail is scaled by e2 last
    _, neg, t_hi, t_lo, e, e2 = _lelu_gate(self)
    exp_t = e * e2
    den2 = 1 + exp_t * (2 + exp_t)
    positive = (1 + exp_t * ((1 + t_hi) + t_lo)) / den2
    negative = e * (((1 + t_hi) + exp_t) + t_lo) / den2
    # 1 + t + E cancels near t0 = k x0 (the minimum of lelu); there, a polynomial in
    # d = t - t0 (t_hi - t0_hi is exact) instead
    d = (t_hi + 1.2784645427610737) + (t_lo + 1.0946994183093437e-16)
    poly = d * _LELU_GRAD_NEAR_X0[-1]
    for c in reversed(_LELU_GRAD_NEAR_X0[1:-1]):
        poly = (poly + c) * d
    near_x0 = (poly + _LELU_GRAD_NEAR_X0[0]) * d
    lelu_grad = torch.where(torch.abs(d) < 0.5, near_x0, torch.where(neg, negative, positive))
    result = grad_output.to(torch.float64) * lelu_grad * torch.where(neg, e2, 1.0)
    return result.to(grad_output.dtype)
