"""Where a graph team goes next: our conditions evaluated on a finished turn, fan-in, max_visits, and
state that can be saved and restored between any two turns.

Pure Python (no AutoGen), so every rule is tested directly and the state is plain JSON. AutoGen's own
GraphFlow keeps part of this state outside `save_state` (microsoft/autogen #7043: a saved cyclic graph
ends at once after `load_state`); here all of it is in `dump()`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from ..scenario._graph import (
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
from ..scenario._schema import Team

__all__ = ["Hop", "Router", "Turn", "holds", "output_fields"]

_FENCE = re.compile(r"^```(?:json)?\s*\n?(.*?)\n?```$", re.DOTALL)


@dataclass(frozen=True)
class Turn:
    """What a node's finished turn offers the conditions on its out-edges."""

    source: str
    text: str
    tool_failed: bool = False


@dataclass(frozen=True)
class Hop:
    """An edge that fired, and why (shown in the transcript)."""

    edge: int
    from_node: str
    why: str


def output_fields(text: str) -> dict[str, Any] | None:
    """The message as a JSON object (inside a ```json fence or not); None when it is not one."""
    body = text.strip()
    fenced = _FENCE.match(body)
    try:
        data = json.loads(fenced.group(1) if fenced else body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def holds(cond: Condition, turn: Turn) -> tuple[bool, str]:
    """Whether `cond` holds for `turn`, and a short reason either way."""
    if isinstance(cond, Mentions):
        flags = re.IGNORECASE if cond.ignore_case else 0
        found = re.search(rf"(?<!\w){re.escape(cond.mentions)}(?!\w)", turn.text, flags) is not None
        return found, f"{'mentions' if found else 'does not mention'} {cond.mentions!r}"
    if isinstance(cond, RegexWhen):
        found = re.search(cond.regex, turn.text) is not None
        return found, f"{'matches' if found else 'does not match'} /{cond.regex}/"
    if isinstance(cond, SourceIs):
        same = turn.source == cond.source
        return same, f"source {'is' if same else 'is not'} {cond.source!r}"
    if isinstance(cond, OutputIs):
        data = output_fields(turn.text)
        if data is None:
            return False, "the message is not a JSON object"
        for k, v in cond.output.items():
            if k not in data or data[k] != v:
                return False, f"output {k} is {json.dumps(data.get(k))}, not {json.dumps(v)}"
        return True, "output " + ", ".join(f"{k}={json.dumps(v)}" for k, v in cond.output.items())
    if isinstance(cond, ToolFailed):
        same = turn.tool_failed == cond.tool_failed
        return same, "a tool call failed" if turn.tool_failed else "no tool call failed"
    if isinstance(cond, NotWhen):
        ok, why = holds(cond.not_, turn)
        return not ok, why
    if isinstance(cond, AnyWhen):
        parts = [holds(c, turn) for c in cond.any]
        ok = any(p for p, _ in parts)
        return ok, " or ".join(w for p, w in parts if p == ok)
    parts = [holds(c, turn) for c in cond.all]
    ok = all(p for p, _ in parts)
    return ok, " and ".join(w for p, w in parts if p == ok)


class Router:
    """The graph's moving state: who is ready, which edges have fired into whom, how often each ran."""

    def __init__(self, team: Team) -> None:
        self.names = [a.name for a in team.agents]
        self.edges = team.edges
        self.nodes = team.nodes
        self.starts = entry_nodes(self.names, self.edges, team.entry)
        self._into = {n: {i for i, e in enumerate(self.edges) if e.to == n} for n in self.names}
        self.reset()

    def reset(self) -> None:
        """Back to the start: the entry nodes ready, nothing fired, no visits."""
        self.ready: list[str] = list(self.starts)
        self.hops: dict[str, list[Hop]] = {}
        self.fired: dict[str, set[int]] = {}
        self.visits: dict[str, int] = {}

    def _node(self, name: str) -> GraphNode:
        return self.nodes.get(name, GraphNode())

    def _full(self, name: str) -> bool:
        most = self._node(name).max_visits
        return most is not None and self.visits.get(name, 0) >= most

    def take(self) -> list[tuple[str, list[Hop]]]:
        """The ready nodes (in agent order, whatever order their sources finished in), now started."""
        started = sorted(set(self.ready), key=self.names.index)
        self.ready = []
        for n in started:
            self.visits[n] = self.visits.get(n, 0) + 1
            self.fired.pop(n, None)
        return [(n, sorted(self.hops.pop(n, []), key=lambda h: h.edge)) for n in started]

    def after(self, turn: Turn) -> None:
        """Fire the out-edges of the node that just finished: every conditional edge that holds, else its
        default edges. An edge into a node that used up its max_visits does not fire."""
        out = [(i, e) for i, e in enumerate(self.edges) if e.from_ == turn.source]
        chosen: list[tuple[int, str]] = []
        missed: list[str] = []
        for i, e in out:
            if e.when is None:
                continue
            ok, why = holds(e.when, turn)
            if ok and self._full(e.to):
                missed.append(
                    f"edge {i} to {e.to} is closed: max_visits {self._node(e.to).max_visits} reached"
                )
            elif ok:
                chosen.append((i, why))
            else:
                missed.append(f"edge {i} to {e.to}: {why}")
        if not chosen:
            branching = any(e.when is not None for _, e in out)
            why = "default branch" + (f" ({'; '.join(missed)})" if missed else "") if branching else "always"
            chosen = [(i, why) for i, e in out if e.when is None and not self._full(e.to)]
        for i, why in chosen:
            self._fire(i, why)

    def _fire(self, i: int, why: str) -> None:
        e = self.edges[i]
        self.hops.setdefault(e.to, []).append(Hop(i, e.from_, why))
        fired = self.fired.setdefault(e.to, set())
        fired.add(i)
        if e.to in self.ready:
            return
        if self._node(e.to).activation == "any" or fired >= self._into[e.to]:
            self.ready.append(e.to)

    def dump(self) -> dict[str, Any]:
        """All of the state, as JSON."""
        return {
            "ready": list(self.ready),
            "hops": {n: [asdict(h) for h in hs] for n, hs in self.hops.items()},
            "fired": {n: sorted(f) for n, f in self.fired.items()},
            "visits": dict(self.visits),
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore what `dump()` gave."""
        self.ready = list(state["ready"])
        self.hops = {n: [Hop(**h) for h in hs] for n, hs in state["hops"].items()}
        self.fired = {n: set(f) for n, f in state["fired"].items()}
        self.visits = dict(state["visits"])
