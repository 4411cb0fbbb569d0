"""The engine core in its own process: when the user's script needs a `__main__` guard, said before loading.

With V1 multiprocessing on (the CUDA default, see `_device`), our engine thread steps an `LLMEngine` whose
EngineCore runs in a child process (vLLM's `SyncMPClient`): the thread, and so every event loop and every
`asyncio.run()` of the process, stays the one way in. vLLM starts that child with `fork` unless it must
`spawn` (the CPU build always spawns; CUDA spawns when CUDA is already initialised in this process, or
when VLLM_WORKER_MULTIPROC_METHOD=spawn). A spawned child re-runs the main script (multiprocessing's
`_fixup_main_from_path`), and a script that starts a run at its top level would start the engine again
there and fail with a page of tracebacks from two processes. So before loading, the frame of the main
script that led here is found and, when it is not under `if __name__ == "__main__":`, one line says so.
"""

from __future__ import annotations

import ast
import functools
import os
import sys
from collections.abc import Mapping
from types import FrameType, ModuleType

from ...errors import UsageError

__all__ = ["check_main_guard", "main_guard_problem", "spawns"]


def spawns(device_kind: str, environ: Mapping[str, str]) -> bool:
    """Whether vLLM will start its engine core with `spawn` (only when multiprocessing is on)."""
    if environ.get("VLLM_ENABLE_V1_MULTIPROCESSING", "1") == "0":
        return False
    if device_kind == "cpu" or environ.get("VLLM_WORKER_MULTIPROC_METHOD") == "spawn":
        return True
    torch = sys.modules.get("torch")  # never imported here for this: only if the user already did
    cuda = getattr(torch, "cuda", None)
    return bool(cuda is not None and cuda.is_initialized())


def main_guard_problem(main: ModuleType | None = None, frame: FrameType | None = None) -> str | None:
    """One line naming the script line to guard, when a spawned child would re-run it; else None."""
    main = sys.modules.get("__main__") if main is None else main
    if main is None or not _rerun_by_spawn(main):
        return None
    path = getattr(main, "__file__", None)
    frame = sys._getframe(1) if frame is None else frame
    while frame is not None and not (frame.f_globals is vars(main) and frame.f_code.co_name == "<module>"):
        frame = frame.f_back
    if frame is None or not path:
        return None  # started from a function the script's top level did not call (a thread, a callback)
    line = frame.f_lineno
    if any(start <= line <= end for start, end in _guarded_lines(os.path.abspath(path))):
        return None
    return (
        f'{path}:{line}: put this under `if __name__ == "__main__":` — the in-process engine runs its '
        "core in a process vLLM starts with spawn, which re-runs this script "
        "(or set VLLM_ENABLE_V1_MULTIPROCESSING=0)"
    )


def _rerun_by_spawn(main: ModuleType) -> bool:
    """What multiprocessing's spawn does with the parent's `__main__` in the child (spawn.py)."""
    spec = getattr(main, "__spec__", None)
    name = getattr(spec, "name", None)
    if name is not None:
        return name != "__main__" and not name.endswith(".__main__")
    path = getattr(main, "__file__", None)
    return isinstance(path, str) and os.path.splitext(os.path.basename(path))[0] != "ipython"


@functools.cache
def _guarded_lines(path: str) -> tuple[tuple[int, int], ...]:
    """The line ranges of `if __name__ == "__main__":` blocks in a script (none if it cannot be read)."""
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError):
        return ()
    return tuple(
        (node.lineno, node.end_lineno or node.lineno)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and _is_main_test(node.test)
    )


def _is_main_test(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = {s.id for s in sides if isinstance(s, ast.Name)}
    values = {s.value for s in sides if isinstance(s, ast.Constant)}
    return names == {"__name__"} and values == {"__main__"}


def check_main_guard() -> None:
    """Raise a UsageError naming the line to guard, before an engine whose core vLLM would spawn loads."""
    from ._device import detect_device

    if spawns(detect_device().kind, os.environ):
        problem = main_guard_problem(frame=sys._getframe(1))
        if problem is not None:
            raise UsageError(problem)
