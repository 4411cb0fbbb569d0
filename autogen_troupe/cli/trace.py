"""`--trace`: OpenTelemetry's SDK installed for the command when asked (the flag, or an OTLP endpoint in
the environment); what is left is exported on the way out, and each run's trace id is printed."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

import typer

from .console import say
from .options import OptionGroup

__all__ = ["Tracing", "tracing"]

_TRACE_LINES = 5


@dataclass(frozen=True)
class Tracing(OptionGroup):
    """The `--trace` option; tracing is on while the command runs."""

    trace: Annotated[
        bool,
        typer.Option(
            "--trace",
            help="Send traces and metrics (OpenTelemetry GenAI conventions) over OTLP, to "
            "$OTEL_EXPORTER_OTLP_ENDPOINT or http://localhost:4318; on by itself when that variable is set.",
        ),
    ] = False

    def active(self) -> contextlib.AbstractContextManager[None]:
        return tracing(self.trace)


@contextlib.contextmanager
def tracing(flag: bool) -> Iterator[None]:
    """Tracing on while the block runs when `flag` or the environment asks (OTEL_EXPORTER_OTLP_ENDPOINT);
    what is left is exported at its end, and each run's trace id said."""
    from ..telemetry import wanted

    if not wanted(os.environ, flag=flag):
        yield
        return
    from ..telemetry import start_session

    session = start_session()  # a TroupeError here is reported as any other
    try:
        yield
    finally:
        session.shutdown()
        sent = "could not all be sent to" if session.failed else "sent to"
        for trace_id in session.runs[:_TRACE_LINES]:
            say(f"trace {trace_id} {sent} {session.traces_to}")
        if len(session.runs) > _TRACE_LINES:  # an eval makes a trace per run
            more = len(session.runs) - _TRACE_LINES
            say(f"and {more} more traces {sent} {session.traces_to}")
