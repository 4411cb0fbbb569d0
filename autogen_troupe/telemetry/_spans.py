"""The spans and metrics of a run, in OpenTelemetry's GenAI conventions (see `_conventions`).

    invoke_workflow {scenario}            INTERNAL   the run
      invoke_agent {agent}                INTERNAL   one agent's turn
        chat {model}                      CLIENT     one model call (INTERNAL in-process and replayed)
          llm_request                     SERVER     vLLM's own span, in its process or ours
        execute_tool {tool}               INTERNAL   one tool call (MCP: mcp.method.name tools/call)

Spans and instruments come from the global providers the application installed; we install none.
Imported only when telemetry is on (`_state.enabled()`).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from . import _conventions as C
from ._facts import ChatFacts, ToolFacts
from ._state import Clock, _call, _run, _tool, capture_content

__all__ = ["AgentTurn", "ChatCall", "RunTelemetry", "ToolCall"]

_turn: ContextVar[AgentTurn | None] = ContextVar("troupe_telemetry_turn", default=None)


def _package_version() -> str:
    try:
        return version("autogen-troupe")
    except PackageNotFoundError:  # pragma: no cover - a source tree without metadata
        return "0"


class _Instruments:
    """The metric instruments of one meter provider (made once per provider)."""

    def __init__(self, meter: metrics.Meter) -> None:
        self.duration = meter.create_histogram(
            C.OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=list(C.DURATION_BUCKETS_S),
        )
        self.tokens = meter.create_histogram(
            C.TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=list(C.TOKEN_BUCKETS),
        )
        self.runs = meter.create_counter(C.RUNS, unit="{run}", description="Runs, by how they stopped.")
        self.run_duration = meter.create_histogram(
            C.RUN_DURATION,
            unit="s",
            description="Wall time of a run.",
            explicit_bucket_boundaries_advisory=list(C.DURATION_BUCKETS_S),
        )


@functools.lru_cache(maxsize=4)
def _instruments(provider: Any) -> _Instruments:
    meter = provider.get_meter(C.SCOPE, _package_version(), schema_url=C.SCHEMA_URL)
    return _Instruments(meter)


@functools.lru_cache(maxsize=4)
def _tracer(provider: Any) -> trace.Tracer:
    return provider.get_tracer(C.SCOPE, _package_version(), schema_url=C.SCHEMA_URL)


def _set_error(span: trace.Span, error_type: str, message: str | None) -> None:
    span.set_attribute(C.ERROR_TYPE, error_type)
    span.set_status(Status(StatusCode.ERROR, message or error_type))


class RunTelemetry:
    """One run's telemetry: its tracer, instruments and clock, and (through `run_scenario`) its root span.

    `open_team` used on its own makes one without a root span, so that its agents', model and tool
    spans are still made (under whatever span the application has open).
    """

    def __init__(self, *, env: Mapping[str, str] | None = None) -> None:
        self.tracer = _tracer(trace.get_tracer_provider())
        self.instruments = _instruments(metrics.get_meter_provider())
        self.clock = Clock()
        self.capture = capture_content(env)
        self.agents: dict[str, ChatFacts] = {}  # agent name -> the model it talks to (invoke_agent spans)
        self.safe_text: dict[str, str] = {}  # texts met again and again (descriptions), as made safe once
        self.replayed = False
        self.span: trace.Span | None = None
        self.scenario: str | None = None
        self._started = time.monotonic()

    # ----------------------------------------------------------------- the run's own span

    def start(self, *, scenario: str, team_kind: str, task_length: int) -> None:
        self.scenario = scenario
        self.span = self.tracer.start_span(
            f"invoke_workflow {scenario}",
            kind=SpanKind.INTERNAL,
            attributes={
                C.OPERATION: "invoke_workflow",
                C.WORKFLOW_NAME: scenario,
                C.TROUPE_TEAM_KIND: team_kind,
                C.TROUPE_TASK_LENGTH: task_length,
            },
            start_time=self.clock.now(),
        )

    @contextlib.contextmanager
    def active(self) -> Iterator[RunTelemetry]:
        """This run's telemetry (and its span, if any) is the current one inside the block."""
        token = _run.set(self)
        ctx = otel_context.attach(trace.set_span_in_context(self.span)) if self.span is not None else None
        try:
            yield self
        finally:
            if ctx is not None:
                otel_context.detach(ctx)
            _run.reset(token)

    def finish(
        self,
        *,
        stop_reason: str,
        stopped_by: str,
        messages: int,
        input_tokens: int,
        output_tokens: int,
        error_type: str | None = None,
        error_message: str | None = None,
    ) -> None:
        """End the run's span and count the run (`stopped_by`: rule | limit | error | interrupted)."""
        attributes: dict[str, Any] = {C.TROUPE_SCENARIO: self.scenario or "", C.TROUPE_STOPPED_BY: stopped_by}
        if error_type is not None:
            attributes[C.ERROR_TYPE] = error_type
        if self.replayed:
            attributes[C.TROUPE_REPLAYED] = True
        self.instruments.runs.add(1, attributes)
        self.instruments.run_duration.record(time.monotonic() - self._started, attributes)
        span = self.span
        if span is None:
            return
        span.set_attributes(
            {
                C.TROUPE_STOP_REASON: stop_reason,
                C.TROUPE_STOPPED_BY: stopped_by,
                C.TROUPE_RUN_MESSAGES: messages,
                C.INPUT_TOKENS: input_tokens,
                C.OUTPUT_TOKENS: output_tokens,
            }
        )
        if self.replayed:
            span.set_attribute(C.TROUPE_REPLAYED, True)
        if error_type is not None:
            _set_error(span, error_type, error_message)
        span.end(end_time=self.clock.now())

    @property
    def trace_id(self) -> str | None:
        """The run's trace id as 32 hex digits (None without a recorded span)."""
        if self.span is None or not self.span.get_span_context().is_valid:
            return None
        return format(self.span.get_span_context().trace_id, "032x")


