"""Typed transcript entries and the run result: what the console, the JSONL file, expectations and
replay all read. `runtime._transcript` turns AutoGen's messages into these as they stream; `_tape` adds the
records a tape holds beside them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field

from ..scenario._base import Frozen

__all__ = [
    "ENTRY_TYPES",
    "Chunk",
    "Entry",
    "Event",
    "Handoff",
    "McpEvent",
    "Route",
    "RouteHop",
    "RunResult",
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
    what: Literal["progress", "log", "elicitation", "sampling", "roots"]
    content: str
    tool: str | None = None
    call_id: str | None = Field(None, description="The model's tool call it belongs to, when known.")
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
    Text | Thought | ToolCall | ToolResult | Handoff | Event | McpEvent | Route, Discriminator("kind")
]
ENTRY_TYPES = (Text, Thought, ToolCall, ToolResult, Handoff, Event, McpEvent, Route)
"""The classes of `Entry`, for isinstance."""


class RunResult(Frozen):
    """What a run produced. `model_dump_json()` is also the last line of the JSONL transcript."""

    scenario: str
    task: str
    stop_reason: str
    stopped_by: Literal["rule", "limit", "error", "interrupted"]
    transcript: tuple[Entry, ...]
    usage: Usage
    duration_s: float
    transcript_path: Path | None = None
    log_path: Path | None = Field(None, description="The engine libraries' log, when the run wrote one.")
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.stopped_by in ("rule", "limit")

    @property
    def messages(self) -> tuple[Text | Handoff, ...]:
        """The chat messages (task and answers), without tool calls and events."""
        return tuple(e for e in self.transcript if isinstance(e, Text | Handoff))

    @property
    def path(self) -> tuple[str, ...]:
        """The nodes a graph team started, in order (empty for other teams)."""
        return tuple(e.node for e in self.transcript if isinstance(e, Route))

    @property
    def final_message(self) -> str:
        msgs = self.messages
        return msgs[-1].content if msgs else ""
