"""The one stop handling of the commands: Ctrl-C, SIGTERM and SIGHUP end a command with one line on stderr
("Interrupted", "Stopped by SIGTERM", and what was kept) and the shell's exit code (130, 143, 129).

`App.command` applies `handled()` to every command; a command that has something to add (where the
transcript so far is) wraps its work in `handled(note)`. `run_async` turns the signals into `Interrupted`
while a loop runs, `stop_on_signals` in synchronous code (both in `autogen_troupe.runtime`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import typer

from ..runtime import exit_code
from .console import say

__all__ = ["handled", "stopped_by"]

Note = Callable[[KeyboardInterrupt], str]


def stopped_by(e: KeyboardInterrupt) -> str:
    """`Interrupted` for Ctrl-C, `Stopped by SIGTERM` for the others."""
    return "Interrupted" if exit_code(e) == 130 else f"Stopped by {e}"


@contextlib.contextmanager
def handled(note: Note | None = None) -> Iterator[None]:
    """Inside, a stop signal ends the command: one line (with `note(e)` after a `; ` when it says
    something) and the signal's exit code."""
    try:
        yield
    except KeyboardInterrupt as e:
        said = note(e) if note is not None else ""
        say(stopped_by(e) + (f"; {said}" if said else ""))
        raise typer.Exit(exit_code(e)) from None
