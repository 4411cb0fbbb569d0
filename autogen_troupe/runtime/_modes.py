"""The one run call: a scenario run live, recording a cassette, replaying one, resuming a cut run from its
tape, or forking a run; the tape is the option.

`troupe run`, `record`, `resume`, `fork`, `test`, the pytest plugin, `troupe serve` and `troupe eval` all
come through `execute`, and decide between live, record and replay with `choose_mode`; they only turn an
`Execution` into an exit code, a test outcome or an API answer. What keeps a run from counting as clean is
an error of the tree (`ReplayIncomplete`, `RecordingNotWritten`), not text.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict

from ..errors import CassetteMissing, RecordingNotWritten, ReplayIncomplete, RunError, UsageError
from ..scenario._base import Frozen
from ..scenario._schema import Scenario
from ..tapes._records import RunResult

__all__ = ["Execution", "Mode", "RecordPolicy", "choose_mode", "execute"]

Mode = Literal["live", "record", "replay", "resume", "fork"]
RecordPolicy = Literal["never", "missing", "always"]
"""When to record instead of replaying: never, when the cassette is missing, or always (re-record)."""


class Execution(Frozen):
    """A run in one of the modes, and what keeps it from counting as a clean one (`error`)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    mode: Mode
    result: RunResult
    cassette: Path | None = None  # recorded (when written) or replayed
    unplayed: tuple[str, ...] = ()  # recorded calls a replay never made
    warnings: tuple[str, ...] = ()  # lenient replay's fallbacks
    error: RunError | None = None  # RecordingNotWritten, ReplayIncomplete

    @property
    def problem(self) -> str | None:
        """The error's text (None when there is none)."""
        return None if self.error is None else str(self.error)

    @property
    def ok(self) -> bool:
        """The run stopped on its rule or a cap, and nothing is wrong with its cassette."""
        return self.result.ok and self.error is None


def choose_mode(cassette: Path | None, *, record: RecordPolicy = "never", live: bool = False) -> Mode:
    """Record, replay or run live, from the record policy, whether the cassette exists and whether live
    calls are allowed; without any of them, CassetteMissing says how to get a cassette."""
    exists = cassette is not None and cassette.exists()
    if cassette is not None and (record == "always" or (record == "missing" and not exists)):
        return "record"
    if exists:
        return "replay"
    if live:
        return "live"
    raise CassetteMissing(cassette)


async def execute(
    scenario: Scenario | None,
    mode: Mode = "live",
    *,
    cassette: str | os.PathLike[str] | None = None,
    strict: bool = True,
    task: str | None = None,
    options: Any = None,
    clients: Any = None,
    on_event: Callable[[Any], None] | None = None,
    transcript: str | os.PathLike[str] | None = None,
    at: int | None = None,
    force: bool = False,
    reissue: bool = False,
    changes: dict[str, str] | None = None,
) -> Execution:
    """Run `scenario` live, record it into `cassette` (written only when the run can be replayed), replay
    `cassette` (strict: a changed request raises ReplayMismatch; lenient: warns), resume the cut run in
    `transcript` (its scenario comes from the transcript), or fork it `at` a message (with `task` and
    `changes`, `AGENT.FIELD` → value, taking effect after it).

    `clients` is the live client source (tests: a ScriptedClient; for record, what is recorded).
    """
    if mode in ("resume", "fork"):
        fork = {"task": task, "changes": changes} if mode == "fork" else {}
        return await _from_tape(mode, transcript, at, options, force, reissue, on_event, fork)
    if scenario is None:
        raise UsageError(f"mode {mode!r} needs a scenario")
    tape = Path(cassette) if cassette is not None else None
    if mode == "live":
        from ._runner import run_scenario

        result = await run_scenario(scenario, task=task, options=options, clients=clients, on_event=on_event)
        return Execution(mode=mode, result=result)
    if tape is None:
        raise UsageError(f"mode {mode!r} needs a cassette")
    if mode == "record":
        from ._tape_runs import record_scenario

        recording = await record_scenario(
            scenario, cassette=tape, task=task, options=options, clients=clients, on_event=on_event
        )
        error = None if recording.path is not None else RecordingNotWritten(recording.problem or "")
        return Execution(mode=mode, result=recording.result, cassette=recording.path, error=error)
    from ..tapes._replay import ReplayWarning
    from ._tape_runs import replay_scenario

    with warnings.catch_warnings():  # kept in the execution, for the caller to show once
        warnings.simplefilter("ignore", ReplayWarning)
        outcome = await replay_scenario(
            scenario, tape, strict=strict, task=task, options=options, on_event=on_event
        )
    incomplete = ReplayIncomplete(str(tape), outcome.unplayed) if outcome.unplayed and strict else None
    return Execution(
        mode=mode,
        result=outcome.result,
        cassette=tape,
        unplayed=outcome.unplayed,
        warnings=outcome.warnings,
        error=incomplete,
    )


async def _from_tape(
    mode: Mode,
    transcript: str | os.PathLike[str] | None,
    at: int | None,
    options: Any,
    force: bool,
    reissue: bool,
    on_event: Callable[[Any], None] | None,
    fork: dict[str, Any],
) -> Execution:
    if transcript is None:
        raise UsageError(f"mode {mode!r} needs the run's transcript")
    if mode == "resume":
        from ._resume import resume_run

        result = await resume_run(
            Path(transcript), options=options, force=force, reissue=reissue, on_event=on_event
        )
    else:
        if at is None:
            raise UsageError("a fork needs `at`: how many messages to replay")
        from ._fork import fork_run

        result = await fork_run(
            Path(transcript), at=at, options=options, force=force, on_event=on_event, **fork
        )
    return Execution(mode=mode, result=result)
