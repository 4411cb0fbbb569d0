"""Runs on Ray (the `[ray]` extra): `--ray` starts a Ray instance of our own on this machine, `--ray
ADDRESS` joins a cluster (`auto`, `host:6379`, `ray://host:10001`).

Each worker is a Ray actor with a `TaskRunner` of its own: one client pool, so one in-process engine per
actor (placed on a GPU of its own when the cluster has GPUs) or one endpoint client shared by its runs.
Runs are handed out by the same scheduler as locally; each run's record and transcript come back here, and
only this process writes the results folder. A run whose worker dies is made again on another worker
(its `attempt` says which try it was): the try that died left no record, so no run is counted twice.

Workers read model keys from their own environment (on a cluster, set them there or in Ray's runtime
environment); the plan sent to them holds none.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..errors import ProfileError, RunError, TroupeError
from ._results import ResultsFolder, RunRecord, now
from ._worker import EvalPlan, Job, TaskRunner

__all__ = ["MAX_ATTEMPTS", "EvalWorker", "RayExecutor"]

MAX_ATTEMPTS = 3  # tries of one run whose workers keep dying
MAX_RESTARTS = 2  # of one worker, by Ray, after it died
_CLOSE_S = 30.0  # for the workers to close their clients
_INSTALL = "pip install 'autogen-troupe[ray]'"


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ProfileError(f"--ray needs Ray, which is not installed: {_INSTALL}") from None
    return ray


class EvalWorker:
    """A Ray actor's body: makes runs with a `TaskRunner`, and sends each transcript back as text."""

    def __init__(self, plan: EvalPlan) -> None:
        from ..runtime._logs import quiet_autogen_logs

        quiet_autogen_logs()
        if plan.overrides is not None:  # this machine's TROUPE_* (and key) under the driver's flags
            from ..models._endpoints import Overrides

            plan = dataclasses.replace(plan, overrides=Overrides.from_env(os.environ).under(plan.overrides))
        self.folder = Path(tempfile.mkdtemp(prefix="troupe-eval-"))
        self.runner = TaskRunner(plan, transcripts=self.folder)

    async def run(self, job: Job) -> tuple[RunRecord, str | None, str | None]:
        """The run's record, and its transcript's file name and text (the file itself is removed)."""
        record = await self.runner.run(job)
        if record.transcript is None:
            return record, None, None
        path = Path(record.transcript)
        try:
            text = path.read_text(encoding="utf-8")
            path.unlink()
        except OSError:
            return record.model_copy(update={"transcript": None}), None, None
        return record, path.name, text

    def where(self) -> str:
        """host:pid of this worker."""
        return self.runner.worker

    async def close(self) -> None:
        await self.runner.aclose()
        shutil.rmtree(self.folder, ignore_errors=True)


class RayExecutor:
    """Hands runs to Ray actors, the least busy first; a run whose actor dies goes to another."""

    def __init__(
        self,
        plan: EvalPlan,
        folder: ResultsFolder,
        *,
        address: str,
        workers: int | None,
        concurrency: int,
        in_process: bool,
    ) -> None:
        ray = _ray()
        self.ray = ray
        self.folder = folder
        self.started = False
        if not ray.is_initialized():
            options: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "logging_level": logging.ERROR,
            }
            try:
                ray.init(address="local" if address == "local" else address, **options)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise ProfileError(f"cannot start or join Ray at {address!r}: {e}") from None
            self.started = True
        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), float(resources.get("CPU", 1))
        if workers is None:
            workers = max(1, gpus) if in_process else max(1, min(concurrency, int(cpus)))
        actor: dict[str, Any] = {
            "max_concurrency": max(1, concurrency),
            "max_restarts": MAX_RESTARTS,
            "num_cpus": min(1.0, cpus / workers),
            "scheduling_strategy": "SPREAD",
        }
        if in_process and gpus:
            actor["num_gpus"] = 1
        remote = ray.remote(EvalWorker).options(**actor)
        self.actors = [remote.remote(plan.without_keys()) for _ in range(workers)]
        self.busy = [0] * workers
        self.deaths = [0] * workers

    def _pick(self, tried: set[int]) -> int | None:
        alive = [i for i in range(len(self.actors)) if self.deaths[i] <= MAX_RESTARTS]
        fresh = [i for i in alive if i not in tried] or alive
        return min(fresh, key=lambda i: self.busy[i]) if fresh else None

    async def run(self, job: Job) -> RunRecord:
        from ray.exceptions import ActorUnavailableError, RayActorError, RayTaskError

        tried: set[int] = set()
        last = ""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            i = self._pick(tried)
            if i is None:
                raise RunError(f"every Ray worker of this eval died; the last said: {last}")
            tried.add(i)
            self.busy[i] += 1
            try:
                record, name, text = await self.actors[i].run.remote(
                    dataclasses.replace(job, attempt=attempt)
                )
            except RayTaskError as e:  # the run raised in the worker: bad input stops the eval
                cause = getattr(e, "cause", None)
                raise (
                    cause if isinstance(cause, TroupeError) else RunError(f"a Ray worker failed: {e}")
                ) from None
            except (RayActorError, ActorUnavailableError) as e:  # the worker died: the run goes elsewhere
                self.deaths[i] += 1
                last = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                continue
            finally:
                self.busy[i] -= 1
            if text is not None and name is not None:
                record = record.model_copy(update={"transcript": self.folder.write_transcript(name, text)})
            return record
        return _lost(job, last)

    async def aclose(self) -> None:
        """Close every worker's clients (an in-process engine shuts down cleanly), then end them."""
        closing = [a.close.remote() for a in self.actors]
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*closing, return_exceptions=True), _CLOSE_S)
        for a in self.actors:
            with contextlib.suppress(Exception):  # already dead, or Ray is gone
                self.ray.kill(a)
        self.actors = []
        if self.started:
            self.ray.shutdown()


def _lost(job: Job, why: str) -> RunRecord:
    """The record of a run whose every try lost its worker."""
    message = f"RunError: the run's Ray worker died {MAX_ATTEMPTS} times ({why})"
    return RunRecord(
        task_id=job.task.id,
        repeat=job.repeat,
        digest=job.task.digest,
        task=job.task.task,
        vars=job.task.vars,
        reference=job.task.reference,
        outcome="error",
        checks={"run": False},
        failures=(f"run: expected the run to end by its rules or limits; got {message}",),
        stop_reason=message,
        stopped_by="error",
        error=message,
        attempt=MAX_ATTEMPTS,
        finished_at=now(),
    )
