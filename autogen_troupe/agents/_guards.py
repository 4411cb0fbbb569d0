"""Guards as AutoGen termination conditions: loop breakers (the same tool call again and again, an agent
saying the same thing again) and budgets (tool calls, per tool, engine time, tokens).

Each has a stable `name` (`repeated_tool_call`, `repeated_message`, `max_tool_calls`,
`max_tool_calls_per_tool`, `max_engine_seconds`, `max_total_tokens`): its stop message starts with it, and
when it fires it tells the run's listener (`reporting_guards`), which writes a `guard` entry into the
transcript. "Near-identical" is defined in `similarity`.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import json
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from autogen_agentchat.base import TerminatedException, TerminationCondition
from autogen_agentchat.conditions import TokenUsageTermination
from autogen_agentchat.messages import (
    BaseAgentEvent,
    BaseChatMessage,
    HandoffMessage,
    StopMessage,
    ToolCallRequestEvent,
    ToolCallSummaryMessage,
)

from ..scenario._guards import Limits

__all__ = [
    "EngineTimeBudget",
    "GuardFired",
    "RepeatedMessageGuard",
    "RepeatedToolCallGuard",
    "TokenBudget",
    "ToolCallBudget",
    "limit_guards",
    "normalise_text",
    "reporting_guards",
    "similarity",
]

Messages = Sequence[BaseAgentEvent | BaseChatMessage]


@dataclass(frozen=True)
class GuardFired:
    """A guard that stopped the run: its stable name, the stop text, details, and whether it was one of
    the run's `limits` (else a termination rule of the scenario)."""

    name: str
    text: str
    data: Mapping[str, Any] = field(default_factory=dict)
    limit: bool = False


_SINK: contextvars.ContextVar[Callable[[GuardFired], None] | None] = contextvars.ContextVar(
    "troupe_guard_sink", default=None
)


@contextlib.contextmanager
def reporting_guards(sink: Callable[[GuardFired], None]) -> Iterator[None]:
    """Guards that fire inside the block (in the team's tasks, which inherit the context) tell `sink`."""
    token = _SINK.set(sink)
    try:
        yield
    finally:
        _SINK.reset(token)


class _Guard(TerminationCondition):
    """A condition that stops once, reports itself and resets with the team."""

    name = "guard"

    def __init__(self, *, limit: bool = False) -> None:
        self._limit = limit
        self._terminated = False

    @property
    def terminated(self) -> bool:
        return self._terminated

    def _stop(self, text: str, **data: Any) -> StopMessage:
        self._terminated = True
        sink = _SINK.get()
        if sink is not None:
            sink(GuardFired(self.name, text, data, self._limit))
        return StopMessage(content=text, source=self.name)

    async def __call__(self, messages: Messages) -> StopMessage | None:
        if self._terminated:
            raise TerminatedException("Termination condition has already been reached")
        return self._check(messages)

    def _check(self, messages: Messages) -> StopMessage | None:
        raise NotImplementedError

    async def reset(self) -> None:
        self._terminated = False


def _calls(messages: Messages) -> Iterator[tuple[str, str]]:
    """(tool name, arguments as canonical JSON text) of every tool call requested in `messages`."""
    for m in messages:
        if isinstance(m, ToolCallRequestEvent):
            for c in m.content:
                yield c.name, _canonical_arguments(c.arguments)


def _canonical_arguments(text: str) -> str:
    """Arguments with key order and spacing set aside (`{"a":1, "b":2}` is `{"b": 2, "a": 1}`)."""
    try:
        return json.dumps(json.loads(text), sort_keys=True, ensure_ascii=False)
    except (ValueError, TypeError):
        return text.strip()


class RepeatedToolCallGuard(_Guard):
    """Stops once the same tool is called with the same arguments `times` times in a row. The run's tool
    calls are one sequence, whoever makes them: another call (or the same tool with other arguments)
    starts the count again; results and messages between calls do not."""

    name = "repeated_tool_call"

    def __init__(self, times: int, *, limit: bool = False) -> None:
        super().__init__(limit=limit)
        self._times = times
        self._last: tuple[str, str] | None = None
        self._count = 0

    def _check(self, messages: Messages) -> StopMessage | None:
        for call in _calls(messages):
            self._count = self._count + 1 if call == self._last else 1
            self._last = call
            if self._count >= self._times:
                name, args = call
                return self._stop(
                    f"repeated_tool_call: {name} was called {self._count} times in a row with the same "
                    f"arguments {args[:200]}",
                    tool=name,
                    arguments=args,
                    times=self._count,
                )
        return None

    async def reset(self) -> None:
        await super().reset()
        self._last, self._count = None, 0


