"""The package's shape: imports run one way between rooms, modules stay small, rooms export what they say.

The rooms, bottom to top (each may import only those below it):

    errors.py, _lazy.py, _text.py, _autogen.py, _redact.py  <  scenario  <  telemetry  <  models
                         <  tools  <  agents  <  tapes  <  runtime  <  testing  <  serve, eval
                         <  cli/, pytest_plugin.py, __init__.py

`telemetry` (OpenTelemetry spans and metrics) sits below `models` because the model clients use it (the
trace context they send to the server); it imports only the bottom (`errors`).

`tapes` (records, the tape writer and reader, cassettes, recording and replaying) sits below `runtime`,
which drives runs through it, and imports no run: replay and record are seams the runner is given.

`mcp_servers` runs as separate processes: it may import `scenario`, `models` and the bottom only, and
nothing imports it. Inside `models`, the `openai` and `vllm` providers do not import each other; nor do
`serve` and `eval`. Every
import counts: module level, inside functions, under `TYPE_CHECKING`, relative or absolute, and the lazy
re-export maps of the rooms' `__init__`. An import *string* resolved at run time is not an import; the
one there is, `models/_registry.py` naming the replay provider in `tapes`, is deliberate.

`cli/` (the commands) imports the rooms through their public faces only: `autogen_troupe.runtime`, never
`autogen_troupe.runtime._signals` (what it needs, a room exports); the bottom's modules are their own faces.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import autogen_troupe

PACKAGE = Path(autogen_troupe.__file__).resolve().parent
ROOT_NAME = "autogen_troupe"

# A room's rank; an import must go to a room of lower rank (or its own room).
RANKS = {
    "bottom": 0,
    "scenario": 1,
    "telemetry": 1.5,  # between scenario and models: used by models (trace context), runtime and cli
    "models": 2,
    "tools": 3,
    "agents": 4,
    "tapes": 4.5,  # the tape room: records, cassettes, record and replay; the runtime uses it
    "runtime": 5,
    "testing": 6,
    "serve": 7,
    "eval": 7,
    "top": 8,
}
BOTTOM = {"errors", "_lazy", "_text", "_autogen", "_redact"}
TOP = {"cli", "pytest_plugin", ""}  # "" is the package's own __init__
PROVIDERS = {"openai", "vllm"}  # sub-rooms of models that must not import each other
FEATURES_SIDE_BY_SIDE = {"serve", "eval"}  # one rank, and neither imports the other
MCP_SERVERS_MAY_IMPORT = {"bottom", "scenario", "models", "mcp_servers"}

MAX_LINES = 550
# Modules over the limit today, being split (this list may only shrink: a module that fits is an error
# until its line is removed, and no other module may pass the limit).
OVERSIZED: set[str] = set()


@dataclass(frozen=True)
class Edge:
    """One import: `source` (a file of the package) names `target` (a dotted module) at `line`."""

    source: Path
    line: int
    target: str

    def __str__(self) -> str:
        return f"{self.source.relative_to(PACKAGE.parent)}:{self.line}: imports {self.target}"


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str) -> bool:
    """Whether `dotted` (inside the package) is a module or package on disk."""
    rel = Path(*dotted.split(".")[1:]) if "." in dotted else Path()
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def imports_of(path: Path) -> Iterator[Edge]:
    """Every import of the package's own modules in `path`, wherever it stands in the file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == ROOT_NAME or alias.name.startswith(ROOT_NAME + "."):
                    yield Edge(path, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            if module != ROOT_NAME and not module.startswith(ROOT_NAME + "."):
                continue
            for alias in node.names:  # `from . import errors` imports the module errors, not the package
                sub = f"{module}.{alias.name}"
                yield Edge(path, node.lineno, sub if _is_module(sub) else module)


def lazy_edges(path: Path) -> Iterator[Edge]:
    """The re-export map of a room's `__init__` (`_WHERE = {"name": ".module"}`), as imports."""
    if path.name != "__init__.py":
        return
    name = module_name(path)
    where = getattr(importlib.import_module(name), "_WHERE", {})
    tree = ast.parse(path.read_text(encoding="utf-8"))
    line = next(
        (n.lineno for n in tree.body if isinstance(n, ast.Assign) and "_WHERE" in ast.unparse(n.targets[0])),
        0,
    )
    for target in sorted(set(where.values())):
        level = len(target) - len(target.lstrip("."))
        base = name.split(".")[: len(name.split(".")) - level + 1]
        yield Edge(path, line, ".".join([*base, target.lstrip(".")]))


def room_of(module: str) -> str:
    """`scenario`, `models.openai`, `bottom`, `top`, `mcp_servers`... for a dotted module name."""
    parts = module.split(".")[1:]
    first = parts[0] if parts else ""
    if first in BOTTOM:
        return "bottom"
    if first in TOP:
        return "top"
    if first == "models" and len(parts) > 1 and parts[1] in PROVIDERS:
        return f"models.{parts[1]}"
    return first


def rank(room: str) -> float | None:
    return RANKS.get(room.partition(".")[0])


def backwards(edge: Edge) -> str | None:
    """Why this import runs the wrong way, or None when it is fine."""
    src, dst = room_of(module_name(edge.source)), room_of(edge.target)
    if src == dst:
        return None
    if dst == "mcp_servers":
        return f"{src} imports {dst}, which runs as its own process and is imported by nothing"
    if src == "mcp_servers":
        if dst.partition(".")[0] in MCP_SERVERS_MAY_IMPORT:
            return None
        return f"mcp_servers imports {dst}; it may import scenario, models and errors only"
    if {src, dst} == {f"models.{p}" for p in PROVIDERS}:
        return f"provider {src} imports provider {dst}"
    if {src, dst} == FEATURES_SIDE_BY_SIDE:
        return f"{src} imports {dst}; they stand side by side on testing and share only what is below"
    src_rank, dst_rank = rank(src), rank(dst)
    if src_rank is None or dst_rank is None:
        return f"{src} imports {dst}: a room this test does not know (add it to RANKS)"
    if dst_rank > src_rank:
        return f"{src} imports {dst}, a room above it"
    return None


def test_imports_run_one_way() -> None:
    found = [
        f"{edge}: {why}"
        for path in modules()
        for edge in (*imports_of(path), *lazy_edges(path))
        if (why := backwards(edge))
    ]
    assert not found, "imports that run backwards:\n" + "\n".join(found)


def test_the_import_check_sees_every_kind_of_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checker itself: function-level, TYPE_CHECKING, relative and absolute imports are all seen."""
    fake = tmp_path / ROOT_NAME
    (fake / "models").mkdir(parents=True)
    (fake / "agents").mkdir()
    for f in ("__init__.py", "errors.py", "models/__init__.py", "agents/__init__.py", "agents/_build.py"):
        (fake / f).write_text("")
    (fake / "models" / "_x.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from .. import errors\n"  # down: fine
        "if TYPE_CHECKING:\n"
        "    from ..agents import _build\n"  # up, relative, under TYPE_CHECKING
        "def f():\n"
        "    import autogen_troupe.agents._build\n"  # up, absolute, in a function
        "    from autogen_troupe import cli\n"  # up: the top (not a module on disk here: the package)
    )
    monkeypatch.setitem(globals(), "PACKAGE", fake)
    edges = list(imports_of(fake / "models" / "_x.py"))
    assert [(e.line, e.target) for e in edges] == [
        (2, "autogen_troupe.errors"),
        (4, "autogen_troupe.agents._build"),
        (6, "autogen_troupe.agents._build"),
        (7, "autogen_troupe"),
    ]
    assert [backwards(e) is not None for e in edges] == [False, True, True, True]
    assert "models/_x.py:4: imports autogen_troupe.agents._build" in str(edges[1])
    assert backwards(edges[1]) == "models imports agents, a room above it"


@pytest.mark.parametrize(
    ("source", "target", "allowed"),
    [
        ("mcp_servers/travel/_server.py", "autogen_troupe._redact", True),
        ("mcp_servers/travel/_server.py", "autogen_troupe.errors", True),
        ("mcp_servers/travel/_server.py", "autogen_troupe.scenario._base", True),
        ("mcp_servers/travel/_server.py", "autogen_troupe.tools._python", False),
        ("runtime/_runner.py", "autogen_troupe.mcp_servers.travel", False),
        ("models/openai/_client.py", "autogen_troupe.models.vllm._engine", False),
        ("models/openai/_client.py", "autogen_troupe.models._http", True),
        ("models/_registry.py", "autogen_troupe.models.openai._client", True),
        ("errors.py", "autogen_troupe.scenario", False),
        ("tapes/_replay.py", "autogen_troupe.runtime._runner", False),
        ("runtime/_runner.py", "autogen_troupe.tapes._tape", True),
        ("tapes/_record.py", "autogen_troupe.agents", True),
        ("tapes/_tape.py", "autogen_troupe.testing._expect", False),
        ("runtime/_modes.py", "autogen_troupe.tapes._replay", True),
        ("cli/app.py", "autogen_troupe.testing._suite", True),
        ("eval/_worker.py", "autogen_troupe.runtime._modes", True),
        ("cli/app.py", "autogen_troupe.eval._evaluate", True),
        ("testing/_suite.py", "autogen_troupe.eval._stats", False),
        ("eval/_worker.py", "autogen_troupe.serve._runs", False),
        ("serve/_runs.py", "autogen_troupe.eval._stats", False),
        ("serve/_runs.py", "autogen_troupe.runtime._modes", True),
        ("serve/_runs.py", "autogen_troupe.testing._modes", True),
        ("cli/app.py", "autogen_troupe.serve._app", True),
        ("runtime/_modes.py", "autogen_troupe.serve._runs", False),
        ("serve/_app.py", "autogen_troupe.cli", False),
        ("runtime/_runner.py", "autogen_troupe.cli", False),
        ("models/openai/_wire.py", "autogen_troupe.telemetry", True),
        ("runtime/_observe.py", "autogen_troupe.telemetry._spans", True),
        ("telemetry/_spans.py", "autogen_troupe.models._registry", False),
        ("telemetry/_spans.py", "autogen_troupe._redact", True),  # redaction sits at the base
        ("telemetry/_setup.py", "autogen_troupe.errors", True),
    ],
)
def test_the_rules_between_rooms(source: str, target: str, allowed: bool) -> None:
    assert (backwards(Edge(PACKAGE / source, 1, target)) is None) is allowed


def behind_a_face(edge: Edge) -> str | None:
    """Why this import of the CLI reaches behind a room's public face, or None when it does not."""
    if module_name(edge.source).split(".")[1:2] != ["cli"]:
        return None
    parts = edge.target.split(".")[1:]
    if not parts or parts[0] == "cli" or room_of(edge.target) == "bottom":
        return None
    private = [p for p in parts if p.startswith("_")]
    if private:
        return f"the CLI imports {edge.target}, private to {parts[0]}: export what it needs from {parts[0]}"
    return None


def test_the_cli_imports_only_public_faces() -> None:
    found = [
        f"{edge}: {why}"
        for path in modules()
        if path.is_relative_to(PACKAGE / "cli")
        for edge in imports_of(path)
        if (why := behind_a_face(edge))
    ]
    assert not found, "imports behind a room's face:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "target", "allowed"),
    [
        ("cli/run.py", "autogen_troupe.runtime", True),
        ("cli/run.py", "autogen_troupe.runtime._signals", False),
        ("cli/mcp.py", "autogen_troupe.tools._mcp_inspect", False),
        ("cli/mcp.py", "autogen_troupe.models.openai._client", False),
        ("cli/app.py", "autogen_troupe.cli.options", True),
        ("cli/console.py", "autogen_troupe._text", True),
        ("cli/errors.py", "autogen_troupe.errors", True),
        ("serve/_app.py", "autogen_troupe.serve._config", True),
        ("pytest_plugin.py", "autogen_troupe.testing._plugin", True),
    ],
)
def test_the_rule_of_public_faces(source: str, target: str, allowed: bool) -> None:
    assert (behind_a_face(Edge(PACKAGE / source, 1, target)) is None) is allowed


