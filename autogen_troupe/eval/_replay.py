"""`troupe eval --replay RESULTS`: each run replayed offline from the tape of the same task and repeat in
an earlier results folder (its transcript is a cassette): the team is built and its tools run, but every
model answer comes from the tape, strictly, so a changed prompt or tool fails that run with the diff. A
judge's verdict is taken from the earlier record when the judge would be asked exactly the same, so a
replayed eval calls no model at all: the CI job that needs no endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ReplayIncomplete, RunError, ScenarioError
from ..runtime._transcript import RunResult
from ._results import JudgeVerdict, ResultsFolder, RunRecord

__all__ = ["ReplaySource", "replay_run"]


@dataclass
class ReplaySource:
    """The recorded runs of a results folder, by (task id, repeat), read once."""

    folder: Path
    _runs: dict[tuple[str, int], RunRecord] | None = field(default=None, repr=False)

    def record(self, task_id: str, repeat: int) -> RunRecord | None:
        if self._runs is None:
            self._runs = ResultsFolder(self.folder).load_runs()
        return self._runs.get((task_id, repeat))

    def tape(self, task_id: str, repeat: int) -> Path:
        """The tape of that run; RunError (the run fails, the eval goes on) when there is none."""
        record = self.record(task_id, repeat)
        if record is None or record.transcript is None:
            raise RunError(
                f"{self.folder} has no recorded run of task {task_id!r} (repeat {repeat}) to replay"
            )
        path = Path(record.transcript)
        return path if path.is_absolute() else self.folder / path

    def verdict(self, task_id: str, repeat: int, prompt: tuple[Any, ...]) -> JudgeVerdict | None:
        """The earlier verdict when the judge was asked exactly the same and answered."""
        record = self.record(task_id, repeat)
        old = record.judge if record is not None else None
        if old is not None and old.prompt == prompt and old.problem is None:
            return old
        return None


async def replay_run(scenario: Any, task: str, tape: Path, options: Any) -> RunResult:
    """The run replayed from `tape`; a tape that cannot be read, a request that differs from the recorded
    one (ReplayMismatch) or recorded calls left unplayed fail this run (RunError), not the eval."""
    from ..runtime._tape_runs import replay_scenario
    from ..tapes._tape import cassette_from_tape, read_tape

    try:
        cassette = cassette_from_tape(read_tape(tape))
    except ScenarioError as e:
        raise RunError(f"the tape {tape} cannot be replayed: {e}") from None
    outcome = await replay_scenario(scenario, cassette, task=task, options=options)
    if outcome.unplayed:
        raise ReplayIncomplete(str(tape), outcome.unplayed)
    return outcome.result
