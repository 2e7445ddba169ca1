# lelu(x) = x * sigmoid(k * x), k = pi / sqrt(3), and grad * lelu'(x): the
# arithmetic of aten/src/ATen/native/LeluMath.h (the CPU and CUDA kernels'),
# operation for operation, for float32 and float64 (bfloat16 and float16 arrive
# in float32).  Products that feed a sum are fma(a, b, -0.0), so no
# contraction changes a result; constants are made in x's dtype by tl.full,
# as a float literal would be rounded to float32 first, and -0.0 and -x so
# that the sign of a zero is kept.
@triton.jit
def _lelu_const(x, f32: tl.constexpr, f64: tl.constexpr):
    if x.dtype == tl.float64:
        return tl.full(x.shape, f64, tl.float64)
    else:
        return tl.full(x.shape, f32, tl.float32)


@triton.jit
def _lelu_minus_zero(like):
    # -0.0 from its bits: tl.full(..., -0.0, ...) gives +0.0
    if like.dtype == tl.float64:
        return tl.full(like.shape, -9223372036854775808, tl.int64).to(tl.float64, bitcast=True)
    else:
        return tl.full(like.shape, -2147483648, tl.int32).to(tl.float32, bitcast=True)


@triton.jit
def _lelu_mul(a, b):
    return tl.fma(a, b, _lelu_minus_zero(a))


@triton.jit
def _lelu_div(a, b):
    if a.dtype == tl.float64:
        return a / b
    else:
        return tl.div_rn(a, b)


@triton.jit
def _lelu_exp2i(n, like):
    # 2^n in like's dtype for an integral n in the normal exponent range
    if like.dtype == tl.float64:
        return ((n + 1023) << 52).to(tl.float64, bitcast=True)
    else:
        return ((n + 127) << 23).to(tl.float32, bitcast=True)


@triton.jit
def _lelu_scale(v, n):
    # v * 2^n rounded once, for an integral n in [2 * min_exponent, 0] or NaN:
    # 2^n1 * 2^(n - n1), n1 = trunc(n / 2), both factors normal
    if v.dtype == tl.float64:
        m = (-n).to(tl.int64)
    else:
        m = (-n).to(tl.int32)
    m1 = m >> 1
    out = tl.fma(v * _lelu_exp2i(-m1, v), _lelu_exp2i(m1 - m, v), _lelu_minus_zero(v))
    return tl.where(n != n, n, out)


@triton.jit
def _lelu_gate(x, fast: tl.constexpr):
    # e = exp(-|k xc|) = (1 + q) 2^n, xc = x clamped to the gate limit; with
    # fast (the forward), float32 rounds r once (LeluMath.h's lelu_exp_q)
    # -|x| (Triton's unary minus is 0 - x, which loses the sign of a zero)
    ax = tl.abs(x) * -1.0
    limit = _lelu_const(x, 64.0, 430.0)
    ax = tl.where(ax < -limit, -limit, ax)
    k_hi = _lelu_const(x, 1.8137993812561035, 1.8137993642342178)
    k_lo = _lelu_const(x, -1.7021886122847718e-08, 1.372758647784072e-17)
    th = _lelu_mul(ax, k_hi)
    tl_ = tl.fma(ax, k_lo, tl.fma(ax, k_hi, th * -1.0))
    shifter = _lelu_const(x, 12582912.0, 6755399441055744.0)
    inv_ln2 = _lelu_const(x, 1.4426950216293335, 1.4426950408889634)
    n = tl.fma(th, inv_ln2, shifter) - shifter
    ln2_hi = _lelu_const(x, 0.693145751953125, 0.6931471803691238)
    ln2_lo = _lelu_const(x, 1.428606765330187e-06, 1.9082149292705877e-10)
    s = tl.fma(n, -ln2_hi, th)
    if fast and x.dtype == tl.float32:
        r = s + tl.fma(n, -ln2_lo, tl_)
        r_lo = _lelu_minus_zero(x)
    else:
        r_hi = tl.fma(n, -ln2_lo, s)
        r = r_hi + tl_
        r_lo = (r_hi - r) + tl_
    # exp(r) - 1 = r * P(r), P minimax on |r| <= 0.3475 (LeluConstants::coeff)
    if x.dtype == tl.float64:
        poly = tl.full(x.shape, 2.5000410496553412e-08, tl.float64)
        poly = tl.fma(poly, r, tl.full(x.shape, 2.763062321569892e-07, tl.float64))
        poly = tl.fma(poly, r, tl.full(x.shape, 2.7557587189288956e-06, tl.float64))
        poly = tl.fma(poly, r, tl.full(x.shape, 2.4801492127616733e-05, tl.float64))
        poly = tl.fma(poly, r, tl.full(x.shape, 0.00019841269503553048, tl.float64))
        poly = tl.fma(poly, r, tl.full(x.shape, 0.0013888888944479727, tl.float64))
        poly = tl.fma(poly, r, tl.full(x.shape, 0.008333333333496803, tl.float64))
        poly = tl.fma(poly, r, tl.full(x.shape, 0.041666666666527324, tl.float64))
        poly = tl.fma(poly, r, tl.full(x.shape, 0.16666666666666408, tl.float64))
        poly = tl.fma(poly, r, tl.full(x.shape, 0.5000000000000011, tl.float64))
    else:
        poly = tl.full(x.shape, 0.0013814244884997606, tl.float32)
        poly = tl.fma(poly, r, tl.full(x.shape, 0.008368898183107376, tl.float32))
        poly = tl.fma(poly, r, tl.full(x.shape, 0.04166840389370918, tl.float32))
        poly = tl.fma(poly, r, tl.full(x.shape, 0.1666651964187622, tl.float32))
        poly = tl.fma(poly, r, tl.full(x.shape, 0.4999999403953552, tl.float32))
    poly = tl.fma(poly, r, _lelu_const(x, 1.0, 1.0))
    q = tl.fma(r, poly, r_lo)
    p = 1.0 + q
    return ax, th, tl_, n, q, p


@triton.jit
def lelu(x):
    ax, th, tl_, n, q, p = _lelu_gate(x, True)
    den = 1.0 + _lelu_scale(p, n)
    neg = x < 0
    numerator = tl.where(neg, tl.fma(ax, q, ax), x)
    return _lelu_scale(_lelu_div(numerator, den), tl.where(neg, n, 0.0))


@triton.jit
def lelu_backward(grad, x):
    ax, th, tl_, n, q, p = _lelu_gate(x, False)
    one = _lelu_const(x, 1.0, 1.0)
    two_n = _lelu_scale(one, n)
    e = _lelu_mul(p, two_n)
    # (1 + e)^2 (LeluMath.h's lelu_den_squared)
    if x.dtype == tl.float64:
        den = one + e
        p_lo = (one - p) + q
        den_lo = tl.fma(p_lo, two_n, (one - den) + e)
        den2 = tl.fma(den, den, _lelu_mul(den + den, den_lo))
    else:
        den2 = tl.fma(e, 2.0 + e, one)
    positive = tl.fma(e, (one - th) - tl_, one)
    total = tl.fma(q, two_n, (one + th) + two_n) + tl_
    negative = tl.fma(q, total, total)
    neg = x < 0
    derivative = _lelu_scale(_lelu_div(tl.where(neg, negative, positive), den2), tl.where(neg, n, 0.0))
    return grad * derivative
