"""One MCP server of a run: its connection (a child process, see `_mcp_stdio`, or an HTTP link), its
session, and its single restart.

Each live connection is owned by a background task of its own, because the MCP SDK's sessions hold anyio
task groups that must be entered and left by one task, while agents call tools (and so may trigger a
restart) from many tasks.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import httpx2
import mcp_types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ListenNotSupportedError
from mcp.shared.exceptions import MCPError

from .._redact import (
    is_secret_name,
    redact_command,
    redact_text,
    remember_secrets,
    safe_url,
    secrets_in_argv,
    secrets_in_env,
    secrets_in_text,
)
from ..errors import ToolCallError
from ..models._network import check_endpoint
from ..scenario._schema import HttpServer, StdioServer
from ._mcp_auth import HttpLink, login_ui
from ._mcp_client import McpClientOptions, RunningCalls, client_kwargs, progress_callback
from ._mcp_resources import Catalogue, list_catalogue
from ._mcp_stdio import (
    CONNECTION_LOST,
    REAP_S,
    StdioChild,
    child_environment,
    exit_text,
    not_found,
    resolve_command,
    wait_exit,
)

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

__all__ = ["MAX_RESTARTS", "ServerHandle"]

logger = logging.getLogger(__name__)

MAX_RESTARTS = 1
"""How often a server that died mid-run is started again before its tools only return errors."""

_OWNER_EXIT_S = 8.0  # bound on a whole orderly close (a child's stop waits up to 7 s in all), then kill


def _server_secrets(server: StdioServer | HttpServer) -> set[str]:
    """Credentials in a server's settings: secret-named env values, secret args, headers, URL."""
    out: set[str] = set()
    if isinstance(server, StdioServer):
        out |= secrets_in_env(server.env)
        out.update(secrets_in_argv(server.args))
        out.update(secrets_in_text(server.command))
    else:
        out.update(secrets_in_text(server.url))
        for k, v in server.headers.items():
            if is_secret_name(k):
                out.update((v, v.split(" ", 1)[-1]))
            out.update(secrets_in_text(f"{k}: {v}"))
    return out


