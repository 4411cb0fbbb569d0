"""Which Python code a scenario imports (and so runs) when it runs or replays, found without importing it.

A scenario's Python tools are named `package.module:function`; a run imports each module with the
scenario's own folder searched first, so a `tools.py` beside the file is found before anything installed.
Importing runs the module's top-level code, as pytest does with a `conftest.py`. `troupe check` shows
what a run would import, so a scenario from elsewhere can be read before it is run.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from pathlib import Path

from ..scenario._schema import Scenario

__all__ = ["ToolSource", "find_module_spec", "python_tool_sources", "tool_search_path"]


@dataclass(frozen=True)
class ToolSource:
    """A Python tool a scenario names and the file its module would be imported from."""

    ref: str
    module: str
    origin: str | None  # a file, "built-in", "frozen", "namespace package"; None when not found
    beside_scenario: bool = False

    @property
    def found(self) -> bool:
        return self.origin is not None

    def describe(self, cwd: Path | None = None) -> str:
        """`ref -> file (where)`, with the file relative to `cwd` when it lies under it."""
        if self.origin is None:
            return f"{self.ref} -> module {self.module!r} not found (the run would fail to import it)"
        shown = self.origin
        if cwd is not None and os.path.isabs(shown):
            rel = os.path.relpath(shown, cwd)
            shown = shown if rel.startswith("..") else rel
        where = ""
        if self.beside_scenario:
            where = " (beside the scenario)"
        elif {"site-packages", "dist-packages"} & set(Path(self.origin).parts):
            where = " (installed)"
        return f"{self.ref} -> {shown}{where}"


def tool_search_path(scenario: Scenario) -> tuple[Path, ...]:
    """The folders searched before `sys.path` when the scenario's tools are imported."""
    return (scenario.source.parent,) if scenario.source else ()


def _find(fullname: str, path: Sequence[str] | None) -> ModuleSpec | None:
    """Ask the import system's finders where `fullname` is, as `import` would, without loading it."""
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        if find is None:
            continue
        try:
            spec = find(fullname, path)
        except Exception:  # a finder that cannot answer for this name: the next one may
            continue
        if spec is not None:
            return spec
    return None


def find_module_spec(module: str, search_path: Sequence[str | Path] = ()) -> ModuleSpec | None:
    """Where `import module` would load it from with `search_path` before `sys.path`; nothing is imported.

    A parent package is looked up, not imported, so its `__init__.py` does not run either.
    """
    parts = module.split(".")
    top = [str(Path(d).resolve()) for d in search_path]
    spec: ModuleSpec | None = None
    path: list[str] | None = None
    for i in range(len(parts)):
        fullname = ".".join(parts[: i + 1])
        if i == 0:
            spec = importlib.machinery.PathFinder.find_spec(fullname, top) if top else None
            spec = spec or _find(fullname, None)
        else:
            spec = _find(fullname, path)
        if spec is None:
            return None
        if i < len(parts) - 1:
            path = list(spec.submodule_search_locations or [])
            if not path:
                return None
    return spec


def _origin(spec: ModuleSpec) -> str:
    if spec.origin in (None, "namespace"):
        return "namespace package"
    return spec.origin


def python_tool_sources(scenario: Scenario) -> list[ToolSource]:
    """Every Python tool the scenario's agents name, once each, with the file it would be imported from."""
    search = tool_search_path(scenario)
    folders = [str(Path(d).resolve()) for d in search]
    out: dict[str, ToolSource] = {}
    for agent in scenario.team.agents:
        for use in agent.tools:
            if use.ref in out:
                continue
            module = use.ref.partition(":")[0]
            spec = find_module_spec(module, search)
            origin = _origin(spec) if spec is not None else None
            top = module.partition(".")[0]
            near = bool(folders) and importlib.machinery.PathFinder.find_spec(top, folders) is not None
            out[use.ref] = ToolSource(use.ref, module, origin, origin is not None and near)
    return list(out.values())
