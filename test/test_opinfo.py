"""PyTorch's testing framework over the series' OpInfo and ModuleInfo entries.

test/test_ops.py, test_ops_gradients.py, test_ops_fwd_gradients.py, test_unary_ufuncs.py and
test_modules.py are not shipped in the wheel, so this module re-implements the checks they make,
driven by the entries the series adds to common_methods_invocations.op_db and
common_modules.module_db (a missing entry is a collection error, never a skip), through
@ops / @modules and instantiate_device_type_tests as upstream does.  Every flag the contract
requires (forward AD, forward-over-reverse, gradgrad, the in-place variant, the reference) is
asserted, so an entry that quietly drops one fails here.
"""

from __future__ import annotations

import copy
import inspect
import pickle
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.testing._internal.common_device_type import OpDTypes, instantiate_device_type_tests, ops
from torch.testing._internal.common_dtype import all_types_and_complex_and, floating_types_and
from torch.testing._internal.common_methods_invocations import op_db
from torch.testing._internal.common_modules import module_db, modules
from torch.testing._internal.common_utils import TestCase, gradcheck, gradgradcheck, noncontiguous_like
from torch.testing._internal.opinfo.core import OpInfo, SampleInput

OP_NAME = "nn.functional.lelu"


def _select_opinfo() -> OpInfo:
    found = [op for op in op_db if op.name == OP_NAME]
    assert len(found) == 1, (
        f"expected one OpInfo named {OP_NAME!r} in common_methods_invocations.op_db, found {len(found)}: "
        "the series' testing hunk is not applied to this torch (run tools/lelu demo)"
    )
    return found[0]


def _select_moduleinfo() -> Any:
    found = [info for info in module_db if info.module_cls is getattr(torch.nn, "LELU", None)]
    assert len(found) == 1, (
        f"expected one ModuleInfo for torch.nn.LELU in common_modules.module_db, found {len(found)}: "
        "the series' testing hunk is not applied to this torch (run tools/lelu demo)"
    )
    return found[0]


LELU_OPINFO = _select_opinfo()
LELU_MODULEINFO = _select_moduleinfo()
EXPECTED_DTYPES = set(floating_types_and(torch.bfloat16, torch.float16))
EVERY_DTYPE = all_types_and_complex_and(torch.bool, torch.float16, torch.bfloat16)


def samples(op: OpInfo, device: str, dtype: torch.dtype, requires_grad: bool = False) -> Iterator[SampleInput]:
    yield from op.sample_inputs(device, dtype, requires_grad=requires_grad)


def sample_list(op: OpInfo, device: str, dtype: torch.dtype, requires_grad: bool = False) -> list[SampleInput]:
    result = list(samples(op, device, dtype, requires_grad))
    assert result, f"{op.name} has no sample inputs for {dtype}"
    return result


def call(op: OpInfo, sample: SampleInput, **extra: Any) -> torch.Tensor:
    return op(sample.input, *sample.args, **sample.kwargs, **extra)