_PUNCTUATION = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """A message as compared for repetition: Unicode NFKC, case folded, punctuation dropped, runs of
    spaces made one."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACES.sub(" ", _PUNCTUATION.sub(" ", text)).strip()


def similarity(a: str, b: str) -> float:
    """How alike two messages are, 0 to 1: difflib's `SequenceMatcher.ratio()` of their normalised
    texts (twice the matching characters / both lengths; 1.0: equal once normalised)."""
    x, y = normalise_text(a), normalise_text(b)
    if x == y:
        return 1.0
    matcher = difflib.SequenceMatcher(None, x, y, autojunk=False)
    return matcher.ratio() if matcher.real_quick_ratio() > 0 else 0.0


class RepeatedMessageGuard(_Guard):
    """Stops once one agent's chat messages are near-identical `times` times in a row: each of its
    messages compared with its own previous one (others may speak between). The task (`user`), tool-call
    summaries and handoffs do not count."""

    name = "repeated_message"

    def __init__(self, times: int, threshold: float, *, limit: bool = False) -> None:
        super().__init__(limit=limit)
        self._times = times
        self._threshold = threshold
        self._last: dict[str, tuple[str, int]] = {}  # source -> (its last text, repeats in a row)

    def _check(self, messages: Messages) -> StopMessage | None:
        for m in messages:
            if (
                not isinstance(m, BaseChatMessage)
                or isinstance(m, ToolCallSummaryMessage | HandoffMessage | StopMessage)
                or m.source == "user"
            ):
                continue
            text = m.to_model_text()
            previous = self._last.get(m.source)
            count = 1
            if previous is not None and similarity(previous[0], text) >= self._threshold:
                count = previous[1] + 1
            self._last[m.source] = (text, count)
            if count >= self._times:
                return self._stop(
                    f"repeated_message: {m.source} said nearly the same thing {count} times in a row "
                    f"(similarity at least {self._threshold:g})",
                    agent=m.source,
                    times=count,
                    similarity=self._threshold,
                )
        return None

    async def reset(self) -> None:
        await super().reset()
        self._last = {}


class ToolCallBudget(_Guard):
    """Stops once the run's tool calls reach `most` (all tools, or only `tool` when given). Calls are
    counted as the models request them; the calls of the turn that reaches the cap are still made."""

    def __init__(self, most: int, *, tool: str | None = None, limit: bool = False) -> None:
        super().__init__(limit=limit)
        self.name = "max_tool_calls" if tool is None else "max_tool_calls_per_tool"
        self._most = most
        self._tool = tool
        self._count = 0

    def _check(self, messages: Messages) -> StopMessage | None:
        self._count += sum(1 for name, _ in _calls(messages) if self._tool is None or name == self._tool)
        if self._count < self._most:
            return None
        if self._tool is None:
            return self._stop(
                f"max_tool_calls: {self._count} tool calls made (cap {self._most})", calls=self._count
            )
        return self._stop(
            f"max_tool_calls_per_tool: {self._tool} called {self._count} times (cap {self._most})",
            tool=self._tool,
            calls=self._count,
        )

    async def reset(self) -> None:
        await super().reset()
        self._count = 0


class EngineTimeBudget(_Guard):
    """Stops once the run's requests spent `most_s` seconds in the in-process engine (checked as messages
    arrive, like the message cap; see `models._engine_time`)."""

    name = "max_engine_seconds"

    def __init__(self, most_s: float, *, limit: bool = False) -> None:
        super().__init__(limit=limit)
        self._most_s = most_s

    def _check(self, messages: Messages) -> StopMessage | None:
        from ..models._engine_time import current_meter

        meter = current_meter()
        used = meter.seconds if meter is not None else 0.0
        if used < self._most_s:
            return None
        return self._stop(
            f"max_engine_seconds: the engine spent {used:.2f} s on this run (cap {self._most_s:g} s)",
            engine_s=round(used, 3),
        )


class TokenBudget(TokenUsageTermination):
    """AutoGen's token cap under a stable name, reporting itself when it fires (`limits.max_total_tokens`)."""

    name = "max_total_tokens"

    def __init__(self, most: int, *, limit: bool = False) -> None:
        super().__init__(max_total_token=most)
        self._limit = limit

    async def __call__(self, messages: Messages) -> StopMessage | None:
        stop = await super().__call__(messages)
        if stop is None:
            return None
        text = f"max_total_tokens: {stop.content}"
        sink = _SINK.get()
        if sink is not None:
            sink(GuardFired(self.name, text, {"tokens": self._total_token_count}, self._limit))
        return StopMessage(content=text, source=self.name)


def limit_guards(limits: Limits) -> list[_Guard | TokenBudget]:
    """The guards a run's `limits` set: the loop breakers (on by default) and the budgets given, each with
    its stable `name` (what the typed stop reason says, see `_stop`)."""
    guards: list[_Guard | TokenBudget] = []
    if limits.repeated_tool_call is not None:
        guards.append(RepeatedToolCallGuard(limits.repeated_tool_call, limit=True))
    if limits.repeated_message is not None:
        r = limits.repeated_message
        guards.append(RepeatedMessageGuard(r.times, r.similarity, limit=True))
    if limits.max_tool_calls is not None:
        guards.append(ToolCallBudget(limits.max_tool_calls, limit=True))
    for tool, most in limits.max_tool_calls_per_tool.items():
        guards.append(ToolCallBudget(most, tool=tool, limit=True))
    if limits.max_engine_seconds is not None:
        guards.append(EngineTimeBudget(limits.max_engine_seconds, limit=True))
    if limits.max_total_tokens is not None:
        guards.append(TokenBudget(limits.max_total_tokens, limit=True))
    return guards