def _leaf(exc: BaseException) -> BaseException:
    """The first meaningful exception inside nested exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        inner = [e for e in exc.exceptions if not isinstance(e, asyncio.CancelledError)]
        exc = (inner or list(exc.exceptions))[0]
    return exc


async def _all_tools(client: Client) -> list[mcp_types.Tool]:
    tools: list[mcp_types.Tool] = []
    cursor: str | None = None
    while True:
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            return tools


class _Live:
    """One connection: a started child (stdio) or an HTTP link, with its session, owned by one task."""

    def __init__(self, handle: ServerHandle) -> None:
        self.handle = handle
        self.client: Client | None = None
        self.tools: list[mcp_types.Tool] = []
        self.catalogue = Catalogue()
        server = handle.server
        self.child = StdioChild(handle.name, handle.note_pid) if isinstance(server, StdioServer) else None
        self._lost = False  # set once the session ended under us
        self._stop = asyncio.Event()
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._ready.add_done_callback(lambda f: f.cancelled() or f.exception())  # never "not retrieved"
        self._task: asyncio.Task[None] | None = None
        self._tools_changed = asyncio.Event()
        self.link = HttpLink(handle.name, server) if isinstance(server, HttpServer) else None

    @property
    def proc(self) -> anyio.abc.Process | None:
        """The child process (stdio), once started."""
        return self.child.proc if self.child is not None else None

    @property
    def lost(self) -> bool:
        """Whether the other side went away: the child's pipes closed, or the session ended."""
        return self._lost or (self.child is not None and self.child.lost)

    # ---------------------------------------------------------------- transports

    def _transport(self) -> AbstractAsyncContextManager[Any]:
        server = self.handle.server
        if isinstance(server, StdioServer):
            assert self.child is not None
            return self.child.streams(
                server, self.handle.argv, self.handle.env, session_ran=lambda: self.client is not None
            )
        return self._http(server)

    @asynccontextmanager
    async def _http(self, server: HttpServer) -> AsyncIterator[Any]:
        assert self.link is not None
        async with (
            self.link.client() as http,  # headers, timeouts, OAuth
            streamable_http_client(server.url, http_client=http) as streams,
        ):
            yield streams

    # ---------------------------------------------------------------- lifetime

    async def _own(self) -> None:
        """Enter transport and session, list the tools, then hold both until asked to stop.

        Meanwhile the tool list follows the server's changes, so agents see tools added or removed
        mid-run at their next model call.
        """
        try:
            kwargs = client_kwargs(self.handle.options)
            async with Client(
                self._transport(), cache=None, message_handler=self._on_message, **kwargs
            ) as client:
                tools = await _all_tools(client)
                self.catalogue = await list_catalogue(client)
                self.client, self.tools = client, tools
                self._ready.set_result(None)
                following = [
                    asyncio.create_task(self._listen_for_tool_changes(client)),
                    asyncio.create_task(self._refresh_tools(client)),
                ]
                try:
                    await self._stop.wait()
                finally:
                    for task in following:
                        task.cancel()
                    await asyncio.gather(*following, return_exceptions=True)
        except BaseException as exc:  # the task ends here; whoever waits on _ready learns why
            self._lost = True
            if not self._ready.done():
                if isinstance(exc, Exception):
                    self._ready.set_exception(_leaf(exc))
                else:
                    self._ready.cancel()
            elif not isinstance(exc, asyncio.CancelledError):
                logger.debug("MCP server %r connection ended: %r", self.handle.name, exc)
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise

    # ---------------------------------------------------------------- tool list changes

    async def _on_message(self, message: Any) -> None:
        """Servers before protocol 2026-07-28 announce a changed tool list with a notification."""
        if isinstance(message, mcp_types.ToolListChangedNotification):
            self._tools_changed.set()

    async def _listen_for_tool_changes(self, client: Client) -> None:
        """From protocol 2026-07-28 on, changes come only to a `subscriptions/listen` stream we open."""
        try:
            async with client.listen(tools_list_changed=True) as changes:
                async for _ in changes:
                    self._tools_changed.set()
        except ListenNotSupportedError:
            pass  # an older server: _on_message hears its notifications
        except Exception as exc:  # it does not offer the stream, or the connection went: keep the list
            logger.debug("MCP server %r: no tool-list subscription: %r", self.handle.name, exc)

    async def _refresh_tools(self, client: Client) -> None:
        while True:
            await self._tools_changed.wait()
            self._tools_changed.clear()
            try:
                self.tools = await _all_tools(client)
            except Exception as exc:  # a lost connection shows at the next call; keep the last list
                logger.debug("MCP server %r: listing changed tools failed: %r", self.handle.name, exc)

    async def open(self, timeout_s: float) -> None:
        """Start and handshake within `timeout_s`, not counting time a person spends logging in (OAuth in
        `troupe mcp`); raises ToolCallError saying what went wrong."""
        self._task = asyncio.create_task(self._own(), name=f"mcp-server-{self.handle.name}")
        ui, loop = login_ui.get(), asyncio.get_running_loop()
        person_before = ui.person_s() if ui is not None else 0.0
        deadline = loop.time() + timeout_s
        try:
            while True:  # the deadline moves on by the time a person spent logging in meanwhile
                moved = deadline + (ui.person_s() - person_before if ui is not None else 0.0)
                left = moved - loop.time()
                done, _ = await asyncio.wait({self._ready}, timeout=max(left, 0))  # raises only if cancelled
                if done or left <= 0:
                    break
        except BaseException:
            await self.close()
            raise
        if not done:
            what = f"did not finish starting (handshake and tool listing) within {timeout_s:g} s"
        elif self._ready.cancelled():
            what = "was stopped while starting, because the run ended"
        elif (exc := self._ready.exception()) is not None:
            what = await self._startup_failure(exc)
        else:
            return
        await self.close()
        raise ToolCallError(self.handle.describe(what, self))

    async def _startup_failure(self, exc: BaseException) -> str:
        proc, child = self.proc, self.child
        if isinstance(exc, OSError) and proc is None:
            return f"cannot start: {exc.strerror or exc}"
        if proc is not None and child is not None and child.exited_itself and proc.returncode is not None:
            return f"{exit_text(proc.returncode)} during startup"
        if self.link is not None and (auth_problem := self.link.failure(exc)):
            return auth_problem
        if isinstance(exc, MCPError) and exc.code == mcp_types.CONNECTION_CLOSED:
            return "closed the connection during startup"
        if isinstance(exc, MCPError):
            return f"answered the handshake with an error: {exc.message}"
        if isinstance(exc, httpx2.HTTPError):
            return f"could not be reached: {type(exc).__name__}: {exc}"
        return f"failed to start: {type(exc).__name__}: {exc}"

    def usable(self) -> bool:
        return self.client is not None and not self.lost and not self._stop.is_set()

    async def close(self) -> None:
        """Stop the session and the child; bounded in time, and it finishes even when we are cancelled."""
        self._stop.set()
        task = self._task
        try:
            if task is not None and not task.done():
                if self.client is None:
                    task.cancel()  # still starting: nothing to end politely
                with anyio.CancelScope(shield=True):
                    done, _ = await asyncio.wait({task}, timeout=_OWNER_EXIT_S)
                    if not done:
                        task.cancel()
                        await asyncio.wait({task}, timeout=REAP_S)
        finally:
            self.kill_now()

    def kill_now(self) -> None:
        """Last resort when an orderly stop could not run or finish (a second Ctrl-C): SIGKILL the child
        and every descendant seen, without waiting."""
        if self.child is not None:
            self.child.kill_now()

    def release(self) -> None:
        """Drop the captured stderr; only once the run is over, since error messages quote it."""
        if self.child is not None:
            self.child.release()

    def stderr_tail(self) -> list[str]:
        return self.child.stderr_tail() if self.child is not None else []


