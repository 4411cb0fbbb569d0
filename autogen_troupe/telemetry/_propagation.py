"""W3C trace context for the requests a model call makes, so the model server's spans join our trace.

An OpenAI-compatible endpoint gets `traceparent` (and `tracestate`, `baggage`, as the application's
propagators say) as HTTP headers; the in-process engine gets the same mapping as vLLM's `trace_headers`.
With telemetry off this returns an empty mapping and imports nothing.
"""

from __future__ import annotations

from ._state import enabled

__all__ = ["trace_headers"]


def trace_headers() -> dict[str, str]:
    """The current span's context as propagation headers (empty when telemetry is off)."""
    if not enabled():
        return {}
    from opentelemetry.propagate import inject

    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier
