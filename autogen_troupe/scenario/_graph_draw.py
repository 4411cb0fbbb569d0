"""A graph team drawn for people: Mermaid (renders on GitHub and in the docs) and a plain-text outline.

Text from the file (regexes, output values) is shown as data: quotes and brackets are escaped for
Mermaid, control characters made visible for the terminal.
"""

from __future__ import annotations

import json
from typing import Any

from .._text import terminal_safe
from ._graph import (
    AnyWhen,
    Condition,
    GraphNode,
    Mentions,
    NotWhen,
    OutputIs,
    RegexWhen,
    SourceIs,
    ToolFailed,
    entry_nodes,
)
from ._schema import Team

__all__ = ["describe", "edge_label", "graph_data", "mermaid", "outline"]


def describe(cond: Condition) -> str:
    """A condition in a few words: `mentions APPROVE`, `not (tool failed)`, `any (a | b)`."""
    if isinstance(cond, Mentions):
        return f"mentions {cond.mentions}" + (" (any case)" if cond.ignore_case else "")
    if isinstance(cond, RegexWhen):
        return f"matches /{cond.regex}/"
    if isinstance(cond, SourceIs):
        return f"source {cond.source}"
    if isinstance(cond, OutputIs):
        return "output " + ", ".join(f"{k}={json.dumps(v)}" for k, v in cond.output.items())
    if isinstance(cond, ToolFailed):
        return "a tool failed" if cond.tool_failed else "no tool failed"
    if isinstance(cond, NotWhen):
        return f"not ({describe(cond.not_)})"
    if isinstance(cond, AnyWhen):
        return "any (" + " | ".join(describe(c) for c in cond.any) + ")"
    return "all (" + " & ".join(describe(c) for c in cond.all) + ")"


def edge_label(team: Team, i: int) -> str | None:
    """Edge `i`'s condition in words, `otherwise` for a default branch beside conditions, else None."""
    e = team.edges[i]
    if e.when is not None:
        return describe(e.when)
    branching = any(o.when is not None for o in team.edges if o.from_ == e.from_)
    return "otherwise" if branching else None


def _node_notes(team: Team, name: str) -> list[str]:
    node = team.nodes.get(name, GraphNode())
    into = sum(1 for e in team.edges if e.to == name)
    notes = []
    if node.max_visits is not None:
        notes.append(f"max {node.max_visits} visits")
    if into > 1:
        notes.append("waits for all" if node.activation == "all" else "starts on any")
    return notes


def _mermaid_text(text: str) -> str:
    table = {'"': "#quot;", "<": "#lt;", ">": "#gt;", "\n": " ", "\r": " ", "`": "#96;"}
    return "".join(table.get(ch, ch) for ch in terminal_safe(text))


def graph_data(team: Team) -> dict[str, Any]:
    """The graph as plain JSON for the page to draw: entry nodes, nodes' settings, edges with labels."""
    names = [a.name for a in team.agents]
    return {
        "entry": entry_nodes(names, team.edges, team.entry),
        "nodes": [{"name": n, "notes": _node_notes(team, n)} for n in names],
        "edges": [
            {"from": e.from_, "to": e.to, "label": edge_label(team, i)} for i, e in enumerate(team.edges)
        ],
    }


def mermaid(team: Team) -> str:
    """The graph as a Mermaid flowchart."""
    names = [a.name for a in team.agents]
    lines = ["flowchart TD", "  __start__((start))"]
    for n in names:
        notes = _node_notes(team, n)
        label = n + (f"<br/>({_mermaid_text(', '.join(notes))})" if notes else "")
        lines.append(f'  n_{n}["{label}"]')  # ids prefixed: `end` and the like are Mermaid words
    lines += [f"  __start__ --> n_{n}" for n in entry_nodes(names, team.edges, team.entry)]
    for i, e in enumerate(team.edges):
        said = edge_label(team, i)
        arrow = f'-- "{_mermaid_text(said)}" -->' if said else "-->"
        lines.append(f"  n_{e.from_} {arrow} n_{e.to}")
    return "\n".join(lines) + "\n"


def outline(team: Team, name: str = "") -> str:
    """The graph as indented plain text: each agent, then where it goes and when."""
    names = [a.name for a in team.agents]
    starts = entry_nodes(names, team.edges, team.entry)
    lines = [f"graph {name}".rstrip() + f" (starts: {', '.join(starts)})"]
    for n in names:
        notes = _node_notes(team, n)
        lines.append(f"  {n}" + (f"  [{'; '.join(notes)}]" if notes else ""))
        out = [(i, e) for i, e in enumerate(team.edges) if e.from_ == n]
        for i, e in out:
            label = edge_label(team, i)
            shown = terminal_safe(label or "").replace("\n", "\\n")
            lines.append(
                f"    -> {e.to}" + (f"  when {shown}" if e.when else f"  ({shown})" if label else "")
            )
        if not out:
            lines.append("    (ends)")
    return "\n".join(lines) + "\n"
