"""What the `troupe` commands share: the two consoles, the scenario and model options, the one-paragraph
error with its exit code, the model overrides from flags and environment, `--trace`. Apart from `cli.py`
so that command groups of their own (`_cli_eval.py`) use the same ones."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from .errors import ScenarioError, TroupeError, exit_code_for
from .runtime._signals import exit_code

__all__ = [
    "BaseUrlOpt",
    "ModelOpt",
    "ProfileOpt",
    "ScenarioArg",
    "TraceOpt",
    "_fail",
    "_overrides",
    "_safe",
    "_stopped_by",
    "_traced",
    "err",
    "out",
]

out = Console()
err = Console(stderr=True, soft_wrap=True)

ScenarioArg = Annotated[str, typer.Argument(help="A scenario file, or the name of a bundled scenario.")]
ProfileOpt = Annotated[
    str | None, typer.Option("--profile", help="Model profile to use instead of the scenario's.")
]
BaseUrlOpt = Annotated[
    str | None, typer.Option("--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1.")
]
ModelOpt = Annotated[
    str | None, typer.Option("--model", help="Model id at the endpoint (default: discovered).")
]


def _safe(text: str) -> str:
    """Text with every secret masked, as everything we print must be."""
    from .models._redact import redact_text

    return redact_text(text)


def _fail(e: BaseException) -> NoReturn:
    """Print the error in one paragraph (and where the run's files are) and exit by its class."""
    if isinstance(e, ScenarioError):
        err.print(_safe(str(e)), markup=False)
    else:
        err.print(_safe(f"{type(e).__name__}: {e}"), markup=False)
    for label, attr in (("transcript", "transcript_path"), ("engine log", "log_path")):
        if where := getattr(e, attr, None):  # set by the runner on a run that started
            err.print(f"{label}: {where}", markup=False, highlight=False)
    raise typer.Exit(exit_code_for(e))


def _stopped_by(e: KeyboardInterrupt) -> str:
    return "Interrupted" if exit_code(e) == 130 else f"Stopped by {e}"


def _overrides(profile: str | None, base_url: str | None, model: str | None):
    from .models._endpoints import Overrides

    return Overrides.from_env(os.environ).merged(profile=profile, base_url=base_url, model=model)


_TRACE_LINES = 5
TraceOpt = Annotated[
    bool,
    typer.Option(
        "--trace",
        help="Send traces and metrics (OpenTelemetry GenAI conventions) over OTLP, to "
        "$OTEL_EXPORTER_OTLP_ENDPOINT or http://localhost:4318; on by itself when that variable is set.",
    ),
]


@contextlib.contextmanager
def _tracing(flag: bool) -> Iterator[None]:
    """OpenTelemetry's SDK installed for the command when asked (`--trace` or an OTLP endpoint in the
    environment); what is left is exported on the way out, and each run's trace id is printed."""
    from .telemetry import wanted

    if not wanted(os.environ, flag=flag):
        yield
        return
    from .telemetry import start_session

    try:
        session = start_session()
    except TroupeError as e:
        _fail(e)
    try:
        yield
    finally:
        session.shutdown()
        sent = "could not all be sent to" if session.failed else "sent to"
        for trace_id in session.runs[:_TRACE_LINES]:
            err.print(f"trace {trace_id} {sent} {_safe(session.traces_to)}", markup=False, highlight=False)
        if len(session.runs) > _TRACE_LINES:  # an eval makes a trace per run
            more = len(session.runs) - _TRACE_LINES
            err.print(
                f"and {more} more traces {sent} {_safe(session.traces_to)}", markup=False, highlight=False
            )


def _traced(command: Callable[..., None]) -> Callable[..., None]:
    """A command run with the libraries' log lines off the console (`runtime._logs.library_logs`, shown
    too with its `--verbose`) and inside `_tracing(trace)`, `trace` being its `--trace` option (Typer
    passes options by name, and reads the command's own signature through `functools.wraps`). The routing
    is outside the tracing, so the SDK's lines at exit (a collector that is down) go to the log too."""

    @functools.wraps(command)
    def traced(*args: Any, **kwargs: Any) -> None:
        from .runtime._logs import library_logs

        with library_logs(console=bool(kwargs.get("verbose"))), _tracing(bool(kwargs.get("trace"))):
            command(*args, **kwargs)

    return traced
