"""`troupe serve`: scenarios behind an OpenAI-compatible API, a runs API and a page, until Ctrl-C."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Annotated

import typer

from .console import out, say
from .errors import BadInput
from .options import EngineLogs, ModelFlags
from .trace import tracing

__all__ = ["serve"]


def serve(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="Scenario files, folders or bundled names (default: ./scenarios and the bundled)."
        ),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; any but loopback needs a token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: a free one).")] = 8765,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the runs' JSONL transcripts.")] = Path(
        "troupe-runs"
    ),
    max_runs: Annotated[
        int, typer.Option("--max-runs", help="Runs going at once; more are refused with HTTP 503.")
    ] = 8,
    token: Annotated[
        str | None,
        typer.Option("--token", help="Bearer token every request must carry (or TROUPE_SERVE_TOKEN)."),
    ] = None,
    cors: Annotated[
        list[str] | None, typer.Option("--cors", help="An origin whose pages may call the API (repeatable).")
    ] = None,
    *,
    endpoint: ModelFlags,
    logs: EngineLogs,
) -> None:
    """Serve scenarios: an OpenAI-compatible API (each scenario a model), a runs API, and a page at /.

    The in-process engine's own log (vLLM, torch) goes to serve-TIME.log in the --out folder."""
    from ..runtime import library_log_file, quiet_autogen_logs
    from ..serve import Catalog, ServeConfig, bind, create_app, run_server

    config = ServeConfig.checked(
        host=host,
        port=port,
        out_dir=out_dir,
        max_runs=max_runs,
        token=token,
        cors=tuple(cors or ()),
        overrides=endpoint.overrides(),
    )
    catalog = Catalog.find(paths)
    if not catalog.offered:
        raise BadInput("no scenario to serve: " + "; ".join(catalog.skipped or ["none found"]))
    try:
        sock = bind(host, port)
    except OSError as e:
        raise BadInput(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    for problem in catalog.skipped:
        say(f"skipped: {problem}")
    url = config.url(sock.getsockname()[1])
    library_log_file(out_dir / f"serve-{datetime.datetime.now():%Y%m%d-%H%M%S}.log")

    def ready() -> None:
        names = ", ".join(catalog.names())
        out.print(
            f"troupe serve: {url}  ({len(catalog.offered)} scenarios: {names})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        out.print(f"OpenAI-compatible API: {url}v1  (model = a scenario name)", markup=False, highlight=False)
        out.file.flush()

    quiet_autogen_logs()
    with tracing(False):  # no --trace here; on when the environment names an OTLP endpoint
        run_server(create_app(config, catalog), sock, on_ready=ready)
