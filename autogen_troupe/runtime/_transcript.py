"""AutoGen's chat messages and events as transcript entries (the typed entries live in the tape room)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ..tapes._records import (
    Chunk,
    Entry,
    Event,
    Handoff,
    McpEvent,
    Route,
    RouteHop,
    RunResult,
    StopReason,
    Text,
    Thought,
    ToolCall,
    ToolCallItem,
    ToolResult,
    ToolResultItem,
    Usage,
)
from ..tapes._tape import TapeWriter as TranscriptWriter

__all__ = [
    "Chunk",
    "Entry",
    "Event",
    "Handoff",
    "McpEvent",
    "Route",
    "RouteHop",
    "RunResult",
    "StopReason",
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
    if isinstance(msg, m.StructuredMessage) and isinstance(msg.content, BaseModel):
        answer: BaseModel = msg.content
        data = answer.model_dump(mode="json")
        return Text(type=type(msg).__name__, content=answer.model_dump_json(), structured=data, **common)
    if isinstance(msg, m.BaseChatMessage):
        return Text(
            type=type(msg).__name__, content=_text(msg.content if hasattr(msg, "content") else msg), **common
        )
    content = msg.content if hasattr(msg, "content") else ""
    return Event(type=type(msg).__name__, content=_text(content), **common)
