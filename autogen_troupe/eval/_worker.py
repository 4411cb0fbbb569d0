"""Running and scoring one run of an eval in this process: what the local scheduler and every Ray worker
do for each task.

A `TaskRunner` keeps one client pool for all the runs it makes, so concurrent runs share one endpoint
client (its connection pool) or one in-process engine (whose batching is where the speed is). Each run
goes through the one run call (`runtime.execute`), is checked against the scenario's `expect` block and
the task's own expectations (`task.` in front of their names), and, when the scenario has a `judge`, is
scored by the judge.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .._redact import redact_text
from ..errors import ProfileError, ScenarioError, TroupeError, UsageError
from ..models._capabilities import Capabilities, capabilities_of
from ..runtime._transcript import RunResult, StopReason, Usage
from ..scenario._judge import Judge
from ..scenario._schema import ModelRef, Scenario
from ._judge import ask_judge, judge_prompt
from ._replay import ReplaySource, replay_run
from ._results import JudgeVerdict, RunRecord, now
from ._simulated import SimulatedUser
from ._tasks import EvalTask

__all__ = ["BAD_INPUT", "EvalPlan", "Job", "TaskRunner", "describe_models", "failed_result"]

BAD_INPUT = (ScenarioError, ProfileError, UsageError)
"""Errors that would fail every run alike (a scenario, profile or program mistake): they stop the eval."""

_FINAL_CHARS = 4000  # of the final message kept in a record


@dataclass(frozen=True)
class EvalPlan:
    """Everything needed to run and score any task of an eval; picklable, as it goes to Ray workers."""

    scenario: Scenario
    overrides: Any = None  # models.Overrides: --profile/--base-url/--model, TROUPE_*
    profiles_path: Path | None = None
    judge: Judge | None = None
    judge_model: ModelRef | None = None  # --judge or judge.model; None: the team's model
    replay: Path | None = None  # --replay RESULTS: each run's model answers from its tape there
    simulate_user: ModelRef | None = None  # --simulate-user: the model that plays the user agent's person
    persona: str | None = None  # --persona: who it plays, unless the task row says

    def without_keys(self) -> EvalPlan:
        """This plan with no API key in it, for workers that read keys from their own environment."""
        ov = self.overrides
        if ov is None or getattr(ov, "api_key", None) is None:
            return self
        return dataclasses.replace(self, overrides=dataclasses.replace(ov, api_key=None))


@dataclass(frozen=True)
class Job:
    """One run to make: a task, which repeat of it, which attempt (a worker that died makes another)."""

    task: EvalTask
    repeat: int = 0
    attempt: int = 1

    @property
    def key(self) -> tuple[str, int]:
        return self.task.id, self.repeat


def _options(plan: EvalPlan, out_dir: Path | None, run_id: str | None = None, ask_human: Any = None) -> Any:
    from ..runtime._runner import RunOptions

    return RunOptions(
        overrides=plan.overrides,
        profiles_path=plan.profiles_path,
        out_dir=out_dir,
        run_id=run_id,
        ask_human=ask_human,
    )


def _run_id(job: Job) -> str:
    """The run's name in its transcript: which task (by digest) and which repeat, so that `--resume` finds
    the tape of a run that was cut."""
    return f"{job.task.digest}-r{job.repeat}"


def describe_models(plan: EvalPlan) -> dict[str, Any]:
    """Each agent's resolved model (and the judge's, as `judge`), resolved as the runs will resolve them;
    raises ProfileError for a profile that cannot work, before any run starts."""
    from ..runtime._runner import resolve_agent_model

    sc, options = plan.scenario, _options(plan, None)
    out: dict[str, Any] = {
        a.name: resolve_agent_model(sc, a.model if a.model is not None else sc.model, options)
        for a in sc.team.agents
        if plan.replay is None  # a replay's answers come from its tapes
    }
    if plan.judge is not None:
        out["judge"] = _judge_spec(plan)
    if plan.simulate_user is not None:
        from ..models._endpoints import resolve_model

        out["simulated_user"] = resolve_model(plan.simulate_user, profiles_path=plan.profiles_path)
    return out


def _judge_spec(plan: EvalPlan) -> Any:
    """The judge's model: an explicit one as it is (the run's overrides are for the team), else the
    team's model as the runs resolve it."""
    from ..models._endpoints import resolve_model
    from ..runtime._runner import resolve_agent_model

    if plan.judge_model is not None:
        return resolve_model(plan.judge_model, profiles_path=plan.profiles_path)
    return resolve_agent_model(plan.scenario, plan.scenario.model, _options(plan, None))


