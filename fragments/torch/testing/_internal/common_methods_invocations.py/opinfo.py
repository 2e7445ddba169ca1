    UnaryUfuncInfo(
        'nn.functional.lelu',
        aten_backward_name='lelu_backward',
        # x / (1 + exp(-k x)), k = pi / sqrt(3), evaluated in float64 and rounded once to the input's dtype;
        # exp overflows to inf for x << 0, which gives -0.0, and the limit at -inf is selected explicitly
        ref=np.errstate(over='ignore', invalid='ignore')(
            lambda x, inplace=False: np.where(
                np.isneginf(x),
                -0.0,
                x.astype(np.float64) / (1 + np.exp(-math.pi / math.sqrt(3) * x.astype(np.float64))),
            ).astype(x.dtype)),
        dtypes=floating_types_and(torch.bfloat16, torch.float16),
        supports_forward_ad=True,
        supports_fwgrad_bwgrad=True,
        supports_autograd=True,
        assert_autodiffed=False,
        supports_gradgrad=True,
        # F.lelu, like F.silu and F.mish, has no out=; torch._C._nn.lelu(x, out=...) does
        supports_out=False,
        inplace_variant=partial(torch.nn.functional.lelu, inplace=True),
        skips=(
            # NotImplementedError: The operator 'aten::lelu.out' is not currently implemented for the MPS device
            DecorateInfo(unittest.expectedFailure, 'TestCommon', device_type='mps'),
        ),
    ),
