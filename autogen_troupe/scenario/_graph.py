"""A graph team's shape: edges between agents, their conditions (data, never code), per-node settings, and
the checks `troupe check` runs on them (unknown or unreachable nodes, unbounded loops, fan-ins that can
never fire), each located at the offending key.

Conditions are plain data so they survive dump, record, replay and resume (AutoGen's callable conditions
are dropped by `dump_component()`). They are evaluated in `agents/_graph_route.py`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag, field_validator

from ._base import Frozen, key_present
from ._fields import MAX_RULE_DEPTH, Count, _fail
from ._output_schema import check_output_value, output_model

__all__ = [
    "AllWhen",
    "AnyWhen",
    "Condition",
    "Edge",
    "GraphNode",
    "Mentions",
    "NotWhen",
    "OutputIs",
    "RegexWhen",
    "SourceIs",
    "ToolFailed",
    "check_graph",
    "entry_nodes",
    "shallow_conditions",
    "walk_condition",
]


class Mentions(Frozen):
    """The message holds WORD as a whole word (or phrase): letters, digits or _ on neither side.

    Case-sensitive unless `ignore_case`: `APPROVE` matches "APPROVE." and "(APPROVE)", never "DISAPPROVE",
    "APPROVED" or "approve"."""

    mentions: str = Field(min_length=1)
    ignore_case: bool = False


class RegexWhen(Frozen):
    """The message matches this regular expression (Python `re.search`, case-sensitive)."""

    regex: str = Field(min_length=1)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as e:
            raise ValueError(f"regex {v!r} does not compile: {e}") from None
        return v


class SourceIs(Frozen):
    """The message was written by this agent."""

    source: str = Field(min_length=1)


class OutputIs(Frozen):
    """The message, read as a JSON object (a ```json fence allowed), has these fields with these values."""

    output: dict[str, Any] = Field(min_length=1)


class ToolFailed(Frozen):
    """`true`: one of the agent's tool calls this turn returned an error; `false`: none did."""

    tool_failed: bool


class AnyWhen(Frozen):
    any: tuple[Condition, ...] = Field(min_length=1)


class AllWhen(Frozen):
    all: tuple[Condition, ...] = Field(min_length=1)


class NotWhen(Frozen):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, serialize_by_alias=True)
    not_: Condition = Field(alias="not")


_KEYS = ("mentions", "regex", "source", "output", "tool_failed", "any", "all", "not")


_present = key_present(_KEYS)


def _kind(v: Any) -> str | None:
    return "not" if isinstance(v, NotWhen) else _present(v)  # its field is `not_` (a Python keyword)


Condition = Annotated[
    Annotated[Mentions, Tag("mentions")]
    | Annotated[RegexWhen, Tag("regex")]
    | Annotated[SourceIs, Tag("source")]
    | Annotated[OutputIs, Tag("output")]
    | Annotated[ToolFailed, Tag("tool_failed")]
    | Annotated[AnyWhen, Tag("any")]
    | Annotated[AllWhen, Tag("all")]
    | Annotated[NotWhen, Tag("not")],
    Discriminator(
        _kind,
        custom_error_type="unknown_condition",
        custom_error_message="an edge condition needs one of: " + ", ".join(_KEYS),
    ),
]

AnyWhen.model_rebuild()
AllWhen.model_rebuild()
NotWhen.model_rebuild()


def shallow_conditions(v: Any) -> Any:
    """Refuse conditions nested more than MAX_RULE_DEPTH deep, before validation recurses into them."""
    stack: list[tuple[Any, int]] = [(v, 0)]
    while stack:
        cond, depth = stack.pop()
        if not isinstance(cond, dict):
            continue
        for key in ("any", "all", "not"):
            children = cond.get(key)
            kids = children if isinstance(children, list | tuple) else [children] if key == "not" else []
            if kids and depth >= MAX_RULE_DEPTH:
                raise _fail(f"edge conditions nest more than {MAX_RULE_DEPTH} levels deep", key)
            stack.extend((c, depth + 1) for c in kids)
    return v


def walk_condition(
    cond: Condition, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Yield (path, condition) for a condition and every condition nested in it."""
    yield path, cond
    if isinstance(cond, AnyWhen | AllWhen):
        key = "any" if isinstance(cond, AnyWhen) else "all"
        for i, c in enumerate(getattr(cond, key)):
            yield from walk_condition(c, (*path, key, i))
    elif isinstance(cond, NotWhen):
        yield from walk_condition(cond.not_, (*path, "not"))


class Edge(Frozen):
    """`from` hands over to `to` when `when` holds; without `when` the edge is `from`'s default branch: it
    fires when none of `from`'s conditional edges does (or always, when it has none)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, serialize_by_alias=True)
    from_: str = Field(alias="from")
    to: str
    when: Annotated[Condition, Field(description="Left out: the default branch.")] | None = None


class GraphNode(Frozen):
    """How one agent of a graph team is started."""

    activation: Literal["all", "any"] = Field(
        "all",
        description="all: wait until every incoming edge has fired since its last turn (fan-in); "
        "any: start as soon as one fires.",
    )
    max_visits: Count | None = Field(
        None,
        description="At most this many turns; an edge into it then no longer fires, so its source's "
        "default branch (the exit) is taken.",
    )


def entry_nodes(names: Sequence[str], edges: Sequence[Edge], entry: Sequence[str] | None) -> list[str]:
    """The nodes that start the run: `entry`, else every agent no edge leads to (in agent order)."""
    if entry:
        return list(entry)
    targets = {e.to for e in edges}
    return [n for n in names if n not in targets]


def _reach(starts: Sequence[str], edges: Sequence[Edge], *, skip: Collection[int] = ()) -> set[str]:
    """Nodes reachable from `starts`, not using the edges numbered in `skip`."""
    seen = set(starts)
    todo = list(seen)
    while todo:
        n = todo.pop()
        for i, e in enumerate(edges):
            if e.from_ == n and i not in skip and e.to not in seen:
                seen.add(e.to)
                todo.append(e.to)
    return seen


def _cycles(names: Sequence[str], edges: Sequence[Edge]) -> list[set[str]]:
    """The strongly connected parts holding a cycle (two or more nodes, or one with an edge to itself)."""
    # what each node reaches in one step or more: itself only through a cycle
    reach = {n: _reach([e.to for e in edges if e.from_ == n], edges) for n in names}
    parts: list[set[str]] = []
    for n in names:
        if n in reach[n] and not any(n in p for p in parts):
            parts.append({m for m in names if m in reach[n] and n in reach[m]})
    return parts


def check_graph(
    agents: Sequence[Any], edges: Sequence[Edge], entry: Sequence[str] | None, nodes: dict[str, GraphNode]
) -> None:
    """Raise a located error (path below `team`) for the first thing wrong with the graph; `agents` are the
    team's (their names, and the output schema `output:` conditions on their edges are checked against)."""
    names = [a.name for a in agents]
    known = set(names)
    for i, e in enumerate(edges):
        for key, n in (("from", e.from_), ("to", e.to)):
            if n not in known:
                raise _fail(
                    f"edge {i} {key} {n!r}, which is not an agent of this team (agents: {list(names)})",
                    "edges",
                    i,
                    key,
                )
        if e.when is not None:
            for at, c in walk_condition(e.when, ("edges", i, "when")):
                if isinstance(c, SourceIs) and c.source not in known:
                    raise _fail(
                        f"condition names source {c.source!r}, which is not an agent of this team",
                        *at,
                        "source",
                    )
                schema = agents[names.index(e.from_)].output_schema
                if isinstance(c, OutputIs) and isinstance(schema, dict):
                    _check_output_condition(c, e.from_, schema, at)
    for j, n in enumerate(entry or ()):
        if n not in known:
            raise _fail(f"entry {n!r} is not an agent of this team (agents: {list(names)})", "entry", j)
    for n in nodes:
        if n not in known:
            raise _fail(
                f"nodes names {n!r}, which is not an agent of this team (agents: {list(names)})", "nodes", n
            )
    seen: dict[tuple[str, str], int] = {}
    for i, e in enumerate(edges):
        if (e.from_, e.to) in seen:
            raise _fail(
                f"edges {seen[e.from_, e.to]} and {i} both lead from {e.from_!r} to {e.to!r}; join their "
                "conditions in one edge with `any:`",
                "edges",
                i,
            )
        seen[e.from_, e.to] = i
    starts = entry_nodes(names, edges, entry)
    if not starts:
        raise _fail(
            "every agent has an incoming edge, so none starts the run: name the first with `entry:`", "edges"
        )
    reached = _reach(starts, edges)
    for i, n in enumerate(names):
        if n not in reached:
            raise _fail(
                f"agent {n!r} is unreachable: no edge from the entry nodes {starts} leads to it",
                "agents",
                i,
                "name",
            )
    branching = {e.from_ for e in edges if e.when is not None}  # nodes whose out-edges choose
    for part in _cycles(names, edges):
        inside = [i for i, e in enumerate(edges) if e.from_ in part and e.to in part]
        bounded = any(nodes.get(n, GraphNode()).max_visits for n in part)
        if not bounded and not any(edges[i].from_ in branching for i in inside):
            loop = " → ".join(n for n in names if n in part)
            raise _fail(
                f"the loop {loop} has no bound and no exit: give one of its agents max_visits "
                "(under `nodes:`) or a `when` on one of its edges",
                "edges",
                inside[0],
            )
    runnable = _runnable(names, edges, starts, nodes)
    for t in names:
        into = [i for i, e in enumerate(edges) if e.to == t]
        if t in runnable or len(into) < 2 or not {edges[i].from_ for i in into} & runnable:
            continue  # runs, or only downstream of the fan-in that never fires
        before = _runnable(names, edges, starts, nodes, without=t)
        i = next(i for i in into if edges[i].from_ not in before)
        raise _fail(
            f"{t!r} waits for all its incoming edges (activation: all), but {edges[i].from_!r} only "
            f"runs after {t!r}, so {t!r} can never start: give it activation: any",
            "edges",
            i,
        )
    for t in names:
        into = [i for i, e in enumerate(edges) if e.to == t]
        if nodes.get(t, GraphNode()).activation == "all" and t not in starts and len(into) > 1:
            _exclusive_branches(t, into, starts, edges)


def _check_output_condition(
    c: OutputIs, source: str, schema: dict[str, Any], at: tuple[str | int, ...]
) -> None:
    """An `output:` condition names fields of its source agent's output schema, with values they can take."""
    model = output_model(schema, "Output")
    for key, value in c.output.items():
        why = check_output_value(model, key, value)
        if why is not None:
            raise _fail(f"{source!r} answers under its output_schema, and {why}", *at, "output", key)


def _runnable(
    names: Sequence[str],
    edges: Sequence[Edge],
    starts: Sequence[str],
    nodes: dict[str, GraphNode],
    *,
    without: str = "",
) -> set[str]:
    """The nodes that can ever run: entries, then (to a fixed point) a node once one of its sources can
    (activation: any) or all of them can (activation: all)."""
    done = {s for s in starts if s != without}
    grew = True
    while grew:
        grew = False
        for n in names:
            srcs = [e.from_ for e in edges if e.to == n]
            if n in done or n == without or not srcs:
                continue
            ok = all if nodes.get(n, GraphNode()).activation == "all" else any
            if ok(s in done for s in srcs):
                done.add(n)
                grew = True
    return done


def _exclusive_branches(t: str, into: list[int], starts: list[str], edges: Sequence[Edge]) -> None:
    """Refuse a fan-in (activation: all) over branches of one choice: only one of them ever runs."""
    for n in {e.from_ for e in edges if e.when is not None}:
        out = [i for i, e in enumerate(edges) if e.from_ == n]
        defaults = {i for i in out if edges[i].when is None}
        choices = {i for i in out if edges[i].when is not None}
        if not defaults:
            continue
        everything = _reach(starts, edges)
        only_default = everything - _reach(starts, edges, skip=defaults)
        only_chosen = everything - _reach(starts, edges, skip=choices)
        srcs = {edges[i].from_ for i in into}
        if srcs & only_default and srcs & only_chosen and t not in only_default | only_chosen:
            a = next(i for i in into if edges[i].from_ in only_default)
            raise _fail(
                f"{t!r} waits for all its incoming edges (activation: all), but {edges[a].from_!r} runs only "
                f"on {n!r}'s default branch and another of them only when a condition of {n!r} holds, so "
                f"{t!r} can never start: give it activation: any",
                "edges",
                a,
            )