class TaskRunner:
    """Runs and scores jobs in this process; every run shares one client pool (close it with aclose)."""

    def __init__(self, plan: EvalPlan, *, transcripts: Path | None, root: Path | None = None) -> None:
        from ..models._registry import ClientPool

        self.plan = plan
        self.transcripts = transcripts
        self.root = root  # transcripts are recorded relative to it
        self.pool = ClientPool()
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self._judge_client: tuple[Any, str, Capabilities] | None = None
        self.replay = ReplaySource(plan.replay) if plan.replay is not None else None
        self._person_client: Any = None

    async def run(self, job: Job) -> RunRecord:
        """Make the run and score it. A failed run is a record (outcome `error`); bad input raises."""
        from ..runtime._modes import execute

        plan, task = self.plan, job.task
        started = time.monotonic()
        person = await self._person(task)
        options = _options(plan, self.transcripts, _run_id(job), ask_human=person)
        hear = person.hear if person is not None else None
        try:
            if self.replay is not None:  # a person's answers, simulated or not, replay from the tape
                tape = self.replay.tape(task.id, job.repeat)
                replayed = _options(plan, self.transcripts, _run_id(job))
                result = await replay_run(plan.scenario, task.task, tape, replayed)
            else:
                done = await self._resumed(job, options, hear)
                if done is None:
                    done = await execute(
                        plan.scenario,
                        "live",
                        task=task.task,
                        options=options,
                        clients=self.pool,
                        on_event=hear,
                    )
                result = done.result
        except BAD_INPUT:
            raise
        except TroupeError as e:
            result = failed_result(e, plan.scenario, task.task, time.monotonic() - started)
        return await self.scored(task, job.repeat, result, attempt=job.attempt)

    async def scored(
        self,
        task: EvalTask,
        repeat: int,
        result: RunResult,
        *,
        attempt: int = 1,
        transcript: str | None = None,
    ) -> RunRecord:
        """The record of a run made (or read back from its transcript by `rescore`): checked against the
        expectations and, when the plan has a judge, judged."""
        plan = self.plan
        checks, failures = score(result, plan.scenario, task)
        verdict = await self.judge(task, result, repeat) if plan.judge is not None else None
        if verdict is not None:
            checks["judge"] = verdict.passed
        outcome: Literal["pass", "fail", "error"] = (
            "error" if not result.ok else "pass" if all(checks.values()) else "fail"
        )
        return RunRecord(
            task_id=task.id,
            repeat=repeat,
            digest=task.digest,
            task=task.task,
            vars=task.vars,
            reference=task.reference,
            outcome=outcome,
            checks=checks,
            failures=tuple(failures),
            judge=verdict,
            stop_reason=result.stop_reason,
            stopped_by=result.stopped_by,
            error=result.error,
            messages=len(result.messages),
            prompt_tokens=result.usage.prompt_tokens,
            completion_tokens=result.usage.completion_tokens,
            seconds=result.duration_s,
            final_message=result.final_message[:_FINAL_CHARS],
            transcript=transcript or self._relative(result.transcript_path),
            worker=self.worker,
            attempt=attempt,
            finished_at=now(),
        )

    async def _person(self, task: EvalTask) -> SimulatedUser | None:
        """This run's simulated person (`--simulate-user`), or None; its model client is shared."""
        if self.plan.simulate_user is None or self.replay is not None:
            return None
        if self._person_client is None:
            from ..models._endpoints import resolve_model

            spec = resolve_model(self.plan.simulate_user, profiles_path=self.plan.profiles_path)
            self._person_client = self.pool.get(spec, "simulated_user")
            await self.pool.prepare()
        return SimulatedUser(self._person_client, persona=task.persona or self.plan.persona, task=task.task)

    async def _resumed(self, job: Job, options: Any, hear: Any = None) -> Any:
        """The job's run continued from its tape when an earlier eval was cut in the middle of it (its
        transcript has no result, or says it was interrupted); None when there is none, or when it cannot
        be resumed (then it is made anew)."""
        from ..runtime._modes import execute
        from ..tapes._tape import read_tape

        if self.transcripts is None:
            return None
        run_id = _run_id(job)
        for path in sorted(self.transcripts.glob(f"*-{run_id}.jsonl"), reverse=True):
            try:
                tape = read_tape(path)
            except ScenarioError:
                continue
            cut = tape.result is None or tape.result.stopped_by == "interrupted"
            if tape.header is None or tape.header.run_id != run_id or not cut:
                continue
            try:
                return await execute(None, "resume", transcript=path, options=options, on_event=hear)
            except UsageError:  # refused (the scenario changed, a tool call cut in flight): made anew
                return None
        return None

    async def judge(self, task: EvalTask, result: RunResult, repeat: int = 0) -> JudgeVerdict:
        """The judge's verdict on one run (the judge's model is asked once, through the shared pool; in a
        replay, the earlier verdict when the judge would be asked exactly the same)."""
        judge = self.plan.judge
        assert judge is not None  # only called when the plan has one
        if self.replay is not None and result.ok:
            spec = _judge_spec(self.plan)
            prompt = judge_prompt(judge, task, result.final_message)
            old = self.replay.verdict(task.id, repeat, prompt)
            if old is not None and (spec.model is None or old.model == f"{spec.provider}:{spec.model}"):
                return old
        if self._judge_client is None:
            spec = _judge_spec(self.plan)
            client = self.pool.get(spec, "judge")
            await self.pool.prepare()
            label = getattr(client, "model", None) or spec.model or "(discovered)"
            self._judge_client = client, f"{spec.provider}:{label}", capabilities_of(spec)
        client, model, caps = self._judge_client
        if not result.ok:
            return JudgeVerdict(model=model, problem="the run failed, so it was not judged")
        return await ask_judge(client, model, judge, task, result.final_message, capabilities=caps)

    def _relative(self, path: Path | None) -> str | None:
        if path is None:
            return None
        if self.root is not None:
            try:
                return path.resolve().relative_to(self.root.resolve()).as_posix()
            except ValueError:
                pass
        return str(path)

    async def aclose(self) -> None:
        await self.pool.aclose()


