"""Stop signals for programs: SIGTERM and SIGHUP stop a run the way Ctrl-C does.

The library itself never installs a signal handler: an app that embeds `run_scenario` keeps its own, and
cancelling the run's task (what `asyncio.run` does on Ctrl-C) is all it takes for the run to end its MCP
servers and their descendants and write the transcript's `result`. Programs that want `kill`, a closed
terminal or a CI timeout handled the same way ask for it here, as the `troupe` commands do.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine, Iterator
from types import FrameType
from typing import Any, TypeVar

__all__ = ["STOP_SIGNALS", "Interrupted", "exit_code", "run_async", "stop_on_signals"]

T = TypeVar("T")

STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""Ctrl-C, `kill` (and service managers, container runtimes, CI timeouts) and a closed terminal."""


class Interrupted(KeyboardInterrupt):
    """The program was stopped by a signal; `exit_code` is 128 + its number, as shells report it."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def exit_code(exc: BaseException) -> int:
    """The exit code for an interruption: 143 for SIGTERM, 129 for SIGHUP, 130 for Ctrl-C."""
    return exc.exit_code if isinstance(exc, Interrupted) else 128 + signal.SIGINT


def _ignored(sig: int) -> bool:
    """A signal we were started with ignored stays so (`nohup` ignores SIGHUP; a script's `cmd &`,
    SIGINT)."""
    return signal.getsignal(sig) == signal.SIG_IGN


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` for a command: the first stop signal cancels `main`, whose own cleanup then
    runs (bounded), and raises `Interrupted`; a second one stops at once, as a second Ctrl-C does (the
    tasks left are cancelled and each MCP server's last-resort kill runs).

    Call it from the main thread; elsewhere (or where the loop cannot watch signals) it is `asyncio.run`.
    """
    received: list[int] = []

    async def guarded() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(main)
        loop.set_exception_handler(_quiet_after_stop(received))

        def on_signal(signum: int) -> None:
            received.append(signum)
            if len(received) == 1:
                task.cancel()
            else:
                raise Interrupted(received[0])  # out of the loop: asyncio cancels what is left

        with _loop_handlers(loop, on_signal):
            return await task

    try:
        result = asyncio.run(guarded())
    except (asyncio.CancelledError, KeyboardInterrupt, Exception):
        # Once a stop signal came, however the run ends is the stop's doing: cancelled, or failed because
        # a terminal's Ctrl-C also reached the in-process engine's worker process, which died of it, and
        # its EngineDeadError got to the run before the cancellation did (seen in CI: exit 1, not 130).
        if received:
            raise Interrupted(received[0]) from None
        raise
    if received:  # `main` finished anyway; the signal still asked the program to stop
        raise Interrupted(received[0])
    return result


_ASYNCGEN_CLOSE = "an error occurred during closing of asynchronous generator"


def _quiet_after_stop(
    received: list[int],
) -> Callable[[asyncio.AbstractEventLoop, dict[str, Any]], None]:
    """The loop's exception handler: after a stop signal, an async generator that a cancelled stream left
    half-read (an HTTP response body inside the openai SDK) can fail to close when `asyncio.run` shuts
    down, and asyncio would print its traceback under our one-line "Interrupted" message. That is the
    stop's own noise, not a fault; anything else goes to asyncio's default handler."""

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if received and str(context.get("message", "")).startswith(_ASYNCGEN_CLOSE):
            return
        loop.default_exception_handler(context)

    return handle


@contextlib.contextmanager
def _loop_handlers(loop: asyncio.AbstractEventLoop, handler: Callable[[int], None]) -> Iterator[None]:
    installed: dict[signal.Signals, Any] = {}
    for sig in STOP_SIGNALS:
        if _ignored(sig):
            continue
        previous = signal.getsignal(sig)
        try:
            loop.add_signal_handler(sig, handler, sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
            continue
        installed[sig] = previous
    try:
        yield
    finally:
        for sig, previous in installed.items():
            loop.remove_signal_handler(sig)
            with contextlib.suppress(TypeError, ValueError):
                signal.signal(sig, previous)  # e.g. asyncio.run's own Ctrl-C handler, or ours below


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """For synchronous code: SIGTERM and SIGHUP raise `Interrupted` where Ctrl-C raises
    KeyboardInterrupt; the handlers before are restored on exit. Inside, `run_async` takes over while its
    loop runs."""

    def raise_interrupted(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signum)

    previous: dict[signal.Signals, Any] = {}
    try:
        for sig in STOP_SIGNALS:
            if sig != signal.SIGINT and not _ignored(sig):
                previous[sig] = signal.signal(sig, raise_interrupted)
    except ValueError:  # not the main thread: nothing to install
        pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
