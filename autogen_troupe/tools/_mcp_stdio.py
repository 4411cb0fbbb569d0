"""The child process of a stdio MCP server: what it is started with, its pipes, and how it is stopped.

The child gets only the environment it asks for (API keys in ours stay with us), runs in a session of its
own (Ctrl-C stays with us; we stop it in order), keeps its stderr in a file for error messages, and is
stopped politely first (stdin closed), then by signals, together with every descendant seen; every wait
is bounded.
"""

from __future__ import annotations

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
from contextlib import asynccontextmanager
from typing import IO, Any

import anyio
import anyio.abc
import mcp_types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from anyio.streams.text import TextReceiveStream
from mcp.shared.message import SessionMessage

from ..scenario._schema import StdioServer
from ._process_tree import ProcessTree

__all__ = [
    "BASIC_ENV",
    "CONNECTION_LOST",
    "StdioChild",
    "child_environment",
    "exit_text",
    "not_found",
    "resolve_command",
    "wait_exit",
]

logger = logging.getLogger(__name__)

BASIC_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SYSTEMROOT")
"""Variables every stdio child gets from our environment (when set); everything else must be asked for."""

CONNECTION_LOST = (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream)
"""What a stream raises once the other side went away."""

_STDERR_TAIL_LINES = 20
_STDERR_TAIL_BYTES = 64 * 1024
_STDIN_GRACE_S = 0.5  # a server that reads EOF on stdin should exit in this time
_TERM_GRACE_S = 1.5  # then SIGTERM, and SIGKILL after this (the child, then its descendants)
REAP_S = 2.0  # time for the event loop to see a killed child die
_EXIT_POLL_S = 0.01


def child_environment(server: StdioServer) -> dict[str, str]:
    """The whole environment of a stdio child: basics, then `pass_env` names, then `env` as given.

    Nothing else of ours reaches the child, so API keys in our environment stay with us.
    """
    env = {k: os.environ[k] for k in BASIC_ENV if k in os.environ}
    env.update({k: os.environ[k] for k in server.pass_env if k in os.environ})
    env.update(server.env)
    return env


def resolve_command(server: StdioServer, env: dict[str, str]) -> str | None:
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


def not_found(server: StdioServer, env: dict[str, str]) -> str:
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


def exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


async def wait_exit(proc: anyio.abc.Process, timeout_s: float) -> bool:
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
        with contextlib.suppress(OSError, *CONNECTION_LOST):
            await proc.stdin.aclose()
    exited_itself = await wait_exit(proc, grace_s)
    if not exited_itself:
        tree.signal(signal.SIGTERM)
        if not await wait_exit(proc, _TERM_GRACE_S):
            tree.kill()
            if not await wait_exit(proc, REAP_S):
                logger.warning("MCP server process %d survived SIGKILL; abandoning it", proc.pid)
    tree.signal(signal.SIGTERM)  # helpers it may have left in its group, or that it could not stop
    survivors = await tree.end_descendants(_TERM_GRACE_S)
    if survivors:
        logger.warning("MCP server %d left processes that survived SIGKILL: %s", proc.pid, survivors)
    return exited_itself


class StdioChild:
    """A stdio server's child process, its descendants and its captured stderr, from start to stop."""

    def __init__(self, name: str, note_pid: Callable[[int], None]) -> None:
        self.name = name  # the server's name, for logs
        self._note_pid = note_pid
        self.proc: anyio.abc.Process | None = None
        self.tree: ProcessTree | None = None  # the child and its descendants
        self.stderr: IO[bytes] | None = None
        self.lost = False  # set once a pipe saw the child go away
        self.exited_itself = False  # the child ended before we signalled it

    @asynccontextmanager
    async def streams(
        self, server: StdioServer, argv: list[str], env: dict[str, str], *, session_ran: Callable[[], bool]
    ) -> AsyncIterator[Any]:
        """Start the child, yield the (read, write) streams an MCP `Client` speaks over, stop it on leaving.

        A child whose session ran (`session_ran()`), or whose stdout ended, gets time to exit by itself;
        one that hangs in its handshake gets SIGTERM at once.
        """
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
        self._note_pid(proc.pid)
        read_send, read_recv = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        write_send, write_recv = anyio.create_memory_object_stream[SessionMessage](0)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._pump_stdout, proc, read_send)
            tg.start_soon(self._pump_stdin, proc, write_recv, read_send)
            try:
                yield read_recv, write_send
            finally:
                with anyio.CancelScope(shield=True):
                    write_send.close()
                    grace = _STDIN_GRACE_S if session_ran() or self.lost else 0.0
                    await self._stop(proc, grace, (proc.stdout, read_recv, write_send))
                tg.cancel_scope.cancel()

    async def _pump_stdout(
        self, proc: anyio.abc.Process, read_send: MemoryObjectSendStream[SessionMessage | Exception]
    ) -> None:
        """The child's stdout, line by line, as JSON-RPC messages to the session (other lines are skipped)."""
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
                            logger.debug("MCP server %r wrote a non-JSON-RPC line", self.name)
                            continue
                        await read_send.send(SessionMessage(message))
        except (OSError, *CONNECTION_LOST):
            pass
        finally:
            self.lost = True

    async def _pump_stdin(
        self,
        proc: anyio.abc.Process,
        write_recv: MemoryObjectReceiveStream[SessionMessage],
        read_send: MemoryObjectSendStream[SessionMessage | Exception],
    ) -> None:
        """The session's messages to the child's stdin, one JSON line each."""
        assert proc.stdin is not None
        try:
            async with write_recv:
                async for item in write_recv:
                    data = item.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n"
                    await proc.stdin.send(data.encode())
        except (OSError, *CONNECTION_LOST):
            self.lost = True
            await read_send.aclose()  # wake waiting requests instead of leaving them hanging

    async def _stop(self, proc: anyio.abc.Process, grace_s: float, streams: tuple[Any, ...]) -> None:
        assert self.tree is not None
        self.exited_itself = await _stop_process(proc, self.tree, grace_s=grace_s)
        for stream in streams:
            if stream is not None:
                with contextlib.suppress(OSError, *CONNECTION_LOST):
                    await stream.aclose()
        with anyio.move_on_after(REAP_S):
            await proc.aclose()

    def kill_now(self) -> None:
        """SIGKILL the child and every descendant seen, without waiting."""
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
