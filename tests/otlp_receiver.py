"""A real OTLP/HTTP receiver on 127.0.0.1, for tests: it decodes what exporters send with opentelemetry-proto.

    with OtlpReceiver() as rx:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": rx.endpoint}
        ...  # run something that exports traces and metrics
        spans = rx.spans()  # every span received, flattened: name, ids, kind, attributes, scope, resource

`POST /v1/traces` and `POST /v1/metrics` take `application/x-protobuf` bodies (gzip-encoded or not) and
answer an empty export response, as a collector does; anything else is 404. A body that does not decode
is kept in `errors` and answered 400.
"""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

__all__ = ["OtlpReceiver", "ReceivedSpan"]

_KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(x) for x in v.array_value.values)
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind) if kind else None


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits
    parent_id: str  # "" for a root span
    kind: str
    start_ns: int
    end_ns: int
    status: int  # 0 unset, 1 ok, 2 error
    attributes: dict[str, Any]
    scope: str
    resource: dict[str, Any] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        kinds = {
            "/v1/traces": (ExportTraceServiceRequest, ExportTraceServiceResponse, self.server.owner.traces),
            "/v1/metrics": (
                ExportMetricsServiceRequest,
                ExportMetricsServiceResponse,
                self.server.owner.metrics,
            ),
        }
        if self.path not in kinds:
            self.send_response(404)
            self.end_headers()
            return
        request_type, response_type, into = kinds[self.path]
        message = request_type()
        try:
            message.ParseFromString(body)
        except DecodeError as e:
            self.server.owner.errors.append(f"{self.path}: {e}")
            self.send_response(400)
            self.end_headers()
            return
        with self.server.owner.lock:
            into.append(message)
        answer = response_type().SerializeToString()
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: OtlpReceiver


class OtlpReceiver:
    """An OTLP/HTTP receiver in a background thread; `endpoint` is its base URL."""

    def __init__(self) -> None:
        self.traces: list[ExportTraceServiceRequest] = []
        self.metrics: list[ExportMetricsServiceRequest] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def spans(self) -> list[ReceivedSpan]:
        out: list[ReceivedSpan] = []
        with self.lock:
            requests = list(self.traces)
        for request in requests:
            for rs in request.resource_spans:
                resource = {a.key: _value(a.value) for a in rs.resource.attributes}
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        out.append(
                            ReceivedSpan(
                                name=s.name,
                                trace_id=s.trace_id.hex(),
                                span_id=s.span_id.hex(),
                                parent_id=s.parent_span_id.hex(),
                                kind=_KINDS.get(s.kind, str(s.kind)),
                                start_ns=s.start_time_unix_nano,
                                end_ns=s.end_time_unix_nano,
                                status=s.status.code,
                                attributes={a.key: _value(a.value) for a in s.attributes},
                                scope=ss.scope.name,
                                resource=resource,
                            )
                        )
        return out

    def metric_points(self) -> dict[str, list[tuple[dict[str, Any], Any]]]:
        """Metric name -> [(attributes, point)], a point being a histogram's count or a sum's value."""
        out: dict[str, list[tuple[dict[str, Any], Any]]] = {}
        with self.lock:
            requests = list(self.metrics)
        for request in requests:
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        kind = m.WhichOneof("data")
                        for p in getattr(m, kind).data_points:
                            attributes = {a.key: _value(a.value) for a in p.attributes}
                            value = p.count if kind == "histogram" else getattr(p, "as_int", 0) or p.as_double
                            out.setdefault(m.name, []).append((attributes, value))
        return out