class AgentTurn:
    """One agent's turn: an `invoke_agent {agent}` span (INTERNAL: the agent runs in this process)."""

    def __init__(self, run: RunTelemetry, name: str, agent_id: str | None, description: str | None) -> None:
        self._run = run
        facts = run.agents.get(name)
        attributes: dict[str, Any] = {C.OPERATION: "invoke_agent", C.AGENT_NAME: name}
        if facts is not None and facts.provider:
            attributes[C.PROVIDER] = facts.provider
        if facts is not None and facts.request_model:
            attributes[C.REQUEST_MODEL] = facts.request_model
        if agent_id:
            attributes[C.AGENT_ID] = agent_id
        if description:
            attributes[C.AGENT_DESCRIPTION] = description
        self.span = run.tracer.start_span(
            f"invoke_agent {name}", kind=SpanKind.INTERNAL, attributes=attributes, start_time=run.clock.now()
        )
        self.input_tokens = 0
        self.output_tokens = 0

    @contextlib.contextmanager
    def current(self) -> Iterator[trace.Span]:
        token = otel_context.attach(trace.set_span_in_context(self.span))
        turn = _turn.set(self)
        try:
            yield self.span
        except BaseException as e:
            if not isinstance(e, GeneratorExit):
                _set_error(self.span, type(e).__name__, None)
            raise
        finally:
            _turn.reset(turn)
            otel_context.detach(token)
            if self.input_tokens or self.output_tokens:
                self.span.set_attributes(
                    {C.INPUT_TOKENS: self.input_tokens, C.OUTPUT_TOKENS: self.output_tokens}
                )
            self.span.end(end_time=self._run.clock.now())


