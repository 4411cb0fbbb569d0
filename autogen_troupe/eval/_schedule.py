"""Handing an eval's runs out, N at a time, to an executor: this process (`LocalExecutor`) or Ray workers.

Each finished run's record is appended to `runs.jsonl` at once, so the file is the checkpoint: a run
in flight when the eval is stopped is not in it, and `--resume` makes it again. Bad input met by any run
(a scenario, profile or program mistake that every run would meet) stops the others and is raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from ._results import ResultsFolder, RunRecord
from ._tasks import EvalTask
from ._worker import EvalPlan, Job, TaskRunner

__all__ = ["Executor", "LocalExecutor", "jobs_for", "run_jobs"]


class Executor(Protocol):
    """Where runs are made: `run` makes and scores one run; `aclose` frees what the runs shared."""

    async def run(self, job: Job) -> RunRecord: ...

    async def aclose(self) -> None: ...


class LocalExecutor:
    """Runs in this process, all sharing one client pool (one endpoint client, one in-process engine)."""

    def __init__(self, plan: EvalPlan, folder: ResultsFolder) -> None:
        self.runner = TaskRunner(plan, transcripts=folder.transcripts, root=folder.path)

    async def run(self, job: Job) -> RunRecord:
        return await self.runner.run(job)

    async def aclose(self) -> None:
        await self.runner.aclose()


def jobs_for(
    tasks: Sequence[EvalTask], repeat: int, done: dict[tuple[str, int], RunRecord] | None = None
) -> tuple[list[Job], list[RunRecord]]:
    """The runs still to make, every task once before any is repeated, and the records of those done
    already (which count in the progress and the numbers as they are).

    A run is done when a record of it exists for the same task text, expectations and rubric, and it did
    not fail with an error (an endpoint that was down, a crash): those are made again.
    """
    done = done or {}
    todo: list[Job] = []
    kept: list[RunRecord] = []
    for r in range(repeat):
        for t in tasks:
            old = done.get((t.id, r))
            if old is not None and old.digest == t.digest and old.outcome != "error":
                kept.append(old)
            else:
                todo.append(Job(task=t, repeat=r))
    return todo, kept


async def run_jobs(
    jobs: Iterable[Job],
    executor: Executor,
    folder: ResultsFolder,
    *,
    concurrency: int,
    on_record: Callable[[RunRecord], None] | None = None,
) -> int:
    """Make every job, `concurrency` at a time; returns how many were made. Cancelling stops the runs in
    flight (each writes its transcript) and leaves their records out."""
    pending = iter(jobs)
    made = 0
    stopping = False  # a run may swallow its cancellation (deep in AutoGen): its worker must still stop

    async def worker() -> None:
        nonlocal made
        for job in pending:  # one shared iterator: each job is taken once
            record = await executor.run(job)
            if stopping:  # made while stopping, perhaps cut short: left out, and --resume makes it again
                return
            folder.append(record)
            made += 1
            if on_record is not None:
                on_record(record)

    workers = [asyncio.ensure_future(worker()) for _ in range(max(1, concurrency))]
    try:  # not gather: a cancellation must reach the workers only once `stopping` is set
        done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
        for w in done:
            w.result()  # the first error (bad input) stops the others
    except BaseException:
        stopping = True
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        raise
    return made
