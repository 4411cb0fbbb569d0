"""OpenTelemetry's SDK set up from the standard environment variables, for `troupe run --trace`.

The command line is an application, so it installs the global tracer and meter providers when asked
(`--trace`, or `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` set). The library never
does: it uses what the application installed. What is read, as every OpenTelemetry SDK reads it:

- `OTEL_EXPORTER_OTLP_ENDPOINT` (default http://localhost:4318, or :4317 for gRPC) and the per-signal
  `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `..._METRICS_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS`,
  `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_EXPORTER_OTLP_COMPRESSION` (read by the exporters themselves);
- `OTEL_EXPORTER_OTLP_PROTOCOL` (and `..._TRACES_PROTOCOL` / `..._METRICS_PROTOCOL`): `http/protobuf`
  (the default) or `grpc`;
- `OTEL_TRACES_EXPORTER` / `OTEL_METRICS_EXPORTER`: `otlp` (the default), `console` (to stderr) or `none`;
- `OTEL_SERVICE_NAME` (default `autogen-troupe`), `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SDK_DISABLED`.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError
from ._conventions import SCOPE

__all__ = ["INSTALL", "Session", "start_session", "wanted"]

INSTALL = "pip install 'autogen-troupe[otel]'"
_PROTOCOLS = ("http/protobuf", "grpc")
_EXPORTERS = ("otlp", "console", "none")
_DEFAULT_SERVICE = "autogen-troupe"


def wanted(env: Mapping[str, str], *, flag: bool) -> bool:
    """Whether the command line should trace: `--trace` or an OTLP endpoint set, and the SDK not off."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return flag or bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


@dataclass
class Session:
    """The providers this process installed; `shutdown()` exports what is left, once."""

    tracer_provider: Any
    meter_provider: Any
    traces_to: str  # where spans go, for the message after the run
    runs: list[str] = field(default_factory=list)  # trace ids of the runs traced, as 32 hex digits
    failed: list[int] = field(default_factory=list)  # span batches the exporter could not send

    def shutdown(self) -> None:
        """Export what is left of both signals at once: with the collector down, the exit waits for one
        exporter timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`, 10 s by default), not two."""
        threads = [
            threading.Thread(target=provider.shutdown, daemon=True)
            for provider in (self.tracer_provider, self.meter_provider)
            if provider is not None
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def _run_traces(into: list[str]) -> Any:
    """A span processor that notes the trace id of each run (its `invoke_workflow` span) as it ends."""
    from opentelemetry.sdk.trace import SpanProcessor

    class RunTraces(SpanProcessor):
        def on_end(self, span: Any) -> None:
            scope = span.instrumentation_scope
            if span.name.startswith("invoke_workflow ") and scope is not None and scope.name == SCOPE:
                into.append(format(span.context.trace_id, "032x"))

    return RunTraces()


def _counting_failures(exporter: Any, failed: list[int]) -> Any:
    """`exporter`, noting in `failed` each batch it could not send (so the command can say so)."""
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class Counted(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            result = exporter.export(spans)
            if result is not SpanExportResult.SUCCESS:
                failed.append(len(spans))
            return result

        def shutdown(self) -> None:
            exporter.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return bool(exporter.force_flush(timeout_millis))

    return Counted()


def _setting(env: Mapping[str, str], signal: str, name: str, default: str, allowed: tuple[str, ...]) -> str:
    """A per-signal setting (`OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`) over the general one, checked."""
    key = f"OTEL_EXPORTER_OTLP_{signal}_{name}" if name == "PROTOCOL" else f"OTEL_{signal}_EXPORTER"
    general = "OTEL_EXPORTER_OTLP_PROTOCOL" if name == "PROTOCOL" else None
    value = (env.get(key) or (env.get(general) if general else None) or default).strip().lower()
    if value not in allowed:
        raise UsageError(
            f"{key if env.get(key) else general}={value!r} is not supported; use one of: {', '.join(allowed)}"
        )
    return value


def _endpoint(env: Mapping[str, str], signal: str, protocol: str) -> str:
    specific = env.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
    if specific:
        return specific
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or (
        "http://localhost:4317" if protocol == "grpc" else "http://localhost:4318"
    )
    return base if protocol == "grpc" else base.rstrip("/") + f"/v1/{signal.lower()}"


def _span_exporter(env: Mapping[str, str]) -> tuple[Any, str]:
    kind = _setting(env, "TRACES", "EXPORTER", "otlp", _EXPORTERS)
    if kind == "none":
        return None, "nowhere (OTEL_TRACES_EXPORTER=none)"
    if kind == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(out=sys.stderr), "the console"
    protocol = _setting(env, "TRACES", "PROTOCOL", "http/protobuf", _PROTOCOLS)
    where = _endpoint(env, "TRACES", protocol)
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # type: ignore[assignment]
    return OTLPSpanExporter(), f"{where} (OTLP {protocol})"


def _metric_exporter(env: Mapping[str, str]) -> Any:
    kind = _setting(env, "METRICS", "EXPORTER", "otlp", _EXPORTERS)
    if kind == "none":
        return None
    if kind == "console":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

        return ConsoleMetricExporter(out=sys.stderr)
    protocol = _setting(env, "METRICS", "PROTOCOL", "http/protobuf", _PROTOCOLS)
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter  # type: ignore[assignment]
    return OTLPMetricExporter()


def start_session(env: Mapping[str, str] | None = None) -> Session:
    """Install global tracer and meter providers that export as the environment says.

    Raises UsageError with the install line when the `[otel]` extra is missing, or naming a setting we
    cannot honour.
    """
    env = os.environ if env is None else env
    try:
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        span_exporter, traces_to = _span_exporter(env)
        metric_exporter = _metric_exporter(env)
    except ImportError as e:
        raise UsageError(
            f"tracing needs OpenTelemetry's SDK and OTLP exporter ({e.name or e} is missing); "
            f"install them with: {INSTALL}"
        ) from None
    # The exporters' retry notices ("Transient error ... retrying in 1.05s") would fill the console while a
    # collector is down; the final "Failed to export" errors still show.
    logging.getLogger("opentelemetry").setLevel(logging.ERROR)
    named = env.get("OTEL_SERVICE_NAME") or "service.name=" in env.get("OTEL_RESOURCE_ATTRIBUTES", "")
    resource = Resource.create({} if named else {SERVICE_NAME: _DEFAULT_SERVICE})
    tracer_provider = TracerProvider(resource=resource)
    session = Session(tracer_provider, None, traces_to)
    tracer_provider.add_span_processor(_run_traces(session.runs))
    if span_exporter is not None:
        tracer_provider.add_span_processor(
            BatchSpanProcessor(_counting_failures(span_exporter, session.failed))
        )
    readers = [PeriodicExportingMetricReader(metric_exporter)] if metric_exporter is not None else []
    # Exemplars (a sampled span's id on a histogram bucket) cost a lookup per measurement; on when asked.
    exemplars = None if env.get("OTEL_METRICS_EXEMPLAR_FILTER") else AlwaysOffExemplarFilter()
    session.meter_provider = MeterProvider(
        resource=resource, metric_readers=readers, exemplar_filter=exemplars
    )
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(session.meter_provider)
    return session
