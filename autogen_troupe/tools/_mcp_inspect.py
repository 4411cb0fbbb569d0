"""The inspector behind `troupe mcp`: one MCP server, named by a URL, a command or `scenario.yaml:name`,
opened like a run opens it (same child handling, same OAuth) but with a person at the keyboard: a server
that needs a login gets one, and its questions (elicitation) follow the policy given.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .._redact import redact_text
from ..errors import McpAuthError, ToolCallError, UsageError
from ..scenario._mcp_auth import McpAuth
from ..scenario._schema import HttpServer, StdioServer

if TYPE_CHECKING:
    from mcp import Client

    from ._mcp_auth import LoginUI
    from ._mcp_client import McpClientOptions
    from ._mcp_session import ServerHandle

__all__ = ["Target", "auth_from_options", "open_server", "resolve_target"]


@dataclass(frozen=True)
class Target:
    """The server to inspect: its name (for messages), its settings, and the scenario it came from."""

    name: str
    server: StdioServer | HttpServer
    source: Path | None = None

    @property
    def url(self) -> str | None:
        return self.server.url if isinstance(self.server, HttpServer) else None


def _scenario_ref(spec: str) -> tuple[Path, str] | None:
    """`path.yaml:name` (a YAML file that exists, then a server name), or None."""
    head, sep, name = spec.rpartition(":")
    if sep and name and head.lower().endswith((".yaml", ".yml")) and Path(head).is_file():
        return Path(head), name
    return None


def resolve_target(spec: str) -> Target:
    """Read SERVER as the `troupe mcp` commands take it; UsageError or ScenarioError if it is not one."""
    spec = spec.strip()
    if not spec:
        raise UsageError("SERVER is empty: give a URL, a command, or scenario.yaml:name")
    if spec.startswith(("http://", "https://")):
        try:
            return Target("server", HttpServer(url=spec))
        except ValidationError:
            raise UsageError(f"{spec!r} is not an http:// or https:// URL") from None
    ref = _scenario_ref(spec)
    if ref is not None:
        from ..scenario._loader import load_scenario

        path, name = ref
        scenario = load_scenario(path)
        if name not in scenario.mcp_servers:
            known = ", ".join(sorted(scenario.mcp_servers)) or "none"
            raise UsageError(f"{path} has no MCP server named {name!r} (its servers: {known})")
        return Target(name, scenario.mcp_servers[name], path)
    try:
        argv = shlex.split(spec)
    except ValueError as e:
        raise UsageError(f"cannot read the command {spec!r}: {e}") from None
    if len(argv) == 1 and re.search(r"\.ya?ml(:[^/\\]*)?$", spec, re.IGNORECASE):
        raise UsageError(f"{spec!r}: name a scenario's server as FILE.yaml:SERVER, with a file that exists")
    return Target(_command_name(argv), StdioServer(command=argv[0], args=tuple(argv[1:])))


def _command_name(argv: list[str]) -> str:
    """A short name for a command's server in messages: its module, its script, or its program."""
    if "-m" in argv[:-1]:
        return argv[argv.index("-m") + 1]
    script = next((a for a in argv[1:] if a.endswith((".py", ".js", ".ts"))), None)
    return Path(script or argv[0]).stem or "server"


def auth_from_options(target: Target, options: dict[str, Any], headers: dict[str, str]) -> Target:
    """The target with the command line's auth options and headers laid over its own `auth:`."""
    given = {k: v for k, v in options.items() if v is not None}
    if not given and not headers:
        return target
    if not isinstance(target.server, HttpServer):
        raise UsageError("auth options and --header only apply to HTTP servers (a URL)")
    base = target.server.auth.model_dump(exclude_unset=True) if target.server.auth is not None else {}
    if (given.get("grant") or base.get("grant")) == "identity_assertion" and not (
        given.get("id_token") or base.get("id_token")
    ):
        given["id_token"] = os.environ.get("TROUPE_MCP_ID_TOKEN")  # kept off the command line
    try:
        auth = McpAuth.model_validate(base | given) if given or target.server.auth else None
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, x['loc'])) or 'auth'}: {x['msg']}" for x in e.errors())
        raise UsageError(f"auth options: {problems}") from None
    server = target.server.model_copy(update={"auth": auth, "headers": {**target.server.headers, **headers}})
    return Target(target.name, server, target.source)


def _client(handle: ServerHandle) -> Client:
    live = handle._live
    if live is None or live.client is None:  # open() returned, so it is there
        raise McpAuthError(handle.name, "is not connected")
    return live.client


@asynccontextmanager
async def open_server(
    target: Target, *, login: LoginUI, options: McpClientOptions | None = None
) -> AsyncIterator[tuple[ServerHandle, Client]]:
    """Start or reach the server, log in if it asks (and a person can), list its tools; close it after."""
    import httpx2
    from mcp.shared.exceptions import MCPError

    from ._mcp_auth import using_login
    from ._mcp_session import ServerHandle

    server = target.server  # its startup_timeout_s does not count a person's login (see LoginUI)
    pids: list[int] = []
    handle = ServerHandle(target.name, server, pids.append, options)
    try:
        with using_login(login):
            await handle.open()
        try:
            yield handle, _client(handle)
        except MCPError as e:  # the server refused the request: a sentence, not a traceback
            raise ToolCallError(redact_text(f"MCP server {target.name!r} answered: {e.message}")) from None
        except httpx2.HTTPError as e:
            raise ToolCallError(
                redact_text(f"MCP server {target.name!r} could not be reached: {type(e).__name__}: {e}")
            ) from None
    finally:
        await handle.close()
        handle.kill_now()
