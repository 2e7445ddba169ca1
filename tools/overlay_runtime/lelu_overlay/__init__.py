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
    from . import _C

    _C.init()
    _loaded = True
