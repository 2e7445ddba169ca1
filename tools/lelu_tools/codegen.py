"""Generate the overlay's C++ for the series' new operators with the wheel's own torchgen.

Runs inside the overlay's virtual environment (it imports torchgen from the pinned
wheel).  Inputs are the series' post-images of native_functions.yaml and
derivatives.yaml; the output holds only what the new operators need:

* ATen: per-operator headers (ATen/ops/lelu*.h), the CPU / Meta /
  CompositeExplicitAutogradNonFunctional / Functionalization registrations, the
  operator definitions and a schema registration that extends the aten library.
* autograd: VariableType and ADInplaceOrView kernels, the backward Node classes
  (as a delta header included after the stock Functions.h) and their Python classes.
* Python: the torch._C._nn bindings.

Usage: python -m lelu_tools.codegen SRC_DIR OUT_DIR OP_PREFIX...
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path
from typing import Any


def _keep(name: str, prefixes: list[str]) -> bool:
    return any(name == p or name.startswith(p + "_") or name.startswith(p + ".") for p in prefixes)


def _new_ops(native_yaml: Path, prefixes: list[str]) -> set[str]:
    names: set[str] = set()
    for line in native_yaml.read_text().splitlines():
        m = re.match(r"- func: ([\w.]+)\(", line)
        if m and _keep(m.group(1).split(".")[0], prefixes):
            names.add(m.group(1))
    return names


def gen_aten(src: Path, out: Path, new_ops: set[str]) -> None:
    import torchgen.gen as gen

    aten_src = src / "aten/src/ATen"
    original = gen.parse_native_yaml

    def filtered(*args: Any, **kwargs: Any) -> Any:
        parsed = original(*args, **kwargs)
        keep = [f for f in parsed.native_functions if str(f.func.name) in new_ops]
        return gen.ParsedYaml(keep, parsed.backend_indices)

    gen.parse_native_yaml = filtered
    argv = sys.argv
    sys.argv = [
        "torchgen.gen",
        "--source-path", str(aten_src),
        "--install-dir", str(out / "ATen"),
        "--aoti-install-dir", str(out / "aoti"),
        "--per-operator-headers",
        "--generate", "headers", "sources",
    ]
    try:
        gen.main()
    finally:
        sys.argv = argv
        gen.parse_native_yaml = original
    # Only the per-operator headers and the two aggregates the wheel lacks go on the
    # include path; the other generated aggregates would shadow the wheel's.
    include = out / "include/ATen"
    include.mkdir(parents=True)
    shutil.move(str(out / "ATen/ops"), str(include / "ops"))
    for name in ("ViewMetaClasses.h", "FunctionalInverses.h"):
        shutil.move(str(out / "ATen" / name), str(include / name))
    # at::redispatch:: for the new ops, as a delta header included after the stock one.
    redispatch = (out / "ATen/RedispatchFunctions.h").read_text()
    op_headers = "".join(f"#include <ATen/ops/{h.name}>\n" for h in sorted((include / "ops").glob("*_ops.h")))
    redispatch = redispatch.replace("#include <ATen/Operators.h>\n", op_headers)
    (include / "OverlayRedispatchFunctions.h").write_text(redispatch)
    # The vmap plumbing of the new ops (a delta header for their batching rules), and
    # ATen/Functions.h as a source build has it: the wheel's, with the new ops' headers
    # (so that at::lelu and torch::lelu are declared wherever the stock ops are).
    plumbing = (out / "ATen/VmapGeneratedPlumbing.h").read_text()
    plumbing = plumbing.replace("#include <ATen/Operators.h>\n", op_headers)
    (include / "OverlayVmapGeneratedPlumbing.h").write_text(plumbing)
    (include / "Functions.h").write_text(_functions_h(include / "ops"))
    shutil.rmtree(out / "ATen/core")
    shutil.rmtree(out / "aoti")
    for header in (out / "ATen").glob("*.h"):
        header.unlink()


def _functions_h(ops: Path) -> str:
    """The wheel's ATen/Functions.h with an include of each new operator's header added."""
    import importlib.util

    spec = importlib.util.find_spec("torch")  # finds the wheel without importing it (and the overlay)
    if spec is None or spec.origin is None:
        raise SystemExit("codegen: torch is not installed in this environment")
    stock = (Path(spec.origin).parent / "include/ATen/Functions.h").read_text()
    new = [f"#include <ATen/ops/{h.name.removesuffix('_ops.h')}.h>\n" for h in sorted(ops.glob("*_ops.h"))]
    lines = stock.splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if line.startswith("#include <ATen/ops/"))
    return "".join(lines[: last + 1] + new + lines[last + 1 :])


def gen_autograd(src: Path, out: Path, new_ops: set[str]) -> None:
    from torchgen.api import cpp
    from torchgen.api.autograd import match_differentiability_info
    from torchgen.gen import parse_native_yaml
    from torchgen.packaged.autograd import gen_python_functions as gpf
    from torchgen.packaged.autograd.gen_autograd_functions import (
        FUNCTION_DECLARATION,
        FUNCTION_DEFINITION,
        gen_autograd_functions_python,
        get_infos_with_derivatives_list,
        process_function,
    )
    from torchgen.packaged.autograd.gen_inplace_or_view_type import gen_inplace_or_view_type
    from torchgen.packaged.autograd.gen_variable_type import gen_variable_type
    from torchgen.packaged.autograd.load_derivatives import load_derivatives
    from torchgen.utils import FileManager

    native_yaml = str(src / "aten/src/ATen/native/native_functions.yaml")
    tags_yaml = str(src / "aten/src/ATen/native/tags.yaml")
    derivatives = src / "tools/autograd/derivatives.yaml"
    ours = src / "derivatives_new.yaml"
    ours.write_text(_our_derivative_entries(derivatives.read_text(), new_ops))
    templates = str(Path(gpf.__file__).parent / "templates")
    autograd_out = out / "autograd"
    autograd_out.mkdir(parents=True, exist_ok=True)

    infos, used_keys = load_derivatives(str(ours), native_yaml, tags_yaml)
    fns = sorted(
        (f for f in parse_native_yaml(native_yaml, tags_yaml).native_functions if str(f.func.name) in new_ops),
        key=lambda f: cpp.name(f.func),
    )
    with_infos = match_differentiability_info(fns, infos)
    gen_variable_type(str(autograd_out), native_yaml, tags_yaml, with_infos, templates, used_keys)
    gen_inplace_or_view_type(str(autograd_out), native_yaml, tags_yaml, with_infos, templates)

    # The backward Nodes: a delta header with only the new classes, included
    # after the stock generated/Functions.h, and their definitions.
    node_infos = get_infos_with_derivatives_list(infos)
    decls = "\n".join(process_function(f, FUNCTION_DECLARATION) for f in node_infos)
    defs = "\n".join(process_function(f, FUNCTION_DEFINITION) for f in node_infos)
    (autograd_out / "OverlayFunctions.h").write_text(
        "#pragma once\n// @generated by lelu_tools.codegen\n"
        "#include <torch/csrc/autograd/generated/Functions.h>\n"
        + "".join(f"#include <ATen/ops/{b}.h>\n" for b in sorted({op.split('.')[0].rstrip('_') for op in new_ops}))
        + "\n"
        "namespace torch::autograd::generated {\n\n"
        "using at::Scalar;\nusing at::Tensor;\nusing at::IntArrayRef;\nusing at::ArrayRef;\n"
        "using at::Type;\nusing at::TensorGeometry;\nusing at::ScalarType;\nusing std::optional;\n"
        "using c10::fmap;\n\n"
        f"{decls}\n\n}} // namespace torch::autograd::generated\n"
    )
    fm = FileManager(install_dir=str(autograd_out), template_dir=templates, dry_run=False)
    fm.write_with_template(
        "Functions.cpp",
        "Functions.cpp",
        lambda: {
            "generated_comment": "@generated by lelu_tools.codegen",
            "autograd_function_declarations": [],
            "autograd_function_definitions": [defs],
        },
    )
    gen_autograd_functions_python(str(autograd_out), infos, templates)

    # Python bindings for torch._C._nn (the new ops are python_module: nn).
    empty_deprecated = src / "deprecated_empty.yaml"
    empty_deprecated.write_text("[]\n")
    functions = [
        f for f in parse_native_yaml(native_yaml, tags_yaml).native_functions
        if str(f.func.name) in new_ops and gpf.should_generate_py_binding(f)
    ]
    sigs = gpf.load_signatures(functions, str(empty_deprecated), method=False)
    gpf.create_python_bindings(
        FileManager(install_dir=str(autograd_out), template_dir=templates, dry_run=False),
        sigs,
        gpf.is_py_nn_function,
        "torch.nn",
        "python_nn_functions.cpp",
        method=False,
        symint=True,
    )
    _patch_includes(autograd_out)


def _our_derivative_entries(text: str, new_ops: set[str]) -> str:
    """The entries of derivatives.yaml whose operator is one of ours."""
    bases = {op.split(".")[0] for op in new_ops}
    entries = re.split(r"(?m)^(?=- name: )", text)
    kept = [e for e in entries if (m := re.match(r"- name: ([\w]+)", e)) and m.group(1) in bases]
    return "".join(kept)


_NN_INIT = """void initLeluNNFunctions(PyObject* nn) {
  // Adds the new functions to the existing torch._C._nn module, bound to it as
  // PyModule_AddFunctions would (so __self__ and __module__ are those of the stock
  // functions: FX and Dynamo name a builtin by its __module__).
  THPNNVariableFunctionsModule = nn;
  PyObject* module_name = PyModule_GetNameObject(nn);
  if (!module_name) {
    throw python_error();
  }
  for (PyMethodDef* def = nn_functions; def->ml_name != nullptr; ++def) {
    if (std::string(def->ml_name) == "_parse_to") {
      continue;
    }
    PyObject* func = PyCFunction_NewEx(def, nn, module_name);
    if (!func || PyModule_AddObject(nn, def->ml_name, func) != 0) {
      Py_XDECREF(func);
      Py_DECREF(module_name);
      throw python_error();
    }
  }
  Py_DECREF(module_name);
}