class TestLeluOpInfo(TestCase):
    """What test_ops.py's TestCommon, test_ops_(fwd_)gradients.py and test_unary_ufuncs.py check."""

    exact_dtype = True

    # --- the entry itself -------------------------------------------------------------------

    @ops([LELU_OPINFO], dtypes=OpDTypes.none)
    def test_entry(self, device: str, op: OpInfo) -> None:
        self.assertIs(op.op, F.lelu)
        self.assertEqual(op.aten_backward_name, "lelu_backward")
        self.assertIsNotNone(op.ref, "the entry needs a NumPy reference")
        self.assertIsNotNone(op.inplace_variant, "the entry needs its in-place variant")
        self.assertTrue(op.supports_autograd)
        self.assertTrue(op.supports_gradgrad)
        self.assertTrue(op.supports_forward_ad)
        self.assertTrue(op.supports_fwgrad_bwgrad)
        self.assertFalse(op.assert_autodiffed)
        # supports_out must say what the OpInfo's callable does: F.lelu has no out=
        self.assertEqual(op.supports_out, "out" in inspect.signature(op.op).parameters)
        self.assertEqual(set(op.supported_dtypes(device)), EXPECTED_DTYPES)
        self.assertEqual(set(op.supported_backward_dtypes(device)), EXPECTED_DTYPES)

    # --- dtypes (TestCommon.test_dtypes) ----------------------------------------------------

    @ops([LELU_OPINFO], dtypes=OpDTypes.none)
    def test_dtypes(self, device: str, op: OpInfo) -> None:
        """The dtypes the op really supports, forward and backward, are the declared ones."""
        forward_ok: set[torch.dtype] = set()
        backward_ok: set[torch.dtype] = set()
        for dtype in EVERY_DTYPE:
            requires_grad = dtype.is_floating_point or dtype.is_complex
            try:
                sample_inputs = list(samples(op, device, dtype, requires_grad=requires_grad))
            except Exception:
                continue  # no samples can be made for this dtype
            try:
                outputs = [call(op, sample) for sample in sample_inputs]
            except (RuntimeError, NotImplementedError):
                continue
            forward_ok.add(dtype)
            try:
                for sample, output in zip(sample_inputs, outputs, strict=True):
                    if output.requires_grad:
                        torch.autograd.grad(output.sum(), sample.input)
                    else:
                        raise RuntimeError("no gradient")
            except (RuntimeError, NotImplementedError):
                continue
            backward_ok.add(dtype)
        self.assertEqual(forward_ok, set(op.supported_dtypes(device)))
        self.assertEqual(backward_ok, set(op.supported_backward_dtypes(device)))

    # --- numerics ---------------------------------------------------------------------------

    @ops([LELU_OPINFO])
    def test_reference_numerics(self, device: str, dtype: torch.dtype, op: OpInfo) -> None:
        """op.ref over op.reference_inputs (incl. small, large and extremal values)."""
        count = 0
        for sample in op.reference_inputs(device, dtype):
            numpy_sample = sample.numpy()
            actual = call(op, sample)
            expected = op.ref(numpy_sample.input, *numpy_sample.args, **numpy_sample.kwargs)
            self.assertEqual(actual, torch.from_numpy(np.asarray(expected)).to(dtype), equal_nan=True)
            count += 1
        self.assertGreater(count, 10)

    @ops([LELU_OPINFO], dtypes=OpDTypes.none)
    def test_ref_is_exact_and_handles_infinities(self, device: str, op: OpInfo) -> None:
        x = np.array([-np.inf, np.inf, np.nan, -0.0, 0.0, -1.0, -60.0, -1e4], dtype=np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the reference must not warn (overflow, invalid)
            y = op.ref(x)
        self.assertEqual(y.dtype, np.float64)
        self.assertTrue(y[0] == 0 and np.signbit(y[0]))
        self.assertEqual(y[1], np.inf)
        self.assertTrue(np.isnan(y[2]))
        self.assertTrue(y[3] == 0 and np.signbit(y[3]))
        self.assertEqual(y[5], -0.14017956485372646)  # LELU_MATH.md
        self.assertEqual(op.ref(np.float32(-1.0)).dtype, np.float32)
        self.assertTrue(y[7] == 0 and np.signbit(y[7]))

    # --- variants (TestCommon.test_variant_consistency_eager) --------------------------------

    @ops([LELU_OPINFO])
    def test_variant_consistency(self, device: str, dtype: torch.dtype, op: OpInfo) -> None:
        module = torch.nn.LELU()
        module_inplace = torch.nn.LELU(inplace=True)
        for sample in sample_list(op, device, dtype):
            expected = call(op, sample)
            self.assertEqual(torch._C._nn.lelu(sample.input), expected, atol=0, rtol=0)
            self.assertEqual(module(sample.input), expected, atol=0, rtol=0)
            for inplace in (op.inplace_variant, module_inplace, lambda t: torch._C._nn.lelu_(t)):
                clone = sample.input.clone()
                result = inplace(clone)
                self.assertIs(result, clone)
                self.assertEqual(clone, expected, atol=0, rtol=0)

    @ops([LELU_OPINFO], dtypes=OpDTypes.supported_backward, allowed_dtypes=(torch.float64, torch.float32))
    def test_variant_consistency_backward(self, device: str, dtype: torch.dtype, op: OpInfo) -> None:
        for sample in sample_list(op, device, dtype, requires_grad=True):
            if sample.input.numel() == 0:
                continue
            leaf = sample.input
            grad_output = torch.randn_like(leaf)
            (expected,) = torch.autograd.grad(call(op, sample), leaf, grad_output)
            variants = {
                "module": lambda t: torch.nn.LELU()(t),
                "inplace": lambda t: op.inplace_variant(t.clone()),
                "module_inplace": lambda t: torch.nn.LELU(inplace=True)(t * 1),
            }
            for name, fn in variants.items():
                (grad,) = torch.autograd.grad(fn(leaf), leaf, grad_output)
                self.assertEqual(grad, expected, msg=name)

    # --- out= (TestCommon.test_out, test_out_warning) ----------------------------------------

    @ops([LELU_OPINFO], dtypes=OpDTypes.any_one)
    def test_out(self, device: str, dtype: torch.dtype, op: OpInfo) -> None:
        sample = sample_list(op, device, dtype)[0]
        if not op.supports_out:
            # as upstream's test_out: an op that says it has no out= must reject it
            with self.assertRaises(TypeError):
                call(op, sample, out=torch.empty_like(sample.input))
        # the native op has out=, with the usual semantics
        for sample in sample_list(op, device, dtype):
            expected = call(op, sample)
            out = torch.empty_like(expected)
            self.assertIs(torch._C._nn.lelu(sample.input, out=out), out)
            self.assertEqual(out, expected, atol=0, rtol=0)
            if expected.numel() == 0:
                continue
            # a non-contiguous out of the right shape keeps its strides and storage
            strided = noncontiguous_like(expected)
            pointer, strides = strided.data_ptr(), strided.stride()
            torch._C._nn.lelu(sample.input, out=strided)
            self.assertEqual((strided.data_ptr(), strided.stride()), (pointer, strides))
            self.assertEqual(strided, expected, atol=0, rtol=0)
            # out of the wrong shape: resized, with the deprecation warning
            wrong = torch.empty(expected.numel() + 1, dtype=dtype, device=device)
            with self.assertWarnsRegex(UserWarning, "An output with one or more elements was resized"):
                torch._C._nn.lelu(sample.input, out=wrong)
            self.assertEqual(wrong, expected, atol=0, rtol=0)
            # zero elements: resized silently
            empty = torch.empty(0, dtype=dtype, device=device)
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                torch._C._nn.lelu(sample.input, out=empty)
            self.assertEqual(empty, expected, atol=0, rtol=0)
            # an out= of another dtype is an error, not a cast
            with self.assertRaisesRegex(RuntimeError, "Found dtype Long but expected"):
                torch._C._nn.lelu(sample.input, out=torch.empty_like(expected, dtype=torch.long))

    # --- layouts (TestCommon.test_noncontiguous_samples) --------------------------------------

    @ops([LELU_OPINFO], allowed_dtypes=(torch.float32, torch.float64, torch.bfloat16, torch.float16))
    def test_noncontiguous_samples(self, device: str, dtype: torch.dtype, op: OpInfo) -> None:
        requires_grad = dtype in op.supported_backward_dtypes(device)
        for sample in sample_list(op, device, dtype, requires_grad=requires_grad):
            t = sample.input
            n = noncontiguous_like(t.detach()).requires_grad_(requires_grad)
            self.assertFalse(n.numel() > 1 and n.is_contiguous())
            expected = call(op, sample)
            actual = op(n, *sample.args, **sample.kwargs)
            self.assertEqual(actual, expected, atol=0, rtol=0)
            if requires_grad and t.numel() > 0:
                grad_output = torch.randn_like(expected)
                (g_expected,) = torch.autograd.grad(expected, t, grad_output)
                (g_actual,) = torch.autograd.grad(actual, n, noncontiguous_like(grad_output))
                self.assertEqual(g_actual, g_expected, atol=0, rtol=0)

    # --- gradients (test_ops_gradients.py, test_ops_fwd_gradients.py) -----------------------

    @ops([LELU_OPINFO], dtypes=OpDTypes.supported_backward, allowed_dtypes=(torch.float64,))
    def test_fn_grad(self, device: str, dtype: torch.dtype, op: OpInfo) -> None:
        self.assertTrue(op.supports_autograd)
        for sample in sample_list(op, device, dtype, requires_grad=True):
            self.assertTrue(gradcheck(op, (sample.input,), check_batched_grad=op.check_batched_grad))

    @ops([LELU_OPINFO], dtypes=OpDTypes.supported_backward, allowed_dtypes=(torch.float64,))
    def test_inplace_grad(self, device: str, dtype: torch.dtype, op: OpInfo) -> None:
        self.assertIsNotNone(op.inplace_variant)
        for sample in sample_list(op, device, dtype, requires_grad=True):
            fn = lambda t: op.inplace_variant(t.clone())  # noqa: E731
            self.assertTrue(gradcheck(fn, (sample.input,), check_batched_grad=op.check_batched_grad))
            self.assertTrue(gradgradcheck(fn, (sample.input,), check_batched_grad=op.check_batched_gradgrad))

    @ops([LELU_OPINFO], dtypes=OpDTypes.supported_backward, allowed_dtypes=(torch.float64,))
    def test_fn_gradgrad(self, device: str, dtype: torch.dtype, op: OpInfo) -> None:
        self.assertTrue(op.supports_gradgrad)
        for sample in sample_list(op, device, dtype, requires_grad=True):
            self.assertTrue(gradgradcheck(op, (sample.input,), check_batched_grad=op.check_batched_gradgrad))

    @ops([LELU_OPINFO], dtypes=OpDTypes.supported_backward, allowed_dtypes=(torch.float64,))
    def test_forward_mode_AD(self, device: str, dtype: torch.dtype, op: OpInfo) -> None:
        self.assertTrue(op.supports_forward_ad)
        for sample in sample_list(op, device, dtype, requires_grad=True):
            self.assertTrue(
                gradcheck(
                    op,
                    (sample.input,),
                    check_forward_ad=True,
                    check_backward_ad=False,
                    check_undefined_grad=False,
                    check_batched_grad=False,
                    check_batched_forward_grad=op.check_batched_forward_grad,
                )
            )

    @ops([LELU_OPINFO], dtypes=OpDTypes.supported_backward, allowed_dtypes=(torch.float64,))
    def test_inplace_forward_mode_AD(self, device: str, dtype: torch.dtype, op: OpInfo) -> None:
        self.assertTrue(op.supports_inplace_autograd)
        for sample in sample_list(op, device, dtype, requires_grad=True):
            fn = lambda t: op.inplace_variant(t.clone())  # noqa: E731
            self.assertTrue(
                gradcheck(fn, (sample.input,), check_forward_ad=True, check_backward_ad=False, check_batched_grad=False)
            )

    @ops([LELU_OPINFO], dtypes=OpDTypes.supported_backward, allowed_dtypes=(torch.float64,))
    def test_fn_fwgrad_bwgrad(self, device: str, dtype: torch.dtype, op: OpInfo) -> None:
        self.assertTrue(op.supports_fwgrad_bwgrad)
        for sample in sample_list(op, device, dtype, requires_grad=True):
            self.assertTrue(
                gradgradcheck(
                    op,
                    (sample.input,),
                    check_fwd_over_rev=True,
                    check_rev_over_rev=False,
                    check_batched_grad=False,
                    check_undefined_grad=False,
                )
            )

    # --- meta and fake tensors (test_meta.py, test_fake_tensor.py) ---------------------------

    @ops([LELU_OPINFO])
    def test_meta(self, device: str, dtype: torch.dtype, op: OpInfo) -> None:
        for sample in sample_list(op, device, dtype):
            expected = call(op, sample)
            meta_input = sample.input.to("meta")
            for result in (
                op(meta_input),
                op.inplace_variant(meta_input.clone()),
                torch._C._nn.lelu(meta_input, out=torch.empty(0, device="meta", dtype=dtype)),
                torch.ops.aten.lelu_backward(torch.empty_like(meta_input), meta_input),
            ):
                self.assertEqual(result.device.type, "meta")
                self.assertEqual(result.shape, expected.shape)
                self.assertEqual(result.dtype, expected.dtype)
            self.assertEqual(op(meta_input).stride(), expected.stride())

    @ops([LELU_OPINFO])
    def test_fake(self, device: str, dtype: torch.dtype, op: OpInfo) -> None:
        for sample in sample_list(op, device, dtype):
            expected = call(op, sample)
            expected_grad = torch.ops.aten.lelu_backward(torch.ones_like(sample.input), sample.input)
            with FakeTensorMode() as mode:
                fake_input = mode.from_tensor(sample.input)
                result = op(fake_input)
                grad = torch.ops.aten.lelu_backward(torch.ones_like(fake_input), fake_input)
                inplace = op.inplace_variant(fake_input.clone())
            for fake, real in ((result, expected), (grad, expected_grad), (inplace, expected)):
                self.assertEqual(fake.shape, real.shape)
                self.assertEqual(fake.dtype, real.dtype)
                self.assertEqual(fake.stride(), real.stride())


class TestLeluModuleInfo(TestCase):
    """What test_modules.py's TestModule checks, over the nn.LELU ModuleInfo."""

    @modules([LELU_MODULEINFO])
    def test_forward(self, device: str, dtype: torch.dtype, module_info: Any, training: bool) -> None:
        inputs = module_info.module_inputs_func(
            module_info, device=device, dtype=dtype, requires_grad=False, training=training
        )
        self.assertTrue(inputs)
        for module_input in inputs:
            args, kwargs = module_input.constructor_input.args, module_input.constructor_input.kwargs
            m = module_info.module_cls(*args, **kwargs).to(device).to(dtype)
            m.train(training)
            fwd_args = module_input.forward_input.args
            outputs = m(*fwd_args, **module_input.forward_input.kwargs)
            self.assertEqual(outputs, F.lelu(*fwd_args), atol=0, rtol=0)
            self.assertIsNotNone(module_input.reference_fn, "every LELU module input has a reference")
            self.assertEqual(outputs, module_input.reference_fn(m, *fwd_args))

    @modules([LELU_MODULEINFO], allowed_dtypes=(torch.float64,))
    def test_grad(self, device: str, dtype: torch.dtype, module_info: Any, training: bool) -> None:
        for module_input in module_info.module_inputs_func(
            module_info, device=device, dtype=dtype, requires_grad=True, training=training
        ):
            m = module_info.module_cls(*module_input.constructor_input.args).to(device).to(dtype)
            self.assertTrue(gradcheck(m, module_input.forward_input.args))
            if module_info.supports_gradgrad:
                self.assertTrue(gradgradcheck(m, module_input.forward_input.args))
        self.assertTrue(module_info.supports_gradgrad)

    @modules([LELU_MODULEINFO])
    def test_repr_pickle_deepcopy(self, device: str, dtype: torch.dtype, module_info: Any, training: bool) -> None:
        for inplace in (False, True):
            m = module_info.module_cls(inplace=inplace)
            self.assertEqual(repr(m), "LELU(inplace=True)" if inplace else "LELU()")
            x = torch.randn(4, 5, device=device, dtype=dtype)
            expected = F.lelu(x)
            for clone in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
                self.assertEqual(repr(clone), repr(m))
                self.assertEqual(clone(x.clone()), expected, atol=0, rtol=0)

    @modules([LELU_MODULEINFO])
    def test_inplace(self, device: str, dtype: torch.dtype, module_info: Any, training: bool) -> None:
        x = torch.randn(3, 4, device=device, dtype=dtype)
        expected = module_info.module_cls()(x)
        clone = x.clone()
        result = module_info.module_cls(inplace=True)(clone)
        self.assertIs(result, clone)
        self.assertEqual(clone, expected, atol=0, rtol=0)
        self.assertNotEqual(x, clone)

    @modules([LELU_MODULEINFO])
    def test_non_contiguous_and_memory_format(
        self, device: str, dtype: torch.dtype, module_info: Any, training: bool
    ) -> None:
        m = module_info.module_cls()
        x = torch.randn(2, 3, 4, 5, device=device, dtype=dtype)
        self.assertEqual(m(x.transpose(1, 3)), m(x).transpose(1, 3), atol=0, rtol=0)
        y = m(x.to(memory_format=torch.channels_last))
        self.assertTrue(y.is_contiguous(memory_format=torch.channels_last))
        self.assertFalse(module_info.module_memformat_affects_out)

    @modules([LELU_MODULEINFO])
    def test_dtypes_declared(self, device: str, dtype: torch.dtype, module_info: Any, training: bool) -> None:
        self.assertIn(dtype, (torch.float32, torch.float64))
        self.assertEqual(set(module_info.supported_dtypes(device)), {torch.float32, torch.float64})


instantiate_device_type_tests(TestLeluOpInfo, globals(), only_for=("cpu", "cuda"))
instantiate_device_type_tests(TestLeluModuleInfo, globals(), only_for=("cpu", "cuda"))


def test_instantiated_tests_exist() -> None:
    """The device-type machinery instantiated the tests for the entries (they cannot vanish)."""
    op_class = globals()["TestLeluOpInfoCPU"]
    module_class = globals()["TestLeluModuleInfoCPU"]
    op_tests = [name for name in dir(op_class) if name.startswith("test_")]
    module_tests = [name for name in dir(module_class) if name.startswith("test_")]
    for dtype in ("float32", "float64", "bfloat16", "float16"):
        assert f"test_reference_numerics_nn_functional_lelu_cpu_{dtype}" in op_tests, op_tests
    assert "test_fn_fwgrad_bwgrad_nn_functional_lelu_cpu_float64" in op_tests, op_tests
    assert any(name.startswith("test_forward_nn_LELU") for name in module_tests), module_tests
