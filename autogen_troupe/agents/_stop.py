"""Which termination condition stopped a team, known as it fires instead of read back from AutoGen's text.

Every condition built from the scenario's rules and caps is wrapped with `named(condition, NAME, kind=)`:
NAME is a stable name (`text_mention`, `max_messages`, `timeout`, `token_usage`, `handoff`,
`source_match`), `kind` says whether it is the scenario's own rule (`rule`) or a cap (`limit`).
`assemble_team` wraps the team's whole condition once in a `StopWatch`. While the watch checks a message it
is the current one (a context variable, which AutoGen's `any`/`all` combinators carry into the tasks they
check their parts in), so each named condition that fires below it reports to it; when the whole condition
stops the team, the watch keeps what fired (`StopWatch.stop`), which AutoGen's reset right after does not
clear. The runner turns that into the run's typed `StopReason`.

A new condition built anywhere in agents/ (a guard: a repeated tool call, a tool-call cap, an engine-time
cap) gets its stable name the same way, where it is built:

    named(RepeatedToolCall(...), "repeated_tool_call", kind="limit")

and then joins the team's condition as any other (OR-ed in `assemble_team`, or through
`limit_conditions`). The name is what `RunResult.stop.condition` says and what callers test: keep it
stable. A condition left unnamed still stops the run as before, with no name.
A team that stops without any condition firing (AutoGen's `max_turns`, a graph with no agent left to run)
is told apart by the runner from the team's shape; a graph says so itself (`StopWatch.ended`), as may any
part of agents/ that ends a team other than by a condition (`watch_of(team).ended(NAME, text, kind=)`).

AutoGen's behaviour is unchanged: a wrapper returns the inner condition's StopMessage as it is, and its
`terminated` and `reset` are the inner condition's.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

from autogen_agentchat.base import TerminationCondition
from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, StopMessage
from autogen_core import Component, ComponentModel
from pydantic import BaseModel

from .._autogen import instance_attribute

__all__ = ["Fired", "NamedCondition", "StopKind", "StopWatch", "Stopped", "named", "watch_of"]

StopKind = Literal["rule", "limit"]
"""A scenario's own rule, or a cap (the scenario's `limits`, a guard)."""


@dataclass(frozen=True)
class Fired:
    """One named condition that fired: its stable name, its kind and AutoGen's text for it."""

    name: str
    kind: StopKind
    text: str


@dataclass(frozen=True)
class Stopped:
    """What stopped a team: the named conditions that fired for the stop (an `all` rule: several, in the
    order they fired), those of the last check first in `last`, and AutoGen's whole stop text."""

    fired: tuple[Fired, ...]
    last: tuple[Fired, ...]
    text: str

    @property
    def kind(self) -> StopKind:
        """`rule` when the scenario's own rule fired on the last message (also when a cap fired with it),
        else `limit` when a cap did; a stop with no named condition is the team's own (`rule`)."""
        kinds = {f.kind for f in self.last}
        return "limit" if kinds == {"limit"} else "rule"

    @property
    def condition(self) -> str | None:
        """The stable name of what stopped the team: the first condition of the winning kind."""
        return next((f.name for f in self.last if f.kind == self.kind), None)


_WATCH: ContextVar[StopWatch | None] = ContextVar("troupe_stop_watch", default=None)


class _NamedConfig(BaseModel):
    name: str
    kind: StopKind
    condition: ComponentModel


class NamedCondition(TerminationCondition, Component[_NamedConfig]):
    """A condition with a stable name: it reports to the current `StopWatch` when it fires."""

    component_config_schema = _NamedConfig
    component_type = "termination"
    component_provider_override = "autogen_troupe.agents.NamedCondition"

    def __init__(self, condition: TerminationCondition, name: str, kind: StopKind = "rule") -> None:
        self.condition, self.name, self.kind = condition, name, kind

    @property
    def terminated(self) -> bool:
        return self.condition.terminated

    async def __call__(self, messages: Sequence[BaseAgentEvent | BaseChatMessage]) -> StopMessage | None:
        stop = await self.condition(messages)
        watch = _WATCH.get()
        if stop is not None and watch is not None:
            watch.fired(Fired(self.name, self.kind, stop.content))
        return stop

    async def reset(self) -> None:
        await self.condition.reset()

    def _to_config(self) -> _NamedConfig:
        return _NamedConfig(name=self.name, kind=self.kind, condition=self.condition.dump_component())

    @classmethod
    def _from_config(cls, config: _NamedConfig) -> NamedCondition:
        return cls(TerminationCondition.load_component(config.condition), config.name, config.kind)


def named(condition: TerminationCondition, name: str, *, kind: StopKind = "rule") -> NamedCondition:
    """`condition` with a stable name, so a run it stops says which one it was (see the module's doc)."""
    return NamedCondition(condition, name, kind)


class _WatchConfig(BaseModel):
    condition: ComponentModel


class StopWatch(TerminationCondition, Component[_WatchConfig]):
    """A team's whole condition, noting which named conditions below it fired for the stop."""

    component_config_schema = _WatchConfig
    component_type = "termination"
    component_provider_override = "autogen_troupe.agents.StopWatch"

    def __init__(self, condition: TerminationCondition) -> None:
        self.condition = condition
        self.stop: Stopped | None = None  # the last stop, kept through AutoGen's reset
        self._since_reset: list[Fired] = []  # an `all` rule's parts fire over several messages
        self._this_check: list[Fired] = []

    @property
    def terminated(self) -> bool:
        return self.condition.terminated

    def fired(self, what: Fired) -> None:
        """A named condition below fired (called by it, through the context variable)."""
        self._since_reset.append(what)
        self._this_check.append(what)

    def ended(self, name: str, text: str, kind: StopKind = "rule") -> None:
        """The team stopped on its own, with no condition (a graph with no agent left to run)."""
        what = Fired(name, kind, text)
        self.stop = Stopped(fired=(what,), last=(what,), text=text)

    async def __call__(self, messages: Sequence[BaseAgentEvent | BaseChatMessage]) -> StopMessage | None:
        self._this_check = []
        token = _WATCH.set(self)
        try:
            stop = await self.condition(messages)
        finally:
            _WATCH.reset(token)
        if stop is not None:
            self.stop = Stopped(
                fired=tuple(self._since_reset), last=tuple(self._this_check), text=stop.content
            )
        return stop

    async def reset(self) -> None:
        self._since_reset.clear()
        await self.condition.reset()

    def _to_config(self) -> _WatchConfig:
        return _WatchConfig(condition=self.condition.dump_component())

    @classmethod
    def _from_config(cls, config: _WatchConfig) -> StopWatch:
        return cls(TerminationCondition.load_component(config.condition))


def watch_of(team: Any) -> StopWatch | None:
    """The StopWatch `assemble_team` gave `team` as its condition (None for a team built otherwise).
    AutoGen 0.7 keeps a team's condition in a private attribute, hence the careful lookup."""
    watch = instance_attribute(team, "_termination_condition")
    return watch if isinstance(watch, StopWatch) else None
