# lelu(x) = x * sigmoid(k * x) with k = pi / sqrt(3)
_LELU_K = 1.8137993642342178


def _lelu_float32(a: TensorLikeType) -> tuple[TensorLikeType, ...]:
    """
    The parts of sigmoid(k * x) that lelu and lelu_backward share, for a float32 tensor a
    (bfloat16 and float16 arrive in float32), in float32 pointwise ops: the arithmetic of the
    ATen kernel (LeluMath.h), with its fused multiply-adds replaced by exact products of
    split operands.  Returns (ax, neg, th, tl, n, q, p), float32 tensors, with
      ax = -min(|a|, 64) (NaN stays NaN): beyond 64 the float32 result no longer depends
          on the gate, so lelu(-inf) = -0.0 and lelu'(inf) = 1, and no inf * 0 is formed;
      neg = a < 0;
      k * ax = th + tl, th exact (ax split into 12-bit halves, times k to 11 bits);
      exp(k * ax) = (1 + q) * 2^n, n an integer in [-168, 0], q = expm1(r) for the
          reduced argument r = k * ax - n ln 2 (|r| <= 0.35), p = 1 + q rounded.
    Only exp(-|k x|) <= 1 is formed, scaled by 2^n last, so the negative tail keeps its
    precision down to the float32 underflow; k * x enters exp with its rounding error.
    """
    ax = torch.clamp(-torch.abs(a), min=-64.0)
    # Veltkamp's split: ax = a1 + a2, both with at most 12 significant bits
    c = ax * 4097.0
    a1 = c - (c - ax)
    a2 = ax - a1
    # k = 1.8134765625 (11 bits) + 3.2280173e-04 (+ 4e-12): the first two products are exact
    th = a1 * 1.8134765625
    tl = a2 * 1.8134765625 + ax * 3.2280173036269844e-04
    # ln 2 = 0.693145751953125 (16 bits: n times it is exact) + 1.4286068e-06
    n = torch.round(th * 1.4426950216293335)
    r = ((th - n * 0.693145751953125) + tl) - n * 1.428606765330187e-06
    q = torch.expm1(r)
    return ax, a < 0, th, tl, n, q, 1 + q


def _lelu_scale(v: TensorLikeType, n: TensorLikeType) -> TensorLikeType:
    """v * 2^n for an integral float32 n in [-168, 0], rounded once (2^n alone may not be a
    float32): v * 2^max(n, -126) is exact for the v of lelu, then one rounding."""
    n1 = torch.clamp(n, min=-126.0)
    return (v * torch.pow(2.0, n1)) * torch.pow(2.0, n - n1)


def _lelu_gate(a: TensorLikeType) -> tuple[TensorLikeType, ...]:
    """
    The parts of sigmoid(k * x) that lelu and lelu_backward share, for a float64 tensor a.
    Returns (x, neg, t_hi, t_lo, e, e2), float64 tensors, with
      x = a clamped (NaN stays NaN); beyond the clamp the result no longer depends on
          exp(-|k a|), so no inf * 0 is ever formed;
      neg = x < 0;
      k * x = t_hi + t_lo, where t_hi is exact;
      exp(-|k x|) = e * e2, where e2 is 1 unless exp(-|k x|) would leave the normal
          range, so the negative tail can be scaled by e2 last and keep its precision.

    Why not x * sigmoid(k * x): k * x is rounded before it reaches exp, and for x < 0
    the error of exp(k x) grows with |k x|; exp(-k x) overflows in the negative tail,
    flushing the result to zero long before the true value underflows; and
    -inf * sigmoid(-inf) is -inf * 0 = NaN.  Here x is split into x_hi, a multiple of
    2^-18 with at most 27 significant bits, and x_lo = x - x_hi (exact), and k into k_hi
    (k rounded to float32: x_hi * k_hi is exact, and so is k_hi where an exporter keeps
    scalars as float32, as ONNX's does) and k_lo, and exp(-|k x|) is evaluated from both
    parts by _lelu_exp.
    """
    torch._check_not_implemented(
        a.dtype == torch.float64,
        lambda: f"lelu is not implemented for {a.dtype}",
    )
    # lelu(-430) and exp(-430 k) are below half the smallest subnormal
    x = torch.clamp(a.to(torch.float64), -430.0, 430.0)
    x_hi = torch.round(x * 2.0**18) * 2.0**-18
    x_lo = x - x_hi
    t_hi = x_hi * 1.8137993812561035
    t_lo = x_hi * -1.7021885665030923e-08 + x_lo * _LELU_K
    neg = x < 0
    # -|k x| = r_hi + r_lo
    r_hi = torch.where(neg, t_hi, -t_hi)
    r_lo = torch.where(neg, t_lo, -t_lo)
    # exp(-|k x|) = e * e2 with both factors normal numbers: below -512, e2 = exp(-shift),
    # where shift has few bits (r_hi + shift is exact) and exp(-shift) is a float64 within
    # 1e-21 of its value
    in_tail = r_hi < -512.0
    e = _lelu_exp(torch.where(in_tail, r_hi + 398.484375, r_hi), r_lo)
    e2 = torch.where(in_tail, torch.full_like(r_hi, 8.718360297519052e-174), 1.0)
    return x, neg, t_hi, t_lo, e, e2


def _lelu_exp(r_hi: TensorLikeType, r_lo: TensorLikeType) -> TensorLikeType:
    """
    exp(r_hi + r_lo) in float64 for r_hi in [-400, 0] and |r_lo| < 1e-5:
    2^j * (1 + expm1(s)) with j = round(r / ln 2) and s = r - j ln 2 computed
    without rounding error but for r_lo's (ln 2 = L_hi + L_lo, j * L_hi exact),
    expm1(s), |s| < 0.36, as its Taylor series to s^13 (truncated below 1e-17), and 2^j
    from pow, exact for an integer j in [-600, 0] (as a power of two, it is the correctly
    rounded result).  The backend's exp (up to 1 ULP, as Sleef's in Inductor) would be
    most of the error of lelu.
    """
    j = torch.round(r_hi * 1.4426950408889634)
    s = ((r_hi - j * 0.6931471805598903) - j * 5.497923018708371e-14) + r_lo
    coefficients = [1.0]
    for n in range(2, 14):
        coefficients.append(coefficients[-1] / n)
    expm1_s = s * coefficients[-1]
    for c in reversed(coefficients[:-1]):
        expm1_s = (expm1_s + c) * s
    two_j = torch.pow(2.0, j)
    return two_j + two_j * expm1_s


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
    torch._check_not_implemented(
        a.dtype in (torch.float32, torch.float64),
        lambda: f"lelu is not implemented for {a.dtype}",
    )
    # x / (1 + exp(-k x)) for x >= 0 and x exp(k x) / (1 + exp(k x)) for x < 0, with the
    # limits lelu(inf) = inf and lelu(-inf) = -0.0 kept
    if a.dtype == torch.float32:
        # x / (1 + e) for x >= 0, x e / (1 + e) for x < 0, with e = p 2^n = exp(-|k x|)
        ax, neg, _, _, n, _, p = _lelu_float32(a)
        quotient = torch.where(neg, ax * p, a) / (1 + p * torch.pow(2.0, n))
        return _lelu_scale(quotient, torch.where(neg, n, 0.0))
    x, neg, _, _, e, e2 = _lelu_gate(a)
    result = torch.where(neg, x * e, a.to(torch.float64)) / (1 + e * e2)
    return (result * torch.where(neg, e2, 1.0)).to(a.dtype)