class ServerHandle:
    """A named server of the run: opens it, restarts it once after a crash, and calls its tools."""

    def __init__(
        self,
        name: str,
        server: StdioServer | HttpServer,
        note_pid: Callable[[int], None],
        options: McpClientOptions | None = None,
    ) -> None:
        self.name = name
        self.server = server
        self.note_pid = note_pid
        self._running = RunningCalls()
        self.options = self._running.attach(options or McpClientOptions(server=name))
        remember_secrets(_server_secrets(server))  # masked in every message, transcript and tool result
        self.env: dict[str, str] = {}
        self.argv: list[str] = []
        if isinstance(server, StdioServer):
            self.env = child_environment(server)
            exe = resolve_command(server, self.env)
            self.argv = [exe or server.command, *server.args]
            self._exe_found = exe is not None
        self._live: _Live | None = None
        self._all: list[_Live] = []
        self._restarts = 0
        self._down: str | None = None  # set once the server is given up for this run
        self._closed = False
        self._lock = asyncio.Lock()

    # ---------------------------------------------------------------- describing

    def where(self) -> str:
        if isinstance(self.server, StdioServer):
            return redact_command(self.argv)
        return safe_url(self.server.url)

    def describe(self, what: str, live: _Live | None) -> str:
        """A message naming the server, how it is reached, what happened and its stderr tail; redacted,
        as it reaches the console, the transcript and the model."""
        text = f"MCP server {self.name!r} ({self.where()}) {what}."
        if isinstance(self.server, StdioServer) and live is not None:
            tail = live.stderr_tail()
            if tail:
                text += "\nThe end of its stderr:\n" + "\n".join(f"  {t}" for t in tail)
            else:
                text += "\nIt wrote nothing to stderr."
        return redact_text(text)

    # ---------------------------------------------------------------- lifetime

    @property
    def tools(self) -> list[mcp_types.Tool]:
        return self._live.tools if self._live is not None else []

    async def open(self) -> None:
        self._live = await self._open_live()

    async def _open_live(self) -> _Live:
        server = self.server
        if isinstance(server, StdioServer):
            if server.cwd is not None and not os.path.isdir(server.cwd):
                raise ToolCallError(
                    self.describe(f"cannot start: its working directory {server.cwd!r} does not exist", None)
                )
            if not self._exe_found:
                raise ToolCallError(self.describe(not_found(server, self.env), None))
        else:
            check_endpoint(server.url, f"MCP server {self.name!r} at")
        if self._closed:
            raise ToolCallError(f"MCP server {self.name!r} is not running: the run is over.")
        live = _Live(self)
        self._all.append(live)
        await live.open(server.startup_timeout_s)
        return live

    async def close(self) -> None:
        """Close every connection this handle ever opened (normally just the current one)."""
        self._closed = True
        lives, self._all = self._all, []
        self._live = None
        try:
            for live in lives:
                await live.close()
        finally:
            for live in lives:
                live.release()

    def pids_alive(self) -> list[int]:
        return [lv.proc.pid for lv in self._all if lv.proc is not None and lv.proc.returncode is None]

    def kill_now(self) -> None:
        """SIGKILL every process this handle started, and their descendants, without waiting."""
        for live in self._all:
            live.kill_now()

    # ---------------------------------------------------------------- calling

    async def call_tool(
        self, name: str, arguments: dict[str, Any], timeout_s: float
    ) -> mcp_types.CallToolResult:
        """Call a tool; a lost connection is restarted once and the call retried.

        Raises ToolCallError with a message meant for the model (timeouts, crashes, protocol errors).
        """
        with self._running.running():
            return await self._call_with_restart(name, arguments, timeout_s)

    async def _call_with_restart(
        self, name: str, arguments: dict[str, Any], timeout_s: float
    ) -> mcp_types.CallToolResult:
        live = await self._current()
        try:
            return await self._call_once(live, name, arguments, timeout_s)
        except _Lost:
            pass
        live = await self._restart(live)
        try:
            return await self._call_once(live, name, arguments, timeout_s)
        except _Lost:
            raise ToolCallError(await self._give_up(live)) from None

    async def _call_once(
        self, live: _Live, name: str, arguments: dict[str, Any], timeout_s: float
    ) -> mcp_types.CallToolResult:
        assert live.client is not None
        try:
            return await live.client.call_tool(
                name,
                arguments,
                read_timeout_seconds=timeout_s,
                progress_callback=progress_callback(self.options, name),
            )
        except MCPError as exc:
            if exc.code == mcp_types.REQUEST_TIMEOUT:
                raise ToolCallError(
                    f"Tool {name!r} of MCP server {self.name!r} timed out after {timeout_s:g} s."
                ) from None
            if exc.code == mcp_types.CONNECTION_CLOSED or not live.usable():
                raise _Lost from None
            raise ToolCallError(
                redact_text(f"MCP server {self.name!r} refused the call to {name!r}: {exc.message}")
            ) from None
        except CONNECTION_LOST:
            raise _Lost from None
        except httpx2.HTTPError as exc:
            raise ToolCallError(
                redact_text(
                    f"MCP server {self.name!r} ({self.where()}) could not be reached: "
                    f"{type(exc).__name__}: {exc}"
                )
            ) from None
        finally:  # processes the tool started are found now, while the server still lives
            if live.child is not None and live.child.tree is not None:
                live.child.tree.refresh()

    @property
    def catalogue(self) -> Catalogue:
        """The resources, templates and prompts the server listed when it started."""
        return self._live.catalogue if self._live is not None else Catalogue()

    async def read_resource(self, uri: str, timeout_s: float) -> mcp_types.ReadResourceResult:
        """Read one resource; raises ToolCallError with a message meant for the model."""
        live = await self._current()
        assert live.client is not None
        return await self._request(live, f"reading {uri!r}", live.client.read_resource(uri), timeout_s)

    async def get_prompt(
        self, name: str, arguments: dict[str, str], timeout_s: float
    ) -> mcp_types.GetPromptResult:
        """Fetch one prompt; raises ToolCallError saying what went wrong."""
        live = await self._current()
        assert live.client is not None
        return await self._request(
            live, f"the prompt {name!r}", live.client.get_prompt(name, arguments), timeout_s
        )

    async def _request(self, live: _Live, what: str, call: Any, timeout_s: float) -> Any:
        """A request other than a tool call, bounded in time, its failures told in one sentence."""
        try:
            with anyio.fail_after(timeout_s):
                return await call
        except TimeoutError:
            raise ToolCallError(
                f"MCP server {self.name!r} did not answer {what} within {timeout_s:g} s."
            ) from None
        except MCPError as exc:
            raise ToolCallError(
                redact_text(f"MCP server {self.name!r} refused {what}: {exc.message}")
            ) from None
        except (*CONNECTION_LOST, httpx2.HTTPError) as exc:
            raise ToolCallError(
                redact_text(f"MCP server {self.name!r} ({self.where()}) failed {what}: {type(exc).__name__}")
            ) from None

    async def _current(self) -> _Live:
        live = self._live
        if live is not None and live.usable():
            return live
        if self._down is not None:
            raise ToolCallError(self._down)
        if live is None or self._closed:
            raise ToolCallError(f"MCP server {self.name!r} is not running: the run is over.")
        return await self._restart(live)

    async def _restart(self, failed: _Live) -> _Live:
        async with self._lock:
            if self._live is not failed and self._live is not None and self._live.usable():
                return self._live  # another caller restarted it meanwhile
            if self._down is not None:
                raise ToolCallError(self._down)
            if self._closed:
                raise ToolCallError(f"MCP server {self.name!r} is not running: the run is over.")
            if self._restarts >= MAX_RESTARTS:
                raise ToolCallError(await self._give_up(failed))
            self._restarts += 1
            crash = await self._crash_text(failed)
            logger.warning("MCP server %r %s; restarting it", self.name, crash)
            await failed.close()
            try:
                self._live = await self._open_live()
            except ToolCallError as exc:
                self._down = f"{self.describe(crash, failed)}\nIts restart failed: {exc}"
                raise ToolCallError(self._down) from None
            return self._live

    async def _crash_text(self, live: _Live) -> str:
        if live.proc is not None:
            await wait_exit(live.proc, 1.0)
            if live.proc.returncode is not None:
                return f"{exit_text(live.proc.returncode)} mid-run"
        return "closed the connection mid-run"

    async def _give_up(self, live: _Live) -> str:
        crash = await self._crash_text(live)
        what = f"{crash} after being restarted once; its tools stay unavailable for the rest of this run"
        self._down = self.describe(what, live)
        await live.close()
        return self._down


class _Lost(Exception):
    """The connection went away under a call."""