"""


def _patch_includes(autograd_out: Path) -> None:
    """Make the generated .cpp files see the delta Functions header, and bind into torch._C._nn."""
    for stock in ("#include <torch/csrc/autograd/generated/Functions.h>",
                  '#include "torch/csrc/autograd/generated/Functions.h"',
                  '#include "torch/csrc/autograd/FunctionsManual.h"'):
        for path in autograd_out.glob("*.cpp"):
            text = path.read_text()
            if stock in text:
                path.write_text(text.replace(stock, stock + '\n#include "OverlayFunctions.h"', 1))
    stock = "#include <ATen/RedispatchFunctions.h>"
    for path in autograd_out.glob("*.cpp"):
        text = path.read_text()
        if stock in text:
            path.write_text(text.replace(stock, stock + "\n#include <ATen/OverlayRedispatchFunctions.h>", 1))
    nn = autograd_out / "python_nn_functions.cpp"
    text = nn.read_text()
    start = text.index("void initNNFunctions(PyObject* module) {")
    end = text.index("// generated methods start here")
    text = text[:start] + _NN_INIT + text[end:]
    text = text.replace("static PyObject * THPVariable__parse_to(",
                        "[[maybe_unused]] static PyObject * THPVariable__parse_to(")
    nn.write_text(text)


def sync_tree(new: Path, out: Path) -> int:
    """Copy new over out, touching only files whose content changed (keeps ninja incremental)."""
    changed = 0
    for src in sorted(p for p in new.rglob("*") if p.is_file()):
        dest = out / src.relative_to(new)
        data = src.read_bytes()
        if dest.is_file() and dest.read_bytes() == data:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        changed += 1
    for old in sorted(p for p in out.rglob("*") if p.is_file()):
        if not (new / old.relative_to(out)).exists():
            old.unlink()
            changed += 1
    return changed


def prepare_templates(src: Path) -> None:
    """ATen templates from the wheel, with a schema template that extends aten."""
    import torchgen

    packaged = Path(torchgen.__file__).parent / "packaged/ATen/templates"
    dest = src / "aten/src/ATen/templates"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(packaged, dest)
    schema = (dest / "RegisterSchema.cpp").read_text()
    schema = schema.replace("TORCH_LIBRARY(aten, m)", "TORCH_LIBRARY_FRAGMENT(aten, m)")
    schema = "\n".join(line for line in schema.splitlines() if "get_gradients" not in line
                       and "Distributed Ops" not in line and "register_distributed_ops" not in line)
    (dest / "RegisterSchema.cpp").write_text(schema + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lelu_tools.codegen")
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("prefixes", nargs="+")
    args = parser.parse_args(argv)
    native_yaml = args.src / "aten/src/ATen/native/native_functions.yaml"
    new_ops = _new_ops(native_yaml, args.prefixes)
    if not new_ops:
        print(f"codegen: no operator named {args.prefixes} in {native_yaml}", file=sys.stderr)
        return 1
    prepare_templates(args.src)
    fresh = args.out.with_name(args.out.name + ".new")
    if fresh.exists():
        shutil.rmtree(fresh)
    fresh.mkdir(parents=True)
    gen_aten(args.src, fresh, new_ops)
    gen_autograd(args.src, fresh, new_ops)
    args.out.mkdir(parents=True, exist_ok=True)
    changed = sync_tree(fresh, args.out)
    shutil.rmtree(fresh)
    print(f"codegen: {len(new_ops)} operators ({', '.join(sorted(new_ops))}), {changed} files changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
