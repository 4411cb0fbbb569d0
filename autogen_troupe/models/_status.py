"""What a model is doing before it can answer: preparing its files, loading an engine, waiting for the
first token. Model clients report it; whoever runs them (the runtime, for its console or a server's
events) listens by setting a sink for the block (`status_to`), so clients never print."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

__all__ = ["ModelStatus", "Phase", "StatusSink", "report_status", "status_to"]

Phase = Literal["preparing", "loading", "ready", "waiting"]


@dataclass(frozen=True)
class ModelStatus:
    """One step: `preparing` (a model's files made on first use), `loading` (an engine starting), `ready`
    (it answers now: `seconds` it took), `waiting` (a call is out, no token back yet: `agent` made it).

    `message` says it in a few words for a person; `model` is the model's short name."""

    phase: Phase
    message: str
    model: str = ""
    agent: str | None = None
    seconds: float | None = None


StatusSink = Callable[[ModelStatus], None]
_SINK: contextvars.ContextVar[StatusSink | None] = contextvars.ContextVar("troupe_model_status", default=None)


def report_status(status: ModelStatus) -> bool:
    """Tell whoever listens in this context (from any thread); False when nobody does."""
    sink = _SINK.get()
    if sink is None:
        return False
    sink(status)
    return True


@contextlib.contextmanager
def status_to(sink: StatusSink | None) -> Iterator[None]:
    """Hear the statuses reported in this context (and in tasks and threads started from it) while the
    block runs. `sink` is called on the event loop's thread, also for a report made in a worker thread."""
    if sink is None:
        yield
        return
    loop = asyncio.get_running_loop()
    owner = threading.get_ident()

    def deliver(status: ModelStatus) -> None:
        if threading.get_ident() == owner:
            sink(status)
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody listens any more
                loop.call_soon_threadsafe(sink, status)

    token = _SINK.set(deliver)
    try:
        yield
    finally:
        _SINK.reset(token)
