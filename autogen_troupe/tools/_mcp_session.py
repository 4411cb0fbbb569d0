"""One MCP server of a run: its child process or HTTP link, its session, and its single restart.

Each live connection is owned by a background task of its own, because the MCP SDK's sessions hold anyio
task groups that must be entered and left by one task, while agents call tools (and so may trigger a
restart) from many tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import IO, Any

import anyio
import anyio.abc
import httpx2
import mcp_types
from anyio.streams.text import TextReceiveStream
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ListenNotSupportedError
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage

from ..errors import ToolCallError
from ..models._network import check_endpoint
from ..models._redact import (
    is_secret_name,
    redact_command,
    redact_text,
    remember_secrets,
    safe_url,
    secrets_in_argv,
    secrets_in_env,
    secrets_in_text,
)
from ..scenario._schema import HttpServer, StdioServer
from ._process_tree import ProcessTree

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

__all__ = ["BASIC_ENV", "MAX_RESTARTS", "ServerHandle", "child_environment"]

logger = logging.getLogger(__name__)

BASIC_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SYSTEMROOT")
"""Variables every stdio child gets from our environment (when set); everything else must be asked for."""

MAX_RESTARTS = 1
"""How often a server that died mid-run is started again before its tools only return errors."""

_STDERR_TAIL_LINES = 20
_STDERR_TAIL_BYTES = 64 * 1024
_STDIN_GRACE_S = 0.5  # a server that reads EOF on stdin should exit in this time
_TERM_GRACE_S = 1.5  # then SIGTERM, and SIGKILL after this (the child, then its descendants)
_REAP_S = 2.0  # time for the event loop to see a killed child die
_OWNER_EXIT_S = 8.0  # bound on a whole orderly close (the waits above add up to 7 s), then kill
_EXIT_POLL_S = 0.01
_CONNECTION_LOST = (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream)


def child_environment(server: StdioServer) -> dict[str, str]:
    """The whole environment of a stdio child: basics, then `pass_env` names, then `env` as given.

    Nothing else of ours reaches the child, so API keys in our environment stay with us.
    """
    env = {k: os.environ[k] for k in BASIC_ENV if k in os.environ}
    env.update({k: os.environ[k] for k in server.pass_env if k in os.environ})
    env.update(server.env)
    return env


def _resolve_command(server: StdioServer, env: dict[str, str]) -> str | None:
    """The executable to start, or None when it cannot be found.

    `python`/`python3` mean our own interpreter: another one on PATH would lack the server's package and
    fail with nothing but "Connection closed".
    """
    if server.command in ("python", "python3"):
        return sys.executable
    if os.sep in server.command or (os.altsep and os.altsep in server.command):
        base = server.cwd or os.getcwd()
        path = os.path.join(base, os.path.expanduser(server.command))
        return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
    return shutil.which(server.command, path=env.get("PATH", os.defpath))


def _not_found(server: StdioServer, env: dict[str, str]) -> str:
    """Why the command cannot be started: missing, a folder, or a file without execute permission."""
    command = server.command
    if os.sep in command or (os.altsep and os.altsep in command):
        path = os.path.normpath(os.path.join(server.cwd or os.getcwd(), os.path.expanduser(command)))
        candidates = [path]
        where = ""
    else:
        dirs = env.get("PATH", os.defpath).split(os.pathsep)
        candidates = [os.path.join(d or ".", command) for d in dirs]
        where = " on PATH"
    for path in candidates:
        shown = repr(command) if path == command else f"{command!r} ({path})"
        if os.path.isdir(path) and where == "":
            return f"cannot start: command {shown} is a folder, not a program"
        if os.path.isfile(path) and not os.access(path, os.X_OK):
            return (
                f"cannot start: command {shown} is not executable; make it executable "
                f"(chmod +x {shlex.quote(path)}) or start it through its interpreter"
            )
    return f"cannot start: command {command!r} was not found{where}"


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


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


async def _wait_exit(proc: anyio.abc.Process, timeout_s: float) -> bool:
    """Whether the process is gone within the timeout (polls returncode; `wait()` also waits for pipes)."""
    deadline = anyio.current_time() + timeout_s
    while proc.returncode is None:
        if anyio.current_time() >= deadline:
            return False
        await anyio.sleep(_EXIT_POLL_S)
    return True


async def _stop_process(proc: anyio.abc.Process, tree: ProcessTree, *, grace_s: float) -> bool:
    """Close stdin, wait `grace_s`, SIGTERM the tree, wait, SIGKILL it; then end the descendants left
    (also those in sessions of their own); every wait bounded.

    Returns whether the process ended by itself, before any signal of ours.
    """
    tree.refresh()  # while the child lives, its descendants can still be found from it
    if proc.stdin is not None:
        with contextlib.suppress(OSError, *_CONNECTION_LOST):
            await proc.stdin.aclose()
    exited_itself = await _wait_exit(proc, grace_s)
    if not exited_itself:
        tree.signal(signal.SIGTERM)
        if not await _wait_exit(proc, _TERM_GRACE_S):
            tree.kill()
            if not await _wait_exit(proc, _REAP_S):
                logger.warning("MCP server process %d survived SIGKILL; abandoning it", proc.pid)
    tree.signal(signal.SIGTERM)  # helpers it may have left in its group, or that it could not stop
    survivors = await tree.end_descendants(_TERM_GRACE_S)
    if survivors:
        logger.warning("MCP server %d left processes that survived SIGKILL: %s", proc.pid, survivors)
    return exited_itself


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
        self.proc: anyio.abc.Process | None = None
        self.tree: ProcessTree | None = None  # the child and its descendants (stdio)
        self.stderr: IO[bytes] | None = None
        self.lost = False  # set once the transport saw the other side go away
        self.exited_itself = False  # the child ended before we signalled it
        self._stop = asyncio.Event()
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._ready.add_done_callback(lambda f: f.cancelled() or f.exception())  # never "not retrieved"
        self._task: asyncio.Task[None] | None = None
        self._tools_changed = asyncio.Event()

    # ---------------------------------------------------------------- transports

    @asynccontextmanager
    async def _stdio(self, server: StdioServer, argv: list[str], env: dict[str, str]) -> AsyncIterator[Any]:
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in release()
        proc = await anyio.open_process(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=env,
            cwd=server.cwd,
            start_new_session=True,  # Ctrl-C stays with us; we stop the child in order
        )
        self.proc = proc
        self.tree = ProcessTree(proc.pid)
        self.handle.note_pid(proc.pid)
        read_send, read_recv = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        write_send, write_recv = anyio.create_memory_object_stream[SessionMessage](0)

        async def pump_stdout() -> None:
            assert proc.stdout is not None
            try:
                async with read_send:
                    buffer = ""
                    async for chunk in TextReceiveStream(proc.stdout, errors="replace"):
                        *lines, buffer = (buffer + chunk).split("\n")
                        for line in lines:
                            if not line.strip():
                                continue
                            try:
                                message = mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                            except ValueError:
                                logger.debug("MCP server %r wrote a non-JSON-RPC line", self.handle.name)
                                continue
                            await read_send.send(SessionMessage(message))
            except (OSError, *_CONNECTION_LOST):
                pass
            finally:
                self.lost = True

        async def pump_stdin() -> None:
            assert proc.stdin is not None
            try:
                async with write_recv:
                    async for item in write_recv:
                        data = item.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n"
                        await proc.stdin.send(data.encode())
            except (OSError, *_CONNECTION_LOST):
                self.lost = True
                await read_send.aclose()  # wake waiting requests instead of leaving them hanging

        async with anyio.create_task_group() as tg:
            tg.start_soon(pump_stdout)
            tg.start_soon(pump_stdin)
            try:
                yield read_recv, write_send
            finally:
                with anyio.CancelScope(shield=True):
                    write_send.close()
                    # A session that ran, or a child whose stdout ended, gets time to exit by itself;
                    # one that hangs in its handshake gets SIGTERM at once.
                    grace = _STDIN_GRACE_S if self.client is not None or self.lost else 0.0
                    assert self.tree is not None
                    self.exited_itself = await _stop_process(proc, self.tree, grace_s=grace)
                    for stream in (proc.stdout, read_recv, write_send):
                        if stream is not None:
                            with contextlib.suppress(OSError, *_CONNECTION_LOST):
                                await stream.aclose()
                    with anyio.move_on_after(_REAP_S):
                        await proc.aclose()
                tg.cancel_scope.cancel()

    @asynccontextmanager
    async def _http(self, server: HttpServer) -> AsyncIterator[Any]:
        timeout = httpx2.Timeout(30.0, read=300.0)
        async with (
            httpx2.AsyncClient(headers=server.headers, timeout=timeout) as http,
            streamable_http_client(server.url, http_client=http) as streams,
        ):
            yield streams

    # ---------------------------------------------------------------- lifetime

    def _transport(self) -> AbstractAsyncContextManager[Any]:
        server = self.handle.server
        if isinstance(server, StdioServer):
            return self._stdio(server, self.handle.argv, self.handle.env)
        return self._http(server)

    async def _own(self) -> None:
        """Enter transport and session, list the tools, then hold both until asked to stop.

        Meanwhile the tool list follows the server's changes, so agents see tools added or removed
        mid-run at their next model call.
        """
        try:
            async with Client(self._transport(), cache=None, message_handler=self._on_message) as client:
                tools = await _all_tools(client)
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
            self.lost = True
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
        """Start and handshake; raises ToolCallError saying what went wrong."""
        self._task = asyncio.create_task(self._own(), name=f"mcp-server-{self.handle.name}")
        try:
            done, _ = await asyncio.wait({self._ready}, timeout=timeout_s)  # raises only if we are cancelled
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
        if isinstance(exc, OSError) and self.proc is None:
            return f"cannot start: {exc.strerror or exc}"
        if self.proc is not None and self.exited_itself and self.proc.returncode is not None:
            return f"{_exit_text(self.proc.returncode)} during startup"
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
                        await asyncio.wait({task}, timeout=_REAP_S)
        finally:
            self.kill_now()

    def kill_now(self) -> None:
        """Last resort when an orderly stop could not run or finish (a second Ctrl-C): SIGKILL the child
        and every descendant seen, without waiting."""
        if self.tree is not None and (
            (self.proc is not None and self.proc.returncode is None) or self.tree.descendants()
        ):
            self.tree.kill()

    def release(self) -> None:
        """Drop the captured stderr; only once the run is over, since error messages quote it."""
        if self.stderr is not None:
            self.stderr.close()

    def stderr_tail(self, lines: int = _STDERR_TAIL_LINES) -> list[str]:
        if self.stderr is None or self.stderr.closed:
            return []
        try:
            self.stderr.flush()
            size = self.stderr.seek(0, os.SEEK_END)
            self.stderr.seek(max(0, size - _STDERR_TAIL_BYTES))
            text = self.stderr.read().decode("utf-8", errors="replace")
        except (OSError, ValueError):
            return []
        return [line.rstrip() for line in text.splitlines() if line.strip()][-lines:]


class ServerHandle:
    """A named server of the run: opens it, restarts it once after a crash, and calls its tools."""

    def __init__(self, name: str, server: StdioServer | HttpServer, note_pid: Callable[[int], None]) -> None:
        self.name = name
        self.server = server
        self.note_pid = note_pid
        remember_secrets(_server_secrets(server))  # masked in every message, transcript and tool result
        self.env: dict[str, str] = {}
        self.argv: list[str] = []
        if isinstance(server, StdioServer):
            self.env = child_environment(server)
            exe = _resolve_command(server, self.env)
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
                raise ToolCallError(self.describe(_not_found(server, self.env), None))
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
            return await live.client.call_tool(name, arguments, read_timeout_seconds=timeout_s)
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
        except _CONNECTION_LOST:
            raise _Lost from None
        except httpx2.HTTPError as exc:
            raise ToolCallError(
                redact_text(
                    f"MCP server {self.name!r} ({self.where()}) could not be reached: "
                    f"{type(exc).__name__}: {exc}"
                )
            ) from None
        finally:  # processes the tool started are found now, while the server still lives
            if live.tree is not None:
                live.tree.refresh()

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
            await _wait_exit(live.proc, 1.0)
            if live.proc.returncode is not None:
                return f"{_exit_text(live.proc.returncode)} mid-run"
        return "closed the connection mid-run"

    async def _give_up(self, live: _Live) -> str:
        crash = await self._crash_text(live)
        what = f"{crash} after being restarted once; its tools stay unavailable for the rest of this run"
        self._down = self.describe(what, live)
        await live.close()
        return self._down


class _Lost(Exception):
    """The connection went away under a call."""
