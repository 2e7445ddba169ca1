"""Loads the LELU overlay into the stock torch at `import torch`.

Installed into the overlay's virtual environment by `tools/lelu`, with a
`torch.backends` entry point, so `import torch` calls `_autoload` at its end
(TORCH_DEVICE_BACKEND_AUTOLOAD=0 turns it off).  Importing the extension registers
the new aten operators; `init` adds their bindings to torch._C._nn and their
grad_fn classes to torch._C._functions.
"""

_loaded = False


def _autoload() -> None:
    global _loaded
    if _loaded:
        return
    import torch.jit._builtins

    from . import _C

    _C.init()
    # TorchScript's table of builtins may already have been built from the stock
    # torch._C._nn; a source build has the new functions there from the start.
    for name in ("lelu", "lelu_"):
        torch.jit._builtins._register_builtin(getattr(torch._C._nn, name), f"aten::{name}")
    _loaded = True
