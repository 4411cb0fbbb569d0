"""The one error-to-exit mapping of the commands: an error of the tree (`autogen_troupe.errors`) is printed
as one paragraph on stderr, with where the run's files are, and the command exits with
`errors.exit_code_for` (2 bad input, 1 a failed run). `App.command` applies it to every command, so a
command raises and never prints an error or picks an exit code itself."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import typer

from ..errors import RunError, ScenarioError, TroupeError, UsageError, exit_code_for
from .console import say

__all__ = ["BadInput", "Failed", "report", "reported", "writable_file"]


class BadInput(UsageError):
    """The command line cannot work (a flag without the one it needs, no file found): exit 2, said as
    it is, without a class name."""


class Failed(RunError):
    """The command did its work and the outcome is a failure (a replay that differs, a pass rate under
    the bar): exit 1, said as it is."""


_SAID_AS_IS = (ScenarioError, BadInput, Failed)  # located issues, or a sentence written for a person


def report(e: BaseException) -> NoReturn:
    """Print `e` in one paragraph (and where the run's files are) and exit by its class."""
    said = str(e) if isinstance(e, _SAID_AS_IS) else f"{type(e).__name__}: {e}"
    if "\nTraceback:" in said:  # AutoGen flattened an agent's error with its traceback: the transcript
        said = " ".join(said.split("\nTraceback:", 1)[0].split())  # keeps it all; the console, one paragraph
        said += " (the whole error, with its traceback, is in the transcript)"
    say(said)
    for label, attr in (("transcript", "transcript_path"), ("engine log", "log_path")):
        if where := getattr(e, attr, None):  # set by the runner on a run that started
            say(f"{label}: {where}")
    raise typer.Exit(exit_code_for(e))


@contextlib.contextmanager
def reported() -> Iterator[None]:
    """Inside, an error of the tree ends the command as `report` says; so does the file system refusing a
    path (a folder where a file is to be written, no permission): one paragraph naming the path, exit 2,
    never a traceback. Commands check the files they will write first (`writable_file`); this is the net."""
    try:
        yield
    except TroupeError as e:
        report(e)
    except OSError as e:
        if e.filename is None:
            raise
        where = f"{e.filename} -> {e.filename2}" if e.filename2 is not None else str(e.filename)
        report(BadInput(f"cannot use {where}: {e.strerror or e}"))


def writable_file(path: Path | None, flag: str, example: str) -> None:
    """Before any run: `path` (given with `flag`) can be written as a file, so the command does not do its
    work to fail at the end: not a folder, its folder makable and writable."""
    if path is None:
        return
    if path.is_dir():
        raise BadInput(f"{flag} {path} is a folder: give the file to write, such as {path / example}")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BadInput(f"{flag} {path}: cannot make its folder {parent}: {e.strerror or e}") from None
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise BadInput(f"{flag} {path}: its folder {parent} cannot be written")
    if path.exists() and not os.access(path, os.W_OK):
        raise BadInput(f"{flag} {path}: the file cannot be written")
