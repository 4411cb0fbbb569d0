"""Whether telemetry is on, and what the code running now is part of (a run, a model call, a tool call).

Off unless asked: it is on only when the application (or `troupe run --trace`) has installed an
OpenTelemetry tracer or meter provider, and `OTEL_SDK_DISABLED` is not `true`. The check imports no
OpenTelemetry code: with none imported, nobody can have installed a provider. Every instrumentation point
asks first, so with telemetry off a run pays one context-variable lookup per call and imports nothing.

The model call or tool call running in this context is kept in a context variable, so that the layers
below the span (the HTTP transport, the in-process engine's client, a replayed cassette) can add what only
they know (the response's model and id, the recorded duration) without knowing about spans.
"""

from __future__ import annotations

import os
import sys
import time
from contextvars import ContextVar
from typing import Any, Protocol

__all__ = [
    "Annotated",
    "Clock",
    "capture_content",
    "current_run",
    "enabled",
    "in_tool_call",
    "note_replayed",
    "note_response",
]

_CAPTURE_VALUES = {"true", "span_only", "span_and_event"}


class Annotated(Protocol):
    """A model or tool call's span handle, as the layers below it see it."""

    def response(
        self, *, model: str | None = None, response_id: str | None = None, finish_reason: str | None = None
    ) -> None: ...

    def replayed(self, *, duration_s: float | None, provider: str | None = None) -> None: ...


_run: ContextVar[Any] = ContextVar("troupe_telemetry_run", default=None)
_call: ContextVar[Annotated | None] = ContextVar("troupe_telemetry_call", default=None)
_tool: ContextVar[bool] = ContextVar("troupe_telemetry_in_tool", default=False)


def enabled() -> bool:
    """Whether the application installed a tracer or meter provider (and the SDK is not disabled)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    trace = sys.modules.get("opentelemetry.trace")
    if trace is not None and not isinstance(
        trace.get_tracer_provider(), (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
    ):
        return True
    metrics = sys.modules.get("opentelemetry.metrics")
    if metrics is None:
        return False
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.metrics._internal import _ProxyMeterProvider

    return not isinstance(metrics.get_meter_provider(), (_ProxyMeterProvider, NoOpMeterProvider))


def capture_content(env: Any = None) -> bool:
    """Whether message contents go on spans: `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`."""
    env = os.environ if env is None else env
    return str(env.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "")).strip().lower() in (
        _CAPTURE_VALUES
    )


def current_run() -> Any:
    """The telemetry of the troupe run this code is part of (None outside one, or with telemetry off)."""
    return _run.get()


def note_response(
    *, model: str | None = None, response_id: str | None = None, finish_reason: str | None = None
) -> None:
    """What the model server answered (from the wire), for the model call running now, if traced."""
    call = _call.get()
    if call is not None:
        call.response(model=model, response_id=response_id, finish_reason=finish_reason)


def note_replayed(*, duration_s: float | None, provider: str | None = None) -> None:
    """The model or tool call running now was answered from a cassette, where it took `duration_s`."""
    call = _call.get()
    if call is not None:
        call.replayed(duration_s=duration_s, provider=provider)


def in_tool_call() -> bool:
    """Whether an execute_tool span of ours is already open here (AutoGen's own then adds none)."""
    return _tool.get()


class Clock:
    """A run's span clock, in nanoseconds since the epoch: the wall clock, moved forward by replayed calls.

    A replayed call answers at once; its span ends when the recorded call ended (start + recorded
    duration), and everything after it moves along, so a replayed run shows the recorded timings.
    Concurrent replayed calls (parallel tool calls) move the clock to the latest of their ends.
    """

    def __init__(self) -> None:
        self._offset_ns = 0

    def now(self) -> int:
        return time.time_ns() + self._offset_ns

    def replayed_end(self, start_ns: int, duration_s: float) -> int:
        """The end of a replayed call that started at `start_ns`; the clock moves on to it if behind."""
        end = start_ns + int(duration_s * 1e9)
        ahead = end - self.now()
        if ahead > 0:
            self._offset_ns += ahead
        return end
