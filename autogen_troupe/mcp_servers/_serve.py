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

__all__ = ["add_transport_args", "package_version", "serve", "tools_only"]

_NOT_SERVED = frozenset(
    {"prompts/list", "prompts/get", "resources/list", "resources/read", "resources/templates/list"}
)
_DECLARING = frozenset({"initialize", "server/discover"})  # the answers that carry the capabilities


def package_version() -> str:
    """autogen-troupe's version, which our servers report in their serverInfo."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("autogen-troupe")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


async def tools_only(ctx: Any, call_next: Any) -> Any:
    """Server middleware (`MCPServer(middleware=[tools_only])`) for a server that serves only tools.

    MCPServer registers prompt and resource handlers, and so declares both capabilities, even with none
    to serve, which sends clients looking for what is not there; it has no option to leave them out.
    Through the SDK's public middleware chain, which wraps every request (the handshake included), the
    two capabilities are taken out of the answers that declare them (`initialize`, and `server/discover`
    from protocol 2026-07-28 on) and their methods answer "Method not found", as for any method a server
    does not serve. Both are the protocol's own wire shapes, not the SDK's internals.
    """
    if ctx.method in _NOT_SERVED:
        from mcp.shared.exceptions import MCPError
        from mcp.types import METHOD_NOT_FOUND

        raise MCPError(code=METHOD_NOT_FOUND, message="Method not found", data=ctx.method)
    result = await call_next(ctx)
    if ctx.method not in _DECLARING:
        return result
    if hasattr(result, "model_dump"):  # the SDK hands the wire dict today; a model is dumped to one
        result = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    if isinstance(result, dict) and isinstance(result.get("capabilities"), dict):
        capabilities = {k: v for k, v in result["capabilities"].items() if k not in ("prompts", "resources")}
        result = {**result, "capabilities": capabilities}
    return result


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
