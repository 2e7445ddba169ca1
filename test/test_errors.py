"""Bad inputs get PyTorch's own error messages; odd layouts and shapes work as for silu."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

FLOAT_DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)
UNSUPPORTED = {
    torch.int64: "Long",
    torch.int32: "Int",
    torch.int16: "Short",
    torch.int8: "Char",
    torch.uint8: "Byte",
    torch.bool: "Bool",
    torch.complex64: "ComplexFloat",
    torch.complex128: "ComplexDouble",
}
INTERNAL_OVERLAP = (
    "unsupported operation: more than one element of the written-to tensor refers to a single memory location. "
    "Please clone() the tensor before performing the operation."
)
PARTIAL_OVERLAP = (
    "unsupported operation: some elements of the input tensor and the written-to tensor refer to a single "
    "memory location. Please clone() the tensor before performing the operation."
)


def not_implemented(kernel: str, type_name: str) -> str:
    return re.escape(f"\"{kernel}\" not implemented for '{type_name}'")


def values(dtype: torch.dtype, shape: tuple[int, ...] = (3, 4)) -> torch.Tensor:
    if dtype == torch.bool:
        return torch.ones(shape, dtype=dtype)
    return torch.arange(int(torch.tensor(shape).prod())).reshape(shape).to(dtype)


@pytest.mark.parametrize("dtype", list(UNSUPPORTED), ids=str)
def test_unsupported_dtype_forward(dtype: torch.dtype) -> None:
    x = values(dtype)
    message = not_implemented("lelu_cpu", UNSUPPORTED[dtype])
    for call in (F.lelu, torch._C._nn.lelu, nn_module_call):
        with pytest.raises(NotImplementedError, match=message):
            call(x)
    with pytest.raises(NotImplementedError, match=message):
        F.lelu(x.clone(), inplace=True)
    with pytest.raises(NotImplementedError, match=message):
        torch._C._nn.lelu(x, out=torch.empty_like(x))


def nn_module_call(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.LELU()(x)


@pytest.mark.parametrize("dtype", list(UNSUPPORTED), ids=str)
def test_unsupported_dtype_backward(dtype: torch.dtype) -> None:
    x = values(dtype)
    with pytest.raises(NotImplementedError, match=not_implemented("lelu_backward_cpu", UNSUPPORTED[dtype])):
        torch.ops.aten.lelu_backward(x, x)


def test_unsupported_dtype_matches_silu_wording() -> None:
    """The same message silu gives, with the kernel name changed."""
    x = values(torch.int64)
    with pytest.raises(NotImplementedError) as silu_error:
        torch._C._nn.silu(x)
    with pytest.raises(NotImplementedError) as lelu_error:
        torch._C._nn.lelu(x)
    assert str(lelu_error.value) == str(silu_error.value).replace("silu_cpu", "lelu_cpu")


@pytest.mark.parametrize(
    ("out_dtype", "name"),
    [(torch.int64, "Long"), (torch.float64, "Double"), (torch.float16, "Half"), (torch.complex64, "ComplexFloat")],
    ids=str,
)
def test_out_wrong_dtype(out_dtype: torch.dtype, name: str) -> None:
    x = torch.randn(3)
    message = re.escape(f"Found dtype {name} but expected Float")
    with pytest.raises(RuntimeError, match=message):
        torch._C._nn.lelu(x, out=torch.empty(3, dtype=out_dtype))
    # the same check and wording as silu
    with pytest.raises(RuntimeError, match=message):
        torch._C._nn.silu(x, out=torch.empty(3, dtype=out_dtype))


def test_out_wrong_dtype_backward() -> None:
    """lelu_backward is a binary TensorIterator op: its grad_input= check is the casting one, as
    silu_backward's."""
    x = torch.randn(3)
    message = re.escape("result type Float can't be cast to the desired output type Long")
    with pytest.raises(RuntimeError, match=message):
        torch.ops.aten.lelu_backward.grad_input(x, x, grad_input=torch.empty(3, dtype=torch.long))
    with pytest.raises(RuntimeError, match=message):
        torch.ops.aten.silu_backward.grad_input(x, x, grad_input=torch.empty(3, dtype=torch.long))


def test_inplace_on_expanded_tensor() -> None:
    x = torch.randn(1, 4).expand(3, 4)
    with pytest.raises(RuntimeError, match=re.escape(INTERNAL_OVERLAP)):
        F.lelu(x, inplace=True)
    with pytest.raises(RuntimeError, match=re.escape(INTERNAL_OVERLAP)):
        torch.nn.LELU(inplace=True)(x)
    # out-of-place on an expanded input is fine
    assert torch.equal(F.lelu(x), F.lelu(x.contiguous()))


def test_out_is_expanded() -> None:
    out = torch.empty(1, 4).expand(3, 4)
    with pytest.raises(RuntimeError, match=re.escape(INTERNAL_OVERLAP)):
        torch._C._nn.lelu(torch.randn(3, 4), out=out)


def test_partial_overlap_of_input_and_out() -> None:
    base = torch.randn(10)
    with pytest.raises(RuntimeError, match=re.escape(PARTIAL_OVERLAP)):
        torch._C._nn.lelu(base[:5], out=base[2:7])
    # full overlap (out is the input) is the in-place op and is allowed
    x = torch.randn(10)
    expected = F.lelu(x)
    torch._C._nn.lelu(x, out=x)
    assert torch.equal(x, expected)


