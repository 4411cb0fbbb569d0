"""Typed transcript entries and the run result: what the console, the JSONL file, expectations and
replay all read. `runtime._transcript` turns AutoGen's messages into these as they stream; `_tape` adds the
records a tape holds beside them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, computed_field, model_validator

from ..scenario._base import Frozen

__all__ = [
    "ENTRY_TYPES",
    "Chunk",
    "Entry",
    "Event",
    "Guard",
    "Handoff",
    "McpEvent",
    "Route",
    "RouteHop",
    "RunResult",
    "StopFields",
    "StopKind",
    "StopReason",
    "Text",
    "Thought",
    "ToolCall",
    "ToolCallItem",
    "ToolResult",
    "ToolResultItem",
    "Usage",
]


class Usage(Frozen):
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class _Entry(Frozen):
    source: str
    elapsed_s: float = Field(description="Seconds since the run started.")
    usage: Usage | None = None


class Text(_Entry):
    """A chat message: the task, an agent's answer, a tool-call summary."""

    kind: Literal["text"] = "text"
    type: str = "TextMessage"
    content: str
    structured: dict[str, Any] | None = Field(
        None, description="A structured answer (the agent's output_schema) as JSON; `content` is its text."
    )


class Thought(_Entry):
    kind: Literal["thought"] = "thought"
    content: str


class ToolCallItem(Frozen):
    id: str
    name: str
    arguments: str


class ToolCall(_Entry):
    kind: Literal["tool_call"] = "tool_call"
    calls: tuple[ToolCallItem, ...]


class ToolResultItem(Frozen):
    call_id: str
    name: str
    content: str
    is_error: bool = False


class ToolResult(_Entry):
    kind: Literal["tool_result"] = "tool_result"
    results: tuple[ToolResultItem, ...]


class Handoff(_Entry):
    kind: Literal["handoff"] = "handoff"
    target: str
    content: str


class Event(_Entry):
    """Anything else the team emits (speaker selection, memory queries...), kept for the record."""

    kind: Literal["event"] = "event"
    type: str
    content: str


class McpEvent(_Entry):
    """Something an MCP server asked or said during a run: a question and its answer (elicitation), a text
    our model wrote for it (sampling, with its usage), roots listed, progress, a log line. `source` is the
    agent whose tool call it belongs to, or `mcp:SERVER`."""

    kind: Literal["mcp"] = "mcp"
    server: str
    what: Literal["progress", "log", "elicitation", "sampling", "roots", "approval"]
    content: str
    tool: str | None = None
    call_id: str | None = Field(None, description="The model's tool call it belongs to, when known.")
    data: dict[str, Any] = Field(default_factory=dict)


class Guard(_Entry):
    """A guard that stopped the run: a loop breaker or a budget (`guard` is its stable name, e.g.
    `repeated_tool_call`, `max_tool_calls_per_tool`), from the scenario's rules or its `limits`."""

    kind: Literal["guard"] = "guard"
    guard: str
    content: str
    limit: bool = Field(False, description="One of the run's `limits` (else a termination rule).")
    data: dict[str, Any] = Field(default_factory=dict)


class Chunk(_Entry):
    """A streamed piece of a message; shown live, never stored (the full message follows)."""

    kind: Literal["chunk"] = "chunk"
    content: str


class RouteHop(Frozen):
    """An edge of a graph team that fired: its number in `team.edges`, where from, and why."""

    edge: int
    from_node: str
    why: str


class Route(_Entry):
    """A node of a graph team starts; `via` are the edges that led to it (empty: an entry node)."""

    kind: Literal["route"] = "route"
    node: str
    via: tuple[RouteHop, ...] = ()


Entry = Annotated[
    Text | Thought | ToolCall | ToolResult | Handoff | Event | McpEvent | Route | Guard, Discriminator("kind")
]
ENTRY_TYPES = (Text, Thought, ToolCall, ToolResult, Handoff, Event, McpEvent, Route, Guard)
"""The classes of `Entry`, for isinstance."""


StopKind = Literal["rule", "limit", "error", "interrupted"]
"""How a run ended: its scenario's rule, a cap, an error, or an interruption (Ctrl-C, a stop, a restart)."""


class StopReason(Frozen):
    """Why a run stopped, decided where the termination conditions are built (agents/_stop.py), never read
    back from AutoGen's stop text. `condition` is the stable name of what fired: a rule's or a cap's
    (`text_mention`, `max_messages`, `timeout`, `token_usage`, `handoff`, `source_match`, `max_turns`,
    `graph_done`, a guard's own); None for an error, an interruption, or a transcript older than it."""

    kind: StopKind
    condition: str | None = None
    fired: tuple[str, ...] = Field(
        (), description="Every named condition that fired for the stop (an `all` rule: several)."
    )
    text: str = Field("", description="The human text: AutoGen's stop message, or the error.")


def _stop_from_text(data: Any) -> Any:
    """A record written before `stop` existed (or built with `stop_reason=`/`stopped_by=`): its `stop` from
    those two; with `stop` given, the two (written beside it for readers of the JSON) are dropped."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    reason, by = data.pop("stop_reason", None), data.pop("stopped_by", None)
    if data.get("stop") is None and by is not None:
        data["stop"] = {"kind": by, "text": reason or ""}
    return data


class StopFields(Frozen):
    """The typed stop of a result, and its text and kind as the plain fields JSON readers know."""

    stop: StopReason

    @model_validator(mode="before")
    @classmethod
    def _old_fields(cls, data: Any) -> Any:
        return _stop_from_text(data)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def stop_reason(self) -> str:
        """The human text of why the run stopped (`stop.text`)."""
        return self.stop.text

    @computed_field  # type: ignore[prop-decorator]
    @property
    def stopped_by(self) -> StopKind:
        """How the run ended (`stop.kind`)."""
        return self.stop.kind


class RunResult(StopFields):
    """What a run produced. `model_dump_json()` is also the last line of the JSONL transcript."""

    scenario: str
    task: str
    transcript: tuple[Entry, ...]
    usage: Usage
    duration_s: float
    transcript_path: Path | None = None
    log_path: Path | None = Field(None, description="The engine libraries' log, when the run wrote one.")
    error: str | None = None
    engine_s: float | None = Field(
        None, description="Seconds the in-process engine spent on the run's requests (None: no engine used)."
    )

    @property
    def ok(self) -> bool:
        return self.stopped_by in ("rule", "limit")

    @property
    def messages(self) -> tuple[Text | Handoff, ...]:
        """The chat messages (task and answers), without tool calls and events."""
        return tuple(e for e in self.transcript if isinstance(e, Text | Handoff))

    @property
    def guards(self) -> tuple[str, ...]:
        """The names of the guards that fired, in order."""
        return tuple(e.guard for e in self.transcript if isinstance(e, Guard))

    @property
    def path(self) -> tuple[str, ...]:
        """The nodes a graph team started, in order (empty for other teams)."""
        return tuple(e.node for e in self.transcript if isinstance(e, Route))

    @property
    def final_message(self) -> str:
        msgs = self.messages
        return msgs[-1].content if msgs else ""
