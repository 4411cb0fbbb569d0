"""Runs whose tape is a cassette: recording one (`record_scenario`) and replaying one (`replay_scenario`).

The recorder and the replay session are in the tape room; these drive a run through them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import Field

from ..errors import RunError, ToolCallError
from ..scenario._base import Frozen
from ..scenario._schema import Scenario
from ..tapes._cassette import Cassette
from ..tapes._record import Recorder
from ..tapes._records import RunResult
from ..tapes._replay import ReplaySession
from ._runner import run_scenario

__all__ = ["Recording", "ReplayOutcome", "record_scenario", "replay_scenario", "unreplayable"]


class Recording(Frozen):
    """A recorded run: what happened, and the cassette written (`path`), if it was."""

    result: RunResult
    cassette: Cassette
    path: Path | None = None
    problem: str | None = Field(None, description="Why no cassette was written, when none was.")


class ReplayOutcome(Frozen):
    """A replayed run, with what the run never asked for and what lenient mode had to paper over."""

    result: RunResult
    unplayed: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Every recorded model and tool call was asked for, and nothing needed a lenient fallback."""
        return not self.unplayed and not self.warnings


async def record_scenario(
    scenario: Scenario,
    *,
    cassette: str | os.PathLike[str] | None = None,
    task: str | None = None,
    options: Any = None,
    clients: Any = None,
    on_event: Callable[[Any], None] | None = None,
) -> Recording:
    """Run the scenario for real and record its cassette, written to `cassette` when the run can be
    replayed (see `unreplayable`). `clients` is the real pool to record through (default: a ClientPool)."""
    recorder = Recorder(
        scenario, env=getattr(options, "env", None), overrides=getattr(options, "overrides", None)
    )
    result = await run_scenario(
        scenario, task=task, clients=clients, recorder=recorder, options=options, on_event=on_event
    )
    tape = recorder.cassette(result.task)
    problem = unreplayable(result)
    path = None
    if cassette is not None and problem is None:
        path = tape.save(cassette, secrets=recorder.secrets)
    return Recording(result=result, cassette=tape, path=path, problem=problem)


def unreplayable(result: RunResult) -> str | None:
    """Why a recorded run would not replay the same way (None when it would).

    A failed run has nothing worth keeping, and a run stopped by a clock would go further in a replay,
    where every answer comes at once.
    """
    if not result.ok:
        return f"the run failed: {result.error or result.stop_reason}"
    if "timeout" in result.stop.fired:
        return (
            f"the run stopped on a time limit ({result.stop_reason}), which a replay cannot reproduce; "
            "raise the scenario's limits.timeout_s or use a faster model"
        )
    return None


async def replay_scenario(
    scenario: Scenario,
    cassette: Cassette | str | os.PathLike[str],
    *,
    strict: bool = True,
    task: str | None = None,
    options: Any = None,
    on_event: Callable[[Any], None] | None = None,
) -> ReplayOutcome:
    """Run the scenario offline from a cassette. A request that matches nothing raises ReplayMismatch
    (strict); recorded calls the run never made are listed in `unplayed`."""
    if isinstance(cassette, Cassette):
        session = ReplaySession(cassette, name=scenario.name, strict=strict)
    else:
        session = ReplaySession.open(cassette, strict=strict)
    try:
        result = await run_scenario(
            scenario,
            task=task,
            hooks=session.hooks(),
            options=options,
            on_event=on_event,
        )
    except (RunError, ToolCallError):
        if session.mismatch is not None:
            raise session.mismatch from None
        raise
    if session.mismatch is not None:  # swallowed inside the team (a tool error the model read)
        raise session.mismatch
    return ReplayOutcome(result=result, unplayed=tuple(session.unplayed()), warnings=tuple(session.warnings))
