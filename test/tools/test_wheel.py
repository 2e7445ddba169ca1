"""`tools/lelu build-wheel`: the exact steps --dry-run prints, option errors, and how a run reports failures."""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

from expecttest import TestCase

from lelu_tools import cli
from lelu_tools.common import LeluError
from lelu_tools.wheel import Plan, Step, execute


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["build-wheel", *args])
    return code, out.getvalue(), err.getvalue()


class TestDryRun(TestCase):
    def test_cpu(self) -> None:
        code, out, err = run_cli("/src/pytorch", "--dry-run", "--jobs", "8")
        self.assertEqual((code, err), (0, ""))
        self.assertExpectedInline(out, """\
tools/lelu apply /src/pytorch
cd /src/pytorch
export USE_CUDA=0 MAX_JOBS=8 BUILD_TEST=0
git submodule sync --recursive
git submodule update --init --recursive
python3 -m pip install -r requirements.txt build
python3 -m build --wheel --no-isolation --outdir dist
python3 -m pip install --force-reinstall --no-deps "$(ls -t dist/torch-*.whl | head -n 1)"
(cd /tmp && python3 -c 'import torch; print(torch.__version__, torch.nn.LELU()(torch.tensor([-float("inf"), 0.0, 1.0])))')
python3 test/test_ops.py -k lelu
python3 test/test_ops_gradients.py -k lelu
python3 test/test_ops_fwd_gradients.py -k lelu
python3 test/test_unary_ufuncs.py -k lelu
python3 test/test_decomp.py -k lelu
python3 test/functorch/test_vmap.py -k lelu
python3 test/test_modules.py -k LELU
python3 test/inductor/test_torchinductor_opinfo.py -k lelu
python3 test/test_module_init.py -k LELU
python3 test/test_fx.py -k test_nn_functional_lelu
python3 test/test_decomp.py -k HasDecompTest
""")  # noqa: E501

    def test_cuda_fast_with_another_python(self) -> None:
        code, out, err = run_cli("/src/my pytorch", "--cuda", "--arch", "9.0", "--jobs", "4", "--fast",
                                 "--python", "/opt/py/bin/python", "--rebase", "--dry-run")
        self.assertEqual((code, err), (0, ""))
        self.assertExpectedInline(out, """\
tools/lelu apply --rebase '/src/my pytorch'
cd '/src/my pytorch'
export USE_CUDA=1 TORCH_CUDA_ARCH_LIST=9.0 MAX_JOBS=4 BUILD_TEST=0 USE_DISTRIBUTED=0 USE_MKLDNN=0 USE_FBGEMM=0 USE_NNPACK=0 USE_QNNPACK=0 USE_XNNPACK=0 USE_KINETO=0 USE_FLASH_ATTENTION=0 USE_MEM_EFF_ATTENTION=0
git submodule sync --recursive
git submodule update --init --recursive
/opt/py/bin/python -m pip install -r requirements.txt build
/opt/py/bin/python -m build --wheel --no-isolation --outdir dist
/opt/py/bin/python -m pip install --force-reinstall --no-deps "$(ls -t dist/torch-*.whl | head -n 1)"
(cd /tmp && /opt/py/bin/python -c 'import torch; print(torch.__version__, torch.nn.LELU()(torch.tensor([-float("inf"), 0.0, 1.0])))')
/opt/py/bin/python test/test_ops.py -k lelu
/opt/py/bin/python test/test_ops_gradients.py -k lelu
/opt/py/bin/python test/test_ops_fwd_gradients.py -k lelu
/opt/py/bin/python test/test_unary_ufuncs.py -k lelu
/opt/py/bin/python test/test_decomp.py -k lelu
/opt/py/bin/python test/functorch/test_vmap.py -k lelu
/opt/py/bin/python test/test_modules.py -k LELU
/opt/py/bin/python test/inductor/test_torchinductor_opinfo.py -k lelu
/opt/py/bin/python test/test_module_init.py -k LELU
/opt/py/bin/python test/test_fx.py -k test_nn_functional_lelu
/opt/py/bin/python test/test_decomp.py -k HasDecompTest
""")  # noqa: E501

    def test_arch_needs_cuda(self) -> None:
        code, out, err = run_cli("/src/pytorch", "--arch", "8.0", "--dry-run")
        self.assertEqual((code, out), (1, ""))
        self.assertExpectedInline(err, """\
error: --arch is for CUDA builds: add --cuda
""")


class TestExecute(TestCase):
    def test_suites_all_run_and_failures_are_listed(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            steps = (Step('test "$MAX_JOBS" = 3 && test -d .git'), Step("exit 3", test=True),
                     Step("echo ran > after", test=True))
            (Path(tmp) / ".git").mkdir()
            out = io.StringIO()
            self.assertEqual(execute(Plan(Path(tmp), False, {"MAX_JOBS": "3"}, steps), out), 1)
            self.assertTrue((Path(tmp) / "after").is_file())
        self.assertExpectedInline(out.getvalue(), """\
+ test "$MAX_JOBS" = 3 && test -d .git
+ exit 3
+ echo ran > after
these suites failed:
  exit 3 (exit 3)
""")

    def test_a_failed_build_step_stops(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            steps = (Step("exit 2"), Step("echo ran > after", test=True))
            with self.assertRaises(LeluError) as caught:
                execute(Plan(Path(tmp), False, {}, steps), io.StringIO())
            self.assertFalse((Path(tmp) / "after").exists())
        self.assertExpectedInline(str(caught.exception).replace(tmp, "TMP"), """`exit 2` failed (exit 2) in TMP; see Troubleshooting in BUILD.md, then run `tools/lelu build-wheel` again""")  # noqa: E501