class _Call:
    """What model and tool calls share: a span made current only inside `attached()` windows (a stream
    is attached around each step, never across a yield), replay notes, and the end on the run's clock.

    What is learnt during the call (replay notes, contents, the response) waits in `_late` and goes on
    the span in one `set_attributes` as it ends: each SDK call takes the span's lock and checks values.
    """

    def __init__(self, run: RunTelemetry, span: trace.Span, start_ns: int) -> None:
        self._run = run
        self.span = span
        self._start = start_ns
        self._recorded_s: float | None = None
        self._late: dict[str, Any] = {}
        self._ctx = trace.set_span_in_context(self.span)

    @contextlib.contextmanager
    def attached(self) -> Iterator[None]:
        token = otel_context.attach(self._ctx)
        call = _call.set(self)
        try:
            yield
        finally:
            _call.reset(call)
            otel_context.detach(token)

    def response(
        self, *, model: str | None = None, response_id: str | None = None, finish_reason: str | None = None
    ) -> None:
        return None

    def replayed(self, *, duration_s: float | None, provider: str | None = None) -> None:
        self._recorded_s = duration_s
        self._run.replayed = True
        self._late[C.TROUPE_REPLAYED] = True
        if duration_s is not None:
            self._late[C.TROUPE_RECORDED_DURATION] = duration_s

    def _end(self) -> float:
        """End the span (at the recorded end when replayed); its duration in seconds."""
        if self._late:
            self.span.set_attributes(self._late)
        clock = self._run.clock
        end = (
            clock.replayed_end(self._start, self._recorded_s) if self._recorded_s is not None else clock.now()
        )
        self.span.end(end_time=end)
        return max(0.0, (end - self._start) / 1e9)


class ChatCall(_Call):
    """One model call: a `chat {model}` span, the wire's notes, usage, and the two GenAI metrics."""

    def __init__(self, run: RunTelemetry, facts: ChatFacts, *, stream: bool) -> None:
        self.facts = facts
        self._metric: dict[str, Any] = {C.OPERATION: "chat"}
        attributes: dict[str, Any] = {C.OPERATION: "chat"}
        if facts.provider:
            attributes[C.PROVIDER] = self._metric[C.PROVIDER] = facts.provider
        if facts.request_model:
            attributes[C.REQUEST_MODEL] = self._metric[C.REQUEST_MODEL] = facts.request_model
        if facts.server_address:
            attributes[C.SERVER_ADDRESS] = self._metric[C.SERVER_ADDRESS] = facts.server_address
            if facts.server_port is not None:
                attributes[C.SERVER_PORT] = self._metric[C.SERVER_PORT] = facts.server_port
        for key, name in _SETTINGS.items():
            if facts.settings.get(key) is not None:
                attributes[name] = facts.settings[key]
        attributes[C.REQUEST_STREAM] = stream
        name = f"chat {facts.request_model}" if facts.request_model else "chat"
        kind = SpanKind.INTERNAL if facts.in_process else SpanKind.CLIENT
        start = run.clock.now()
        super().__init__(
            run, run.tracer.start_span(name, kind=kind, attributes=attributes, start_time=start), start
        )
        self._finish_reasons: list[str] = []
        self._response_id: str | None = None

    def response(
        self, *, model: str | None = None, response_id: str | None = None, finish_reason: str | None = None
    ) -> None:
        # Called for every chunk of a stream: noted here, set on the span once, when it ends.
        if model:
            self._metric[C.RESPONSE_MODEL] = model
        if response_id:
            self._response_id = response_id
        if finish_reason:
            self._finish_reasons.append(finish_reason)

    def replayed(self, *, duration_s: float | None, provider: str | None = None) -> None:
        super().replayed(duration_s=duration_s, provider=provider)
        if provider and not self.facts.provider:
            self._late[C.PROVIDER] = self._metric[C.PROVIDER] = provider
        self._metric[C.TROUPE_REPLAYED] = True

    def content(self, *, input_messages: str | None, output_messages: str | None) -> None:
        """Message contents (JSON, already free of secrets); only when the run captures content."""
        if not self._run.capture:
            return
        if input_messages is not None:
            self._late[C.INPUT_MESSAGES] = input_messages
        if output_messages is not None:
            self._late[C.OUTPUT_MESSAGES] = output_messages

    def finish(
        self,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        finish_reason: str | None = None,
        error_type: str | None = None,
        error_message: str | None = None,
    ) -> None:
        """End the span and record the operation's duration and token usage."""
        reasons = self._finish_reasons or ([finish_reason] if finish_reason else [])
        attributes = self._late
        if C.RESPONSE_MODEL in self._metric:
            attributes[C.RESPONSE_MODEL] = self._metric[C.RESPONSE_MODEL]
        if self._response_id:
            attributes[C.RESPONSE_ID] = self._response_id
        if reasons:
            attributes[C.FINISH_REASONS] = reasons
        if input_tokens is not None:
            attributes[C.INPUT_TOKENS] = input_tokens
        if output_tokens is not None:
            attributes[C.OUTPUT_TOKENS] = output_tokens
        if error_type is not None:
            _set_error(self.span, error_type, error_message)
            self._metric[C.ERROR_TYPE] = error_type
        seconds = self._end()
        instruments = self._run.instruments
        instruments.duration.record(seconds, self._metric)
        for kind, count in (("input", input_tokens), ("output", output_tokens)):
            if count is not None and error_type is None:
                instruments.tokens.record(count, {**self._metric, C.TOKEN_TYPE: kind})
        turn = _turn.get()
        if turn is not None:
            turn.input_tokens += input_tokens or 0
            turn.output_tokens += output_tokens or 0


