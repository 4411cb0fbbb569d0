"""Changes to a scenario given on the command line (`troupe fork --set AGENT.FIELD=VALUE`), applied to the
file's data before it is validated, so the schema checks them as it checks the file.

A path's first part is an agent's name (`planner_agent.system_message`), `team` (`team.max_turns`), or a
top-level field of the scenario (`limits.timeout_s`, `model`); the rest are keys under it. The value is
text, which the schema converts as it converts YAML text (`3` for a number, `true` for a flag); a value
in `[...]` or `{...}` is read as YAML (a list, a block). A bad path or value is refused naming the `--set`
it came from, never the file's lines (the file is not where it is wrong).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from ..errors import UsageError
from ._located import Loc

__all__ = ["apply_changes", "change_errors", "parse_change"]


def parse_change(text: str) -> tuple[str, str]:
    """`PATH=VALUE` as (path, value); refused without `=` or with an empty path part."""
    path, eq, value = text.partition("=")
    parts = path.strip().split(".")
    if not eq or not all(p.strip() for p in parts):
        raise UsageError(f"--set {text!r}: give it as AGENT.FIELD=VALUE (or team.FIELD=VALUE)")
    return path.strip(), value


def _value(text: str) -> Any:
    stripped = text.strip()
    if stripped[:1] in ("[", "{"):
        try:
            return yaml.safe_load(stripped)
        except yaml.YAMLError:
            return text
    return text


def _root(data: dict[str, Any], head: str, path: str, fields: Iterable[str]) -> Loc:
    """Where a path's first part points: an agent (by name), the team, or a top-level field."""
    team = data.get("team")
    agents = team.get("agents") if isinstance(team, dict) else None
    names = [a.get("name") for a in agents or () if isinstance(a, dict)]
    if head in names:
        return ("team", "agents", names.index(head))
    if head in fields:
        return (head,)
    known = [str(n) for n in names]
    close = difflib.get_close_matches(head, [*known, "team", *fields], n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise UsageError(
        f"--set {path}: no agent named {head!r} (agents: {', '.join(known) or 'none'}); a path starts "
        f"with an agent's name, `team`, or a top-level field{hint}"
    )


def apply_changes(
    data: Any, changes: Mapping[str, str], *, fields: Iterable[str]
) -> tuple[Any, dict[Loc, str]]:
    """The scenario data with the changes made (a copy of each mapping on the way), and where each
    change went (data path → the path as given), for `change_errors`. `fields` are the scenario's
    top-level fields."""
    if not isinstance(data, dict):
        raise UsageError("--set: the scenario file holds no mapping to change")
    fields = tuple(fields)
    data = dict(data)
    where: dict[Loc, str] = {}
    for path, text in changes.items():
        head, *rest = path.split(".")
        loc = _root(data, head, path, fields)
        loc = (*loc, *rest) if loc != ("team",) or rest else loc
        parent: Any = data
        for part in loc[:-1]:
            child = parent[part] if isinstance(parent, list) and isinstance(part, int) else parent.get(part)
            if child is None:
                child = {}
            elif isinstance(child, dict | list):
                child = list(child) if isinstance(child, list) else dict(child)
            else:
                held = ".".join(path.split(".")[:-1])
                raise UsageError(f"--set {path}: {held} holds a value, with no fields under it")
            parent[part] = child
            parent = child
        parent[loc[-1]] = _value(text)
        where[loc] = path
    return data, where


def change_errors(issues: Iterable[tuple[Loc, str]], where: Mapping[Loc, str]) -> UsageError | None:
    """The schema's complaints (data path, message) about the changes, each naming its `--set`; None when
    none is about a change (the file itself is wrong: its located issues say where)."""
    lines = []
    for loc, msg in issues:
        hit = next((p for at, p in where.items() if _near(loc, at)), None)
        if hit is not None:
            lines.append(f"--set {hit}: {msg}")
    return UsageError("\n".join(dict.fromkeys(lines))) if lines else None


def _near(loc: Loc, at: Loc) -> bool:
    """An error at a change's path, under it, or on a block holding it (not the top level)."""
    return loc[: len(at)] == at or (bool(loc) and at[: len(loc)] == loc)
