# lelu(x) = x * sigmoid(k * x) with k = pi / sqrt(3)
_LELU_K = 1.8137993642342178


def _lelu_gate(a: TensorLikeType) -> tuple[TensorLikeType, ...]:
    """
    The parts of sigmoid(k * x) that lelu and lelu_backward share, for a float32 or
    float64 tensor a.  Returns (x, neg, t_hi, t_lo, e, e2) with
      x = a clamped to [-limit, limit] (NaN stays NaN); beyond the limit the result
          no longer depends on exp(-|k a|), so no inf * 0 is ever formed;
      neg = x < 0;
      k * x = t_hi + t_lo, where t_hi is exact;
      exp(-|k x|) = e * e2, where e2 is 1 unless exp(-|k x|) would leave the normal
          range, so the negative tail can be scaled by e2 last and keep its precision.

    Why not x * sigmoid(k * x): k * x is rounded before it reaches exp, and for x < 0 the
    error of exp(k x) grows with |k x| (about 100 ULP near x = -55 in float32); exp(-k x)
    overflows for x < -48.9 in float32, flushing the result to zero long before the true
    value underflows at x = -59.6; and -inf * sigmoid(-inf) is -inf * 0 = NaN.  Here x is
    split into x_hi, a multiple of 1 / scale with few significant bits, and x_lo = x - x_hi
    (exact), and k into k_hi, with few enough bits that x_hi * k_hi is exact, and k_lo;
    exp of the small part, +-t_lo (|t_lo| < 0.03), is 1 plus a short Taylor series.
    """
    torch._check_not_implemented(
        a.dtype in (torch.float32, torch.float64),
        lambda: f"lelu is not implemented for {a.dtype}",
    )
    if a.dtype == torch.float64:
        # lelu(-430) and exp(-430 k) are below half the smallest subnormal;
        # x_hi has at most 27 significant bits, k_hi 26
        limit, scale, tail = 430.0, 2.0**18, 512.0
        k_hi, k_lo = 1.8137993514537811, 1.2780436722664391e-08
        shift, exp_neg_shift = 398.484375, 8.718360297519052e-174
    else:
        # the same for float32 with -64; x_hi has at most 12 significant bits, k_hi 12
        limit, scale, tail = 64.0, 2.0**6, 64.0
        k_hi, k_lo = 1.81396484375, -1.6547951578214942e-04
        shift, exp_neg_shift = 61.814453125, 1.4266718952757105e-27
    x = torch.clamp(a, -limit, limit)
    x_hi = torch.round(x * scale) * (1.0 / scale)
    x_lo = x - x_hi
    t_hi = x_hi * k_hi
    t_lo = x_hi * k_lo + x_lo * _LELU_K
    neg = x < 0
    # -|k x| = r_hi + r_lo
    r_hi = torch.where(neg, t_hi, -t_hi)
    r_lo = torch.where(neg, t_lo, -t_lo)
    expm1_r_lo = r_lo * (1 + r_lo * (1 / 2 + r_lo * (1 / 6 + r_lo * (1 / 24))))
    # exp(r_hi) = e1 * e2 with both factors normal numbers: below -tail, e2 = exp(-shift),
    # where shift has few bits (r_hi + shift is exact) and exp(-shift) is a float32 (float64)
    # within 1e-11 (1e-21) of its value
    in_tail = r_hi < -tail
    e1 = torch.exp(torch.where(in_tail, r_hi + shift, r_hi))
    e2 = torch.where(in_tail, torch.full_like(r_hi, exp_neg_shift), 1.0)
    return x, neg, t_hi, t_lo, e1 + e1 * expm1_r_lo, e2


@register_decomposition(aten.lelu)
@_inplace_wrapper
@out_wrapper()
@elementwise_type_promotion_wrapper(
    type_promoting_args=("a",),
    type_promotion_kind=ELEMENTWISE_TYPE_PROMOTION_KIND.DEFAULT,
)
def lelu(a: TensorLikeType, inplace: bool = False) -> TensorLikeType:
    """
    Reference implementation of torch.nn.functional.lelu
    """

    if inplace:
        raise NotImplementedError
    # x / (1 + exp(-k x)) for x >= 0 and x exp(k x) / (1 + exp(k x)) for x < 0, with the
    # limits lelu(inf) = inf and lelu(-inf) = -0.0 kept
    x, neg, _, _, e, e2 = _lelu_gate(a)
    return torch.where(neg, x * e, a) / (1 + e * e2) * torch.where(neg, e2, 1.0)
