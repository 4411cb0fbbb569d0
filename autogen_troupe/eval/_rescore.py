"""`troupe eval rescore`: the runs of an eval scored again, by the expectations and judge of now, from
the transcripts in its results folder; the team's models are never called (only the judge's, when the
scenario has a judge), so a new check is tried on yesterday's runs in seconds.

Each run keeps what it was asked (its recorded task text and variables); its row's expectations,
reference and rubric are taken from the tasks file as it is now when the row (by id) is still there.
The new results go to a folder of their own, with copies of the transcripts, so both can be compared.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

from ..errors import UsageError
from ..scenario._schema import ModelRef, Scenario
from ..scenario._template import fill
from ._evaluate import EvalResult, eval_meta, finish_folder
from ._results import ResultsFolder, RunRecord, now
from ._tasks import EvalTask
from ._worker import EvalPlan, TaskRunner, describe_models, read_transcript

__all__ = ["rescore"]


def _task(record: RunRecord, row: EvalTask | None, scenario: Scenario) -> EvalTask:
    """What the run was asked, with its row's expectations, reference and rubric as they are now."""
    rubric = None
    if scenario.judge is not None:
        try:
            rubric = fill(scenario.judge.rubric, record.vars)
        except KeyError:
            rubric = scenario.judge.rubric
    return EvalTask(
        id=record.task_id,
        task=record.task,
        vars=record.vars,
        reference=row.reference if row is not None else record.reference,
        expect=row.expect if row is not None else None,
        rubric=row.rubric if row is not None else rubric,
        line=row.line if row is not None else 0,
    )


async def rescore(
    source: str | Path,
    scenario: Scenario,
    *,
    out: str | Path,
    rows: list[EvalTask] | None = None,
    judge_model: ModelRef | None = None,
    overrides: object = None,
    profiles_path: Path | None = None,
    concurrency: int = 4,
) -> EvalResult:
    """Score every run recorded in `source` again with `scenario`'s expectations and judge (and `rows`,
    the tasks file as it is now), writing the results folder `out`."""
    old = ResultsFolder(source)
    old_meta = old.read_meta()
    records = list(old.load_runs().values())
    if not records:
        raise UsageError(f"{old.path} holds no finished runs to score again")
    if judge_model is not None and scenario.judge is None:
        raise UsageError(
            f"--judge names the judge's model, but scenario {scenario.name!r} has no `judge:` block"
        )
    folder = ResultsFolder(out)
    folder.check_writable(resume=False)
    judge = scenario.judge
    plan = EvalPlan(
        scenario=scenario,
        overrides=overrides,
        profiles_path=profiles_path,
        judge=judge,
        judge_model=judge_model if judge_model is not None else (judge.model if judge else None),
    )
    specs = describe_models(plan)
    meta = eval_meta(plan, specs, old_meta.tasks_file, old_meta.tasks, old_meta.repeat, concurrency, None)
    meta = meta.model_copy(  # the runs were made as they were made: by these models, this person
        update={
            "models": old_meta.models,
            "simulated_user": old_meta.simulated_user,
            "rescored_from": str(old.path),
        }
    )
    by_id = {t.id: t for t in rows or ()}
    tasks = {r.task_id: _task(r, by_id.get(r.task_id), scenario) for r in records}
    folder.path.mkdir(parents=True, exist_ok=True)
    if old.transcripts.is_dir():
        shutil.copytree(old.transcripts, folder.transcripts)
    folder.write_meta(meta)
    started = time.monotonic()
    runner = TaskRunner(plan, transcripts=None, root=folder.path)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(record: RunRecord) -> RunRecord:
        async with gate:
            return await _rescored(runner, folder, record, tasks[record.task_id])

    try:
        for new in await asyncio.gather(*(one(r) for r in records)):
            folder.append(new)
    finally:
        folder.close()
        await runner.aclose()
    return finish_folder(
        folder,
        meta,
        list(tasks.values()),
        old_meta.repeat,
        time.monotonic() - started,
        complete=old_meta.complete,
        made=len(records),
    )


async def _rescored(
    runner: TaskRunner, folder: ResultsFolder, record: RunRecord, task: EvalTask
) -> RunRecord:
    """One run scored again: its result read back from its transcript (the copy in the new folder)."""
    result = None
    if record.transcript is not None:
        path = Path(record.transcript)
        result = read_transcript(path if path.is_absolute() else folder.path / path)
    if result is None:  # no transcript (a run that failed before writing one): its record stands
        return record.model_copy(update={"digest": task.digest, "finished_at": now()})
    return await runner.scored(
        task, record.repeat, result, attempt=record.attempt, transcript=record.transcript
    )
