"""The one error-to-exit mapping of the commands: an error of the tree (`autogen_troupe.errors`) is printed
as one paragraph on stderr, with where the run's files are, and the command exits with
`errors.exit_code_for` (2 bad input, 1 a failed run). `App.command` applies it to every command, so a
command raises and never prints an error or picks an exit code itself."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NoReturn

import typer

from ..errors import RunError, ScenarioError, TroupeError, UsageError, exit_code_for
from .console import say

__all__ = ["BadInput", "Failed", "report", "reported"]


class BadInput(UsageError):
    """The command line cannot work (a flag without the one it needs, no file found): exit 2, said as
    it is, without a class name."""


class Failed(RunError):
    """The command did its work and the outcome is a failure (a replay that differs, a pass rate under
    the bar): exit 1, said as it is."""


_SAID_AS_IS = (ScenarioError, BadInput, Failed)  # located issues, or a sentence written for a person


def report(e: BaseException) -> NoReturn:
    """Print `e` in one paragraph (and where the run's files are) and exit by its class."""
    say(str(e) if isinstance(e, _SAID_AS_IS) else f"{type(e).__name__}: {e}")
    for label, attr in (("transcript", "transcript_path"), ("engine log", "log_path")):
        if where := getattr(e, attr, None):  # set by the runner on a run that started
            say(f"{label}: {where}")
    raise typer.Exit(exit_code_for(e))


@contextlib.contextmanager
def reported() -> Iterator[None]:
    """Inside, an error of the tree ends the command as `report` says."""
    try:
        yield
    except TroupeError as e:
        report(e)
