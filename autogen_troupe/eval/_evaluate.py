"""`evaluate`: a scenario over a list of tasks, each run scored, the results folder written.

The steps, each in its own module: the tasks (`_tasks`), the plan every worker gets (`_worker`), the
results folder and what `--resume` may continue (`_results`), handing runs out (`_schedule`, or `_ray`
for a Ray cluster), the numbers (`_stats`) and the report (`_report`).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._redact import redact_url
from ..errors import UsageError
from ..scenario._schema import ModelRef, Scenario
from ._results import EvalMeta, ResultsFolder, RunRecord, now
from ._schedule import Executor, LocalExecutor, jobs_for, run_jobs
from ._stats import Summary, summarize
from ._tasks import EvalTask
from ._worker import EvalPlan, describe_models

__all__ = ["EvalResult", "eval_meta", "evaluate", "finish_folder", "scenario_digest"]


@dataclass(frozen=True)
class EvalResult:
    """What an eval made: its folder, every run's record, the numbers; `pending` runs were not made
    (the eval was stopped)."""

    folder: Path
    meta: EvalMeta
    records: list[RunRecord]
    summary: Summary
    made: int
    finished_before: int
    pending: int
    report: Path | None


def scenario_digest(scenario: Scenario) -> str:
    """Equal for scenarios that would run the same (comments and layout aside)."""
    return hashlib.sha256(scenario.model_dump_json().encode()).hexdigest()[:16]


def _label(spec: Any) -> str:
    model = spec.model or "(discovered)"
    where = getattr(spec, "base_url", "") or ""
    return f"{spec.provider} {model}" + (f" at {redact_url(where)}" if where else "")


def eval_meta(
    plan: EvalPlan,
    specs: dict[str, Any],
    tasks_file: str,
    tasks: int,
    repeat: int,
    concurrency: int,
    ray: str | None,
) -> EvalMeta:
    judge = plan.judge
    sc = plan.scenario
    return EvalMeta(
        scenario=sc.name,
        scenario_file=str(sc.source) if sc.source else None,
        scenario_digest=scenario_digest(sc),
        tasks_file=tasks_file,
        tasks=tasks,
        repeat=repeat,
        models={a: _label(s) for a, s in specs.items() if a not in ("judge", "simulated_user")},
        simulated_user=None
        if plan.simulate_user is None
        else {"model": _label(specs["simulated_user"]), "persona": plan.persona},
        judge=None
        if judge is None
        else {
            "model": _label(specs["judge"]),
            "scale": judge.scale,
            "passing": judge.passing,
            "rubric": judge.rubric,
        },
        concurrency=concurrency,
        ray=ray,
        started_at=now(),
    )


def _check_resume(folder: ResultsFolder, meta: EvalMeta, resume: bool) -> EvalMeta:
    """The meta to write: this eval's, or for `--resume` the earlier one's start, once they agree."""
    if not folder.exists:
        return meta
    if not resume:
        raise UsageError(
            f"{folder.path} already holds the results of an eval; continue it with --resume, or give "
            "another --out folder"
        )
    old = folder.read_meta()
    if old.scenario_digest != meta.scenario_digest:
        raise UsageError(
            f"the scenario changed since {folder.path} was written ({old.scenario}); its results cannot be "
            "continued with this one: give another --out folder"
        )
    if old.models != meta.models or old.judge != meta.judge or old.simulated_user != meta.simulated_user:
        raise UsageError(
            f"the models differ from those of {folder.path} (then: {old.models}, judge {old.judge}; now: "
            f"{meta.models}, judge {meta.judge}); give another --out folder"
        )
    return meta.model_copy(update={"started_at": old.started_at, "seconds": old.seconds})


async def evaluate(
    scenario: Scenario,
    tasks: Sequence[EvalTask],
    *,
    out: str | Path,
    tasks_file: str = "",
    repeat: int = 1,
    concurrency: int = 4,
    judge_model: ModelRef | None = None,
    resume: bool = False,
    ray: str | None = None,
    workers: int | None = None,
    overrides: Any = None,
    profiles_path: Path | None = None,
    replay: str | Path | None = None,
    simulate_user: ModelRef | None = None,
    persona: str | None = None,
    on_start: Callable[[EvalMeta, int, Sequence[RunRecord]], None] | None = None,
    on_record: Callable[[RunRecord], None] | None = None,
) -> EvalResult:
    """Run every task `repeat` times, `concurrency` runs at once (in this process, or on Ray: `ray` is
    "local" for a Ray instance of our own, or a cluster's address), score each run and write the results
    folder `out`. Cancelling it stops the runs in flight and still writes what was done.

    `on_start(meta, total, kept)` (kept: the records of runs `--resume` keeps) and `on_record(record)`
    follow its progress.
    """
    # Over 60 lines by its keyword arguments and its two endings (finished, or cancelled with the report
    # of what was done); the steps are calls.
    if repeat < 1 or concurrency < 1:
        raise UsageError("repeat and concurrency are whole numbers of 1 or more")
    if judge_model is not None and scenario.judge is None:
        raise UsageError(
            f"--judge names the judge's model, but scenario {scenario.name!r} has no `judge:` block "
            "(with the rubric the judge scores by)"
        )
    if simulate_user is not None and not any(a.kind == "user" for a in scenario.team.agents):
        raise UsageError(
            f"--simulate-user plays the person of a user agent, but scenario {scenario.name!r} has none "
            "(an agent with kind: user)"
        )
    if persona is not None and simulate_user is None:
        raise UsageError("--persona is who the simulated user plays: give --simulate-user PROFILE too")
    folder = ResultsFolder(out)
    folder.check_writable(resume=resume)  # before anything runs or is written
    replayed = ResultsFolder(replay).read_meta() if replay is not None else None
    judge = scenario.judge
    plan = EvalPlan(
        scenario=scenario,
        overrides=overrides,
        profiles_path=profiles_path,
        judge=judge,
        judge_model=judge_model if judge_model is not None else (judge.model if judge else None),
        replay=Path(replay) if replay is not None else None,
        simulate_user=simulate_user,
        persona=persona,
    )
    specs = describe_models(plan)
    new_meta = eval_meta(plan, specs, tasks_file, len(tasks), repeat, concurrency, ray)
    if replayed is not None:
        models = {a: f"replay of {m} ({replay})" for a, m in replayed.models.items()}
        new_meta = new_meta.model_copy(update={"models": models})
    meta = _check_resume(folder, new_meta, resume)
    earlier = folder.load_runs() if resume else {}
    jobs, kept = jobs_for(tasks, repeat, earlier)
    finished = len(kept)
    folder.write_meta(meta)
    started = time.monotonic()
    executor: Executor = _executor(plan, folder, ray, workers, concurrency, specs)
    if on_start is not None:
        on_start(meta, len(jobs) + finished, kept)
    made = 0

    def count(record: RunRecord) -> None:
        nonlocal made
        made += 1
        if on_record is not None:
            on_record(record)

    try:
        await run_jobs(jobs, executor, folder, concurrency=concurrency, on_record=count)
    except asyncio.CancelledError:
        finish_folder(folder, meta, tasks, repeat, time.monotonic() - started, complete=False)
        raise
    finally:
        folder.close()
        await asyncio.shield(executor.aclose())
    return finish_folder(
        folder, meta, tasks, repeat, time.monotonic() - started, complete=True, made=made, before=finished
    )


def _executor(
    plan: EvalPlan,
    folder: ResultsFolder,
    ray: str | None,
    workers: int | None,
    concurrency: int,
    specs: dict[str, Any],
) -> Executor:
    if ray is None:
        return LocalExecutor(plan, folder)
    from ._ray import RayExecutor

    in_process = any(getattr(s, "provider", "") == "vllm" for s in specs.values())
    return RayExecutor(
        plan, folder, address=ray, workers=workers, concurrency=concurrency, in_process=in_process
    )


def finish_folder(
    folder: ResultsFolder,
    meta: EvalMeta,
    tasks: Sequence[EvalTask],
    repeat: int,
    seconds: float,
    *,
    complete: bool,
    made: int = 0,
    before: int = 0,
) -> EvalResult:
    """Summarize the runs of these tasks that the folder holds; write summary.json, report.html and the
    meta's end."""
    from ._report import write_report

    wanted = {(t.id, r) for t in tasks for r in range(repeat)}
    digests = {t.id: t.digest for t in tasks}
    records = [r for r in folder.load_runs().values() if r.key in wanted and r.digest == digests[r.task_id]]
    summary = summarize(records, scenario=meta.scenario, repeat=repeat)
    pending = len(wanted) - len(records)
    meta = meta.model_copy(
        update={
            "finished_at": now(),
            "seconds": round(meta.seconds + seconds, 3),
            "complete": complete and pending == 0,
        }
    )
    folder.write_meta(meta)
    folder.write_json(folder.summary_path, summary.model_dump(mode="json"))
    write_report(folder, meta, summary, records)
    return EvalResult(
        folder=folder.path,
        meta=meta,
        records=records,
        summary=summary,
        made=made,
        finished_before=before,
        pending=pending,
        report=folder.report_path,
    )
