"""Command-line transport options shared by our MCP servers: stdio by default, `--http PORT` for HTTP."""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:  # importing the SDK costs about a second; argument errors should not wait for it
    from mcp.server.mcpserver import MCPServer

__all__ = ["add_transport_args", "serve"]


def add_transport_args(parser: argparse.ArgumentParser) -> None:
    """Add `--http PORT` and `--host HOST` to a server's argument parser."""
    group = parser.add_argument_group("transport (stdio unless --http is given)")
    group.add_argument(
        "--http",
        type=_port,
        metavar="PORT",
        help="serve streamable HTTP on PORT (path /mcp) instead of stdio",
    )
    group.add_argument("--host", default="127.0.0.1", help="interface for --http (default: %(default)s)")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return port


def _check_listen(host: str, port: int) -> str | None:
    """Why `host:port` cannot be listened on, or None; uvicorn would only print a traceback."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as e:
        return f"cannot resolve host {host!r}: {e.strerror or e}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as e:
            return f"cannot listen on {host}:{port}: {e.strerror or e}"
    return None


def serve(
    server: MCPServer,
    args: argparse.Namespace,
    *,
    background: Callable[[], Coroutine[Any, Any, None]] | None = None,  # an async function
) -> None:
    """Run `server` on the transport `args` chose; `background` runs beside it (e.g. building an index)."""

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            if background is not None:
                tg.start_soon(background)
            if args.http is None:
                await server.run_stdio_async()
            else:
                url = f"http://{args.host}:{args.http}/mcp"
                print(f"{server.name}: serving on {url}", file=sys.stderr, flush=True)
                await server.run_streamable_http_async(host=args.host, port=args.http)
            tg.cancel_scope.cancel()

    if args.http is not None and (problem := _check_listen(args.host, args.http)):
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(main)