def test_no_module_is_over_the_line_limit() -> None:
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text(encoding="utf-8").splitlines()) for p in modules()}
    unknown = set(OVERSIZED) - set(sizes)
    too_long = {f: n for f, n in sizes.items() if n > MAX_LINES and f not in OVERSIZED}
    fits = {f: sizes[f] for f in OVERSIZED if f in sizes and sizes[f] <= MAX_LINES}
    problems = [
        f"{f}: {n} lines (at most {MAX_LINES}): split it by concept" for f, n in sorted(too_long.items())
    ]
    problems += [f"{f}: {n} lines now fits: remove it from OVERSIZED" for f, n in sorted(fits.items())]
    problems += [f"{f}: no such module: remove it from OVERSIZED" for f in sorted(unknown)]
    assert not problems, "\n".join(problems)


def packages() -> list[str]:
    return [module_name(p) for p in modules() if p.name == "__init__.py"]


@pytest.mark.parametrize("package", packages())
def test_every_exported_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{package} declares no __all__"
    missing = [name for name in exported if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names what it does not have: {missing}"
    where = getattr(module, "_WHERE", None)
    if where is not None:  # a lazy room: its map and its __all__ are the same names
        assert sorted(where) == sorted(exported), f"{package}: _WHERE and __all__ differ"
