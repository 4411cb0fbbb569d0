"""Typed transcript entries and the run result; the JSONL transcript writer.

AutoGen's message and event objects are turned into these frozen models as they stream, so the console,
the JSONL file, expectations and replay all read one shape.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Field

from .._redact import redact_data
from ..scenario._base import Frozen

__all__ = [
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
    "TranscriptWriter",
    "Usage",
    "entry_from_autogen",
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


class Chunk(_Entry):
    """A streamed piece of a message; shown live, never stored (the full message follows)."""

    kind: Literal["chunk"] = "chunk"
    content: str


Entry = Annotated[
    Text | Thought | ToolCall | ToolResult | Handoff | Event | McpEvent | Route, Discriminator("kind")
]


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


def _usage(msg: Any) -> Usage | None:
    u = getattr(msg, "models_usage", None)
    return Usage(prompt_tokens=u.prompt_tokens, completion_tokens=u.completion_tokens) if u else None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(c if isinstance(c, str) else f"<{type(c).__name__}>" for c in content)
    if isinstance(content, BaseModel):
        return content.model_dump_json()
    return str(content)


def entry_from_autogen(msg: Any, elapsed_s: float) -> Entry | Chunk:
    """One AutoGen chat message or event as a transcript entry."""
    from autogen_agentchat import messages as m

    common = {"source": msg.source, "elapsed_s": round(elapsed_s, 3), "usage": _usage(msg)}
    if isinstance(msg, m.ModelClientStreamingChunkEvent):
        return Chunk(content=msg.content, **common)
    if isinstance(msg, m.ThoughtEvent):
        return Thought(content=msg.content, **common)
    if isinstance(msg, m.ToolCallRequestEvent):
        calls = tuple(ToolCallItem(id=c.id, name=c.name, arguments=c.arguments) for c in msg.content)
        return ToolCall(calls=calls, **common)
    if isinstance(msg, m.ToolCallExecutionEvent):
        results = tuple(
            ToolResultItem(call_id=r.call_id, name=r.name, content=r.content, is_error=bool(r.is_error))
            for r in msg.content
        )
        return ToolResult(results=results, **common)
    from ..agents._graph_flow import GraphRouteEvent

    if isinstance(msg, GraphRouteEvent):
        return Route(node=msg.node, via=tuple(RouteHop(**h) for h in msg.via), **common)
    if isinstance(msg, m.HandoffMessage):
        return Handoff(target=msg.target, content=msg.content, **common)
    if isinstance(msg, m.BaseChatMessage):
        return Text(
            type=type(msg).__name__, content=_text(msg.content if hasattr(msg, "content") else msg), **common
        )
    content = msg.content if hasattr(msg, "content") else ""
    return Event(type=type(msg).__name__, content=_text(content), **common)


class TranscriptWriter:
    """Appends one JSON object per line and flushes each, so an interrupted run keeps what it had.

    Every record is redacted first: no credential reaches the file, whoever wrote it into a message.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] | None = path.open("w", encoding="utf-8")

    def write(self, record: dict[str, Any] | BaseModel) -> None:
        if self._fh is None:
            return
        data = record.model_dump(mode="json") if isinstance(record, BaseModel) else record
        line = json.dumps(redact_data(data), default=str)
        self._fh.write(line + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