def score(result: RunResult, scenario: Scenario, task: EvalTask) -> tuple[dict[str, bool], list[str]]:
    """Each expectation's outcome (`run`: the run ended by its rules or caps; the task's own expectations
    under `task.`) and the failures, as `troupe test` words them."""
    from ..testing._expect import check_expectations

    checks: dict[str, bool] = {"run": result.ok}
    failures: list[str] = []
    for prefix, expect in (("", scenario.expect), ("task.", task.expect)):
        if prefix and expect is None:
            continue
        report = check_expectations(result, expect)
        for name in report.checked:
            if name != "run":
                checks[prefix + name] = not any(_under(f.expectation, name) for f in report.failures)
        failures += [prefix + str(f) for f in report.failures if not (prefix and f.expectation == "run")]
    return checks, failures


def _under(path: str, name: str) -> bool:
    return path == name or path.startswith((name + ".", name + " "))


def failed_result(error: TroupeError, scenario: Scenario, task: str, seconds: float) -> RunResult:
    """The result of a run that raised: read back from its transcript when it wrote one, so a failed
    run is checked and counted like any other."""
    message = redact_text(f"{type(error).__name__}: {error}")
    path = getattr(error, "transcript_path", None)
    if path is not None:
        read = read_transcript(Path(path))
        if read is not None:
            return read
    return RunResult(
        scenario=scenario.name,
        task=task,
        stop=StopReason(kind="error", text=message),
        transcript=(),
        usage=Usage(),
        duration_s=round(seconds, 3),
        error=message,
    )


def read_transcript(path: Path) -> RunResult | None:
    """A run's result from its JSONL transcript (None when it has no `result` record or is unreadable)."""
    from ..tapes._tape import read_tape

    try:
        return read_tape(path).run_result()
    except ScenarioError:
        return None
