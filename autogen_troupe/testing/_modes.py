"""The one seam that runs a scenario live, recording a cassette, or replaying one.

`troupe run`, `troupe record`, `troupe test` and the pytest plugin all come through `execute`, and decide
between the three modes with `choose_mode`; they only turn an `Execution` into an exit code or a test
outcome. So the decision, and the words that explain an incomplete run, exist once.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from ..errors import CassetteMissing
from ..runtime._transcript import RunResult
from ..scenario._base import Frozen
from ..scenario._schema import Scenario

__all__ = ["Execution", "Mode", "RecordPolicy", "choose_mode", "execute"]

Mode = Literal["live", "record", "replay"]
RecordPolicy = Literal["never", "missing", "always"]
"""When to record instead of replaying: never, when the cassette is missing, or always (re-record)."""


class Execution(Frozen):
    """A run in one of the modes, and what keeps it from counting as a clean one (`problem`)."""

    mode: Mode
    result: RunResult
    cassette: Path | None = None  # recorded (when written) or replayed
    unplayed: tuple[str, ...] = ()  # recorded calls a replay never made
    warnings: tuple[str, ...] = ()  # lenient replay's fallbacks
    problem: str | None = None  # a recording not written, a strict replay that ended early

    @property
    def ok(self) -> bool:
        """The run stopped on its rule or a cap, and nothing is wrong with its cassette."""
        return self.result.ok and self.problem is None


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
    scenario: Scenario,
    mode: Mode = "live",
    *,
    cassette: str | os.PathLike[str] | None = None,
    strict: bool = True,
    task: str | None = None,
    options: Any = None,
    clients: Any = None,
    on_event: Callable[[Any], None] | None = None,
) -> Execution:
    """Run `scenario` live, record it into `cassette` (written only when the run can be replayed), or
    replay `cassette` (strict: a changed request raises ReplayMismatch; lenient: warns).

    `clients` is the live client source (tests: a ScriptedClient; for record, what is recorded).
    """
    tape = Path(cassette) if cassette is not None else None
    if mode == "live":
        from ..runtime._runner import run_scenario

        result = await run_scenario(scenario, task=task, options=options, clients=clients, on_event=on_event)
        return Execution(mode=mode, result=result)
    if tape is None:
        raise ValueError(f"mode {mode!r} needs a cassette")
    if mode == "record":
        from ..runtime._tape_runs import record_scenario

        recording = await record_scenario(
            scenario, cassette=tape, task=task, options=options, clients=clients, on_event=on_event
        )
        problem = None if recording.path is not None else f"no cassette was written: {recording.problem}"
        return Execution(mode=mode, result=recording.result, cassette=recording.path, problem=problem)
    from ..runtime._tape_runs import replay_scenario
    from ..tapes._replay import ReplayWarning

    with warnings.catch_warnings():  # kept in the execution, for the caller to show once
        warnings.simplefilter("ignore", ReplayWarning)
        outcome = await replay_scenario(
            scenario, tape, strict=strict, task=task, options=options, on_event=on_event
        )
    problem = None
    if outcome.unplayed and strict:
        problem = (
            f"the run ended before {len(outcome.unplayed)} recorded call(s) of {tape} were made (the "
            "scenario changed; record it again if that is intended):\n"
            + "\n".join("  " + u for u in outcome.unplayed)
        )
    return Execution(
        mode=mode,
        result=outcome.result,
        cassette=tape,
        unplayed=outcome.unplayed,
        warnings=outcome.warnings,
        problem=problem,
    )