def test_wrong_argument_types() -> None:
    with pytest.raises(TypeError, match=re.escape("lelu(): argument 'input' (position 1) must be Tensor, not str")):
        torch._C._nn.lelu("x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=re.escape("lelu() takes 1 positional argument but 2 were given")):
        torch._C._nn.lelu(torch.randn(3), torch.randn(3))  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        F.lelu(torch.randn(3), out=torch.empty(3))  # type: ignore[call-arg]


def test_backward_shape_mismatch() -> None:
    message = re.escape("The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 0")
    with pytest.raises(RuntimeError, match=message):
        torch.ops.aten.lelu_backward(torch.randn(3), torch.randn(4))


def strided_variants(x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    return [
        ("transposed", x.transpose(0, 1)),
        ("sliced", x[:, ::2]),
        ("channels_last", x.to(memory_format=torch.channels_last)),
        ("permuted", x.permute(3, 1, 0, 2)),
        ("expanded", x[:, :1].expand(-1, 3, -1, -1)),
        ("offset_view", x[1:, 1:, 1:, 1:]),
    ]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_non_contiguous_inputs(dtype: torch.dtype) -> None:
    x = (torch.randn(2, 3, 4, 5, dtype=torch.float64) * 5).to(dtype)
    for name, view in strided_variants(x):
        y = F.lelu(view)
        assert torch.equal(y, F.lelu(view.contiguous())), name
        # TensorIterator's layout: the input's where it is dense (permutations), as for silu
        assert y.stride() == F.silu(view).stride(), name
        if name in ("transposed", "channels_last", "permuted"):
            assert y.stride() == view.stride(), name
        if name != "expanded":
            inplace = view.clone(memory_format=torch.preserve_format)
            F.lelu(inplace, inplace=True)
            assert torch.equal(inplace, y), name
        out = torch.empty_like(view.contiguous())
        torch._C._nn.lelu(view, out=out)
        assert torch.equal(out, y), name


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_channels_last(dtype: torch.dtype) -> None:
    x = (torch.randn(2, 3, 4, 5, dtype=torch.float64) * 5).to(dtype).to(memory_format=torch.channels_last)
    y = F.lelu(x)
    assert y.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(y, F.lelu(x.contiguous()))
    g = torch.ops.aten.lelu_backward(torch.ones_like(x), x)
    assert g.is_contiguous(memory_format=torch.channels_last)
    x3 = x.unsqueeze(2).contiguous(memory_format=torch.channels_last_3d)
    assert F.lelu(x3).is_contiguous(memory_format=torch.channels_last_3d)
    # the same layout silu gives
    assert F.lelu(x).stride() == F.silu(x).stride()


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(0,), (0, 3), (2, 0, 5), ()], ids=str)
def test_empty_and_zero_dim(dtype: torch.dtype, shape: tuple[int, ...]) -> None:
    x = torch.full(shape, -1.0, dtype=dtype)
    y = F.lelu(x)
    assert y.shape == x.shape and y.dtype == dtype
    assert torch.equal(y, F.lelu(x.reshape(-1)).reshape(shape))
    g = torch.ops.aten.lelu_backward(torch.ones_like(x), x)
    assert g.shape == x.shape and g.dtype == dtype
    if shape == ():
        assert y.item() == pytest.approx(-0.14017956485372646, rel=1e-2)  # LELU_MATH.md
        assert g.item() == pytest.approx(-0.078436320241387074, rel=2e-2, abs=1e-3)
    z = x.clone()
    assert F.lelu(z, inplace=True) is z and torch.equal(z, y)


def out_resize_warnings(fn: Callable[..., torch.Tensor], out: torch.Tensor) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn(torch.randn(3), out=out)
    return [str(w.message) for w in caught if "resized" in str(w.message)]


@pytest.mark.parametrize("out_shape", [(0,), (3,), (5,), (1, 3), (2, 2)], ids=str)
def test_out_resize_warning_like_silu(out_shape: tuple[int, ...]) -> None:
    lelu_out = torch.empty(out_shape)
    silu_out = torch.empty(out_shape)
    lelu_warnings = out_resize_warnings(torch._C._nn.lelu, lelu_out)
    silu_warnings = out_resize_warnings(torch._C._nn.silu, silu_out)
    assert lelu_warnings == silu_warnings
    # a zero-element or correctly shaped out is reused silently, anything else warns once
    expect_warning = out_shape not in ((0,), (3,))
    assert len(lelu_warnings) == int(expect_warning)
    if expect_warning:
        assert lelu_warnings[0].startswith("An output with one or more elements was resized")
    assert lelu_out.shape == (3,)


def test_out_on_other_device_errors() -> None:
    with pytest.raises(RuntimeError, match="device"):
        torch._C._nn.lelu(torch.randn(3, device="meta"), out=torch.empty(3))


def _root(error: BaseException) -> BaseException:
    while error.__cause__ is not None:
        error = error.__cause__
    return error


@pytest.mark.parametrize("dtype", [torch.int32, torch.complex64], ids=str)
def test_unsupported_dtype_same_error_on_every_path(dtype: torch.dtype) -> None:
    """eager, torch.compile, torch.export and the dynamo ONNX exporter: the kernel's error, in its
    words (the compile and ONNX paths wrap it; it is their error's cause)."""
    x = values(dtype)
    expected = f"\"lelu_cpu\" not implemented for '{UNSUPPORTED[dtype]}'"
    module = torch.nn.LELU()
    paths: dict[str, Callable[[], object]] = {
        "eager": lambda: F.lelu(x),
        "compile": lambda: torch.compile(F.lelu, fullgraph=True)(x),
        "export": lambda: torch.export.export(module, (x,)),
        "onnx": lambda: torch.onnx.export(module, (x,), dynamo=True, verbose=False),
    }
    for name, run in paths.items():
        torch._dynamo.reset()
        with pytest.raises(Exception) as caught, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run()
        root = _root(caught.value)
        assert type(root) is NotImplementedError and str(root) == expected, (name, caught.value)
