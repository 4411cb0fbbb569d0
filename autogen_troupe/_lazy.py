"""Lazy re-exports for package `__init__` files: a name is imported from its module on first use, so that
importing a room (or `autogen_troupe`) loads no AutoGen, openai, mcp or vLLM code. Each `__init__` also
imports the same names under `TYPE_CHECKING`, so editors and type checkers see the real types."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package` that finds `name` in the module `where[name]` (relative)."""

    def __getattr__(name: str) -> Any:
        if name in where:
            return getattr(importlib.import_module(where[name], package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
