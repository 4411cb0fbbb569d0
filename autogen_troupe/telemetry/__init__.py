"""Traces and metrics in OpenTelemetry's GenAI semantic conventions, off unless the application asks.

It sits low in the rooms (it imports only `errors`), because the model clients (trace context for the
server), the runner (run, agent, model and tool spans) and the command line (`--trace`) all use it.
Spans and instruments come from the application's global providers; only `start_session`, which the
command line calls for `--trace`, installs any. Importing this room imports no OpenTelemetry code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._conventions import SEMCONV_VERSION
    from ._facts import ChatFacts, ToolFacts
    from ._propagation import trace_headers
    from ._setup import Session, start_session, wanted
    from ._spans import AgentTurn, ChatCall, RunTelemetry, ToolCall
    from ._state import (
        Clock,
        capture_content,
        current_run,
        enabled,
        in_tool_call,
        note_replayed,
        note_response,
    )

__all__ = [
    "SEMCONV_VERSION",
    "AgentTurn",
    "ChatCall",
    "ChatFacts",
    "Clock",
    "RunTelemetry",
    "Session",
    "ToolCall",
    "ToolFacts",
    "capture_content",
    "current_run",
    "enabled",
    "in_tool_call",
    "note_replayed",
    "note_response",
    "start_session",
    "trace_headers",
    "wanted",
]

_WHERE = {
    "SEMCONV_VERSION": "._conventions",
    "AgentTurn": "._spans",
    "ChatCall": "._spans",
    "ChatFacts": "._facts",
    "Clock": "._state",
    "RunTelemetry": "._spans",
    "Session": "._setup",
    "ToolCall": "._spans",
    "ToolFacts": "._facts",
    "capture_content": "._state",
    "current_run": "._state",
    "enabled": "._state",
    "in_tool_call": "._state",
    "note_replayed": "._state",
    "note_response": "._state",
    "start_session": "._setup",
    "trace_headers": "._propagation",
    "wanted": "._setup",
}
__getattr__ = lazy_exports(__name__, _WHERE)