_SETTINGS = {
    "max_tokens": C.REQUEST_MAX_TOKENS,
    "temperature": C.REQUEST_TEMPERATURE,
    "top_p": C.REQUEST_TOP_P,
    "seed": C.REQUEST_SEED,
}


class ToolCall(_Call):
    """One tool call: an `execute_tool {tool}` span; for an MCP tool, its server and `tools/call`."""

    def __init__(
        self, run: RunTelemetry, name: str, call_id: str | None, facts: ToolFacts, description: str | None
    ) -> None:
        attributes: dict[str, Any] = {
            C.OPERATION: "execute_tool",
            C.TOOL_NAME: name,
            C.TOOL_TYPE: "extension" if facts.mcp_server else "function",
        }
        if call_id:
            attributes[C.TOOL_CALL_ID] = call_id
        if description:
            attributes[C.TOOL_DESCRIPTION] = description
        if facts.mcp_server:
            attributes[C.MCP_METHOD] = "tools/call"
            attributes[C.TROUPE_MCP_SERVER] = facts.mcp_server
            if facts.transport:
                attributes[C.NETWORK_TRANSPORT] = facts.transport
            if facts.server_address:
                attributes[C.SERVER_ADDRESS] = facts.server_address
                if facts.server_port is not None:
                    attributes[C.SERVER_PORT] = facts.server_port
        start = run.clock.now()
        span = run.tracer.start_span(
            f"execute_tool {name}", kind=SpanKind.INTERNAL, attributes=attributes, start_time=start
        )
        super().__init__(run, span, start)

    @contextlib.contextmanager
    def attached(self) -> Iterator[None]:
        in_tool = _tool.set(True)
        try:
            with super().attached():
                yield
        finally:
            _tool.reset(in_tool)

    def content(self, *, arguments: str | None, result: str | None) -> None:
        """Arguments and result (already free of secrets); only when the run captures content."""
        if not self._run.capture:
            return
        if arguments is not None:
            self._late[C.TOOL_ARGUMENTS] = arguments
        if result is not None:
            self._late[C.TOOL_RESULT] = result

    def finish(self, *, error_type: str | None = None, error_message: str | None = None) -> None:
        if error_type is not None:
            _set_error(self.span, error_type, error_message)
        self._end()
