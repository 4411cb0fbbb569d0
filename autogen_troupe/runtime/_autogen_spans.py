"""AutoGen 0.7's own spans, inside a traced troupe run: its agent turns become ours, the rest goes.

AutoGen 0.7.5 traces on its own through the global tracer provider: `create_agent` and `invoke_agent`
spans of kind CLIENT with the retired `gen_ai.system`, `execute_tool` spans, and about twenty messaging
spans per agent turn from its agent runtime (`autogen publish ...`, `autogen process ...`). Beside ours they
would be duplicates or noise, so inside a troupe run with telemetry on:

- the group chat's `trace_invoke_agent_span` (around one agent's turn) makes our `invoke_agent` span
  instead (INTERNAL, `gen_ai.provider.name`, the conventions' attributes);
- `trace_tool_span` adds nothing where our `execute_tool` span is already open, and elsewhere (a swarm's
  handoff tools) makes ours;
- `trace_create_agent_span` and the runtime's messaging spans add nothing, and its messages carry no
  trace context for them.

Outside a troupe run (or with telemetry off) each helper is AutoGen's own, unchanged. The helpers are
module-level names imported by name into AutoGen's modules, so they are replaced there, once per process,
when the first traced run starts (`install`).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

from opentelemetry import trace

from .._autogen import PRIVATE_NAMES, AutoGenMoved, private
from .._redact import redact_text
from ..telemetry._facts import ToolFacts
from ..telemetry._spans import AgentTurn, RunTelemetry, ToolCall
from ..telemetry._state import current_run, in_tool_call

__all__ = ["install"]

log = logging.getLogger(__name__)

# Each helper AutoGen 0.7.5 calls (its key in _autogen.PRIVATE_NAMES), and what we put in its place.
_INVOKE = "invoke"
_TOOL = "tool"
_QUIET = "quiet"
_HELPERS = (
    ("trace_invoke_agent_span@container", _INVOKE),
    ("trace_invoke_agent_span@agent", _INVOKE),
    ("trace_create_agent_span@agent", _QUIET),
    ("trace_tool_span@tools", _TOOL),
)


def _safe(run: RunTelemetry, text: str | None) -> str | None:
    """`text` (a description, met at every turn) with secrets masked, worked out once per run."""
    if not text:
        return None
    safe = run.safe_text.get(text)
    if safe is None:
        safe = run.safe_text[text] = redact_text(text)
    return safe


def _invoke(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    @contextlib.contextmanager
    def invoke_agent(agent_name: str, *args: Any, **kw: Any) -> Iterator[Any]:
        run = current_run()
        if run is None:
            with original(agent_name, *args, **kw) as span:
                yield span
            return
        turn = AgentTurn(run, agent_name, kw.get("agent_id"), _safe(run, kw.get("agent_description")))
        with turn.current() as span:
            yield span

    return invoke_agent


def _tool(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    @contextlib.contextmanager
    def execute_tool(tool_name: str, *args: Any, **kw: Any) -> Iterator[Any]:
        run = current_run()
        if run is None:
            with original(tool_name, *args, **kw) as span:
                yield span
            return
        if in_tool_call():  # our span of this call is open already
            yield trace.get_current_span()
            return
        description = _safe(run, kw.get("tool_description"))
        call = ToolCall(run, tool_name, kw.get("tool_call_id"), ToolFacts(), description)
        try:
            with call.attached():
                yield call.span
        except BaseException as e:
            call.finish(error_type="tool_error", error_message=redact_text(f"{type(e).__name__}: {e}")[:500])
            raise
        call.finish()

    return execute_tool


def _nothing() -> contextlib.AbstractContextManager[Any]:
    """A context manager that makes no span (the callers do not use what it yields)."""
    from opentelemetry.trace import INVALID_SPAN

    return contextlib.nullcontext(INVALID_SPAN)


def _quiet(original: Callable[..., Any]) -> Callable[..., Any]:
    nothing = _nothing()

    @functools.wraps(original)
    def no_span(*args: Any, **kw: Any) -> contextlib.AbstractContextManager[Any]:
        return nothing if current_run() is not None else original(*args, **kw)

    return no_span


def _quiet_runtime() -> None:
    """The agent runtime's messaging spans (`autogen publish ...`), the attributes it builds for them (each
    message serialized to JSON) and the trace context it puts in every message envelope for them: none
    inside a troupe run (about twenty per agent turn)."""
    runtime = private("single_threaded_agent_runtime")
    EnvelopeMetadata = private("EnvelopeMetadata")
    TraceHelper = private("TraceHelper")

    original = private("TraceHelper.trace_block")
    if getattr(original, "__troupe__", False):
        return
    nothing = _nothing()

    @functools.wraps(original)
    def trace_block(self: Any, *args: Any, **kw: Any) -> contextlib.AbstractContextManager[Any]:
        return nothing if current_run() is not None else original(self, *args, **kw)

    envelope = private("get_telemetry_envelope_metadata")

    @functools.wraps(envelope)
    def envelope_metadata() -> Any:
        return EnvelopeMetadata() if current_run() is not None else envelope()

    agent_runtime = runtime.SingleThreadedAgentRuntime
    message_attributes = private("SingleThreadedAgentRuntime._create_otel_attributes")

    @functools.wraps(message_attributes)
    async def otel_attributes(self: Any, *args: Any, **kw: Any) -> Any:
        # Awaited for the attributes of every `process`/`ack` span, whether or not a span is made.
        return {} if current_run() is not None else await message_attributes(self, *args, **kw)

    trace_block.__troupe__ = True  # type: ignore[attr-defined]
    TraceHelper.trace_block = trace_block
    runtime.get_telemetry_envelope_metadata = envelope_metadata
    agent_runtime._create_otel_attributes = otel_attributes


_MAKERS = {_INVOKE: _invoke, _TOOL: _tool, _QUIET: _quiet}


def install() -> None:
    """Replace AutoGen's span helpers (once per process); a helper that moved is left alone, logged."""
    for key, kind in _HELPERS:
        name = PRIVATE_NAMES[key]
        try:
            original = private(key)
        except AutoGenMoved:
            log.debug("AutoGen span helper %s.%s not found; left as it is", name.module, name.attribute)
            continue
        if getattr(original, "__troupe__", False):
            continue
        replacement = _MAKERS[kind](original)
        replacement.__troupe__ = True  # type: ignore[attr-defined]
        setattr(importlib.import_module(name.module), name.attribute, replacement)
    try:
        _quiet_runtime()
    except (AutoGenMoved, AttributeError):
        log.debug("AutoGen's runtime tracing helper not found; left as it is")
