"""The server: a Starlette app with the OpenAI-compatible API, the runs API, AG-UI and the page, and the
uvicorn loop `troupe serve` runs it in.

Importing this module loads Starlette, not AutoGen: a server starts in well under a second, and the
team's libraries are imported at the first run.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ._a2a import agents_of
from ._a2a import routes as a2a_routes
from ._agui import AguiThreads
from ._agui import routes as agui_routes
from ._catalog import Catalog
from ._config import ServeConfig
from ._guard import Guard
from ._http import BadRequest, error
from ._openai_api import chat_completions, list_models
from ._runs import RunManager
from ._runs_api import routes as runs_routes

__all__ = ["STATIC", "Server", "bind", "create_app", "run_server", "uvicorn_config"]

STATIC = Path(__file__).resolve().parent / "static"  # the page: plain HTML, CSS and JS (package data)


@dataclass
class Server:
    """What every route shares: the scenarios on offer, the runs, the settings."""

    catalog: Catalog
    runs: RunManager
    config: ServeConfig

    def busy(self) -> JSONResponse:
        """503 while `--max-runs` runs are going; clients that retry wait the `Retry-After`."""
        n = self.config.max_runs
        return error(
            503,
            f"the server is running {n} run(s), its limit (--max-runs {n}); try again when one ends",
            code="too_many_runs",
            headers={"Retry-After": "2"},
        )


async def health(request: Any) -> JSONResponse:
    server: Server = request.app.state.troupe
    return JSONResponse(
        {
            "ok": True,
            "scenarios": len(server.catalog.offered),
            "runs": server.runs.active,
            "max_runs": server.config.max_runs,
        }
    )


async def page(request: Any) -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html")


async def _server_error(request: Any, exc: Exception) -> JSONResponse:
    """A failure of the server itself: the client gets one line in the APIs' shape, the log the traceback
    (Starlette raises the exception on to uvicorn, which logs it)."""
    return error(500, f"the server failed on {request.method} {request.url.path} ({type(exc).__name__})")


async def _bad_request(request: Any, exc: Exception) -> JSONResponse:
    """A BadRequest, or Starlette's own 404/405, in the APIs' one error shape."""
    if isinstance(exc, BadRequest):
        return exc.response()
    status = getattr(exc, "status_code", 500)
    return error(status, f"{request.method} {request.url.path}: {getattr(exc, 'detail', exc)}")


def create_app(config: ServeConfig, catalog: Catalog | None = None, *, clients: Any = None) -> Starlette:
    """The app for `config`, serving `catalog` (default: the scenarios of `Catalog.find()`).

    `clients` replaces the live models with a client source (tests and benchmarks: a ScriptedClient);
    everything else — scenario files, teams, transcripts — is real.
    """
    catalog = catalog if catalog is not None else Catalog.find()
    server = Server(catalog=catalog, runs=RunManager(catalog, config, clients=clients), config=config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await server.runs.aclose()  # stopping the server stops its runs; their transcripts are closed
        await agents_of(app).aclose()

    routes = [
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/api/health", health, methods=["GET"]),
        *runs_routes,
        *agui_routes,
        *a2a_routes,
        Route("/", page, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(Guard, config=config)]
    if config.cors:  # outside the guard: it answers the browser's preflight, which carries no token
        cors = Middleware(
            CORSMiddleware,
            allow_origins=list(config.cors),
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type", "last-event-id"],
            expose_headers=["x-troupe-run-id", "retry-after"],
            max_age=600,
        )
        middleware.insert(0, cors)
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=middleware,
        exception_handlers={
            BadRequest: _bad_request,
            404: _bad_request,
            405: _bad_request,
            Exception: _server_error,
        },
    )
    app.state.troupe = server
    app.state.troupe_agui = AguiThreads()  # which team run each AG-UI thread is on
    return app


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on `host:port` (port 0: a free one), IPv4 or IPv6 as the host says."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


LOGGER = "autogen_troupe.serve"
"""The server's own log (a line per run started and ended), on uvicorn's console handler."""


def log_config() -> dict[str, Any]:
    """uvicorn's logging setup, with the server's own logger beside its loggers: INFO lines on stderr."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"][LOGGER] = {"handlers": ["default"], "level": logging.INFO, "propagate": False}
    return config


def uvicorn_config(app: Starlette) -> Any:
    """How uvicorn serves the app: its own lines from warnings up, the server's run lines, no `Server`
    header, open streams get 5 s at shutdown."""
    import uvicorn

    return uvicorn.Config(
        app,
        log_config=log_config(),
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        server_header=False,
    )


def run_server(app: Starlette, sock: socket.socket, *, on_ready: Callable[[], None] | None = None) -> None:
    """Serve `app` on `sock` until Ctrl-C or SIGTERM (uvicorn's own handling: open streams get a few
    seconds, then every run still going is stopped and its transcript closed)."""
    import uvicorn

    server = uvicorn.Server(uvicorn_config(app))
    if on_ready is not None:
        original = server.startup

        async def startup(sockets: Any = None) -> None:
            await original(sockets=sockets)
            if server.started:
                on_ready()

        server.startup = startup  # type: ignore[method-assign]
    server.run(sockets=[sock])
