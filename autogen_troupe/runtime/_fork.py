"""`troupe fork`: a new run that replays the first N messages of a recorded run exactly, then goes on live
with something changed (the model, by the run's options).

The fork's transcript is a run of its own (its header names the run it came from and N), and its tape holds
every call, the replayed ones included: a whole cassette, which `troupe test` can replay.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import Issue, ScenarioError, UsageError
from ..tapes._records import Handoff, RunResult, Text
from ..tapes._resume import ResumeSession
from ..tapes._tape import Tape, read_tape
from ._resume import Continuation, check_source

__all__ = ["cut_tape", "fork_run"]


def cut_tape(tape: Tape, at: int) -> Tape:
    """The tape up to and with its `at`-th message (the task is the first); what follows is dropped."""
    if at < 1:
        raise UsageError("--at counts messages from 1 (the task is message 1)")
    seen = 0
    for i, record in enumerate(tape.records):
        if isinstance(record, Text | Handoff):
            seen += 1
            if seen == at:
                return tape.model_copy(update={"records": tape.records[: i + 1]})
    raise UsageError(f"{tape.path}: the run has {seen} message(s); fork it --at 1 to {seen}")


async def fork_run(
    transcript: Path,
    *,
    at: int,
    options: Any,
    force: bool = False,
    on_event: Callable[[Any], None] | None = None,
) -> RunResult:
    """Run the fork (see the module's docstring); `options.out_dir` is where its transcript goes."""
    from ..scenario import load_scenario
    from ._runner import run_scenario

    tape = read_tape(transcript)
    header = tape.header
    if header is None:
        raise ScenarioError([Issue(transcript, 1, 1, "not a run's transcript (no `run` header)")])
    source, changed = check_source(transcript, tape, force=force)
    scenario = load_scenario(source)
    cut = cut_tape(tape, at)
    session = ResumeSession(cut, scenario, settings_as_recorded=True)
    fork = Continuation(tape=cut, session=session, spent_s=0.0, forced=changed, fork_at=at)
    return await run_scenario(
        scenario, task=header.task, options=options, on_event=on_event, continuation=fork
    )
