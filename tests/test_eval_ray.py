"""`troupe eval --ray` on a local Ray instance of this machine (2 CPUs, 2 workers): the same results as
in this process for a scripted endpoint, and a killed worker's runs made again elsewhere, none counted
twice. One Ray instance serves the module (starting one takes about 10 s); `-m "not ray"` leaves them out."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai import Reply
from test_eval_runs import CITIES, last_user, planner_and_judge, scenario, tasks_file

from autogen_troupe.eval import evaluate, load_tasks

pytestmark = pytest.mark.ray
ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def worker_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workers' temporary folder: a killed worker cannot remove its own."""
    return tmp_path_factory.mktemp("ray-workers")


@pytest.fixture(scope="module", autouse=True)
def local_ray(worker_tmp: Path) -> Iterator[None]:
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="ERROR",
        runtime_env={"env_vars": {"TMPDIR": str(worker_tmp)}},
    )
    yield
    ray.shutdown()


def comparable(records: list[Any]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            r.task_id,
            r.repeat,
            r.outcome,
            tuple(sorted(r.checks.items())),
            r.judge.score if r.judge else None,
            r.prompt_tokens,
            r.completion_tokens,
            r.final_message,
        )
        for r in records
    )


async def test_ray_gives_the_same_results_as_this_process(tmp_path: Path, srv) -> None:
    srv.responder = planner_and_judge(wrong={"Lima"}, low={"Oslo"})
    sc = scenario(tmp_path, srv)
    tasks = load_tasks(tasks_file(tmp_path, CITIES), sc)
    here = await evaluate(sc, tasks, out=tmp_path / "here", concurrency=4)
    there = await evaluate(sc, tasks, out=tmp_path / "ray", concurrency=4, ray="local", workers=2)
    assert comparable(there.records) == comparable(here.records)
    assert len({r.worker for r in there.records}) == 2  # both workers made runs
    assert {r.worker for r in there.records}.isdisjoint({r.worker for r in here.records})
    for r in there.records:  # transcripts came back into the results folder
        text = (tmp_path / "ray" / r.transcript).read_text()
        assert '"record": "result"' in text and r.task in text
    assert there.meta.ray == "local" and there.summary.pass_rate == here.summary.pass_rate


async def test_a_killed_workers_runs_are_made_again_and_counted_once(
    tmp_path: Path, srv, worker_tmp: Path
) -> None:
    def respond(body: dict[str, Any]) -> Reply:  # the first task is quick; the rest keep workers busy
        return Reply(
            text=f"Day 1 in {last_user(body)}. TERMINATE", delay_s=0.1 if "Kyoto" in last_user(body) else 2.0
        )

    srv.responder = respond
    sc = scenario(tmp_path, srv, judge=False)
    tasks = load_tasks(tasks_file(tmp_path, CITIES), sc)
    killed: list[str] = []

    def kill_first_worker(record: Any) -> None:
        if not killed:  # its other run is still in flight: it dies with it
            killed.append(record.worker)
            os.kill(int(record.worker.rsplit(":", 1)[1]), signal.SIGKILL)

    result = await evaluate(
        sc, tasks, out=tmp_path / "out", concurrency=4, ray="local", workers=2, on_record=kill_first_worker
    )
    lines = [json.loads(x) for x in (tmp_path / "out" / "runs.jsonl").read_text().splitlines()]
    assert sorted(x["task_id"] for x in lines) == sorted(c.lower() for c in CITIES)  # each once
    assert result.summary.outcomes == {"pass": len(CITIES), "fail": 0, "error": 0}
    again = [x for x in lines if x["attempt"] > 1]
    assert again and all(x["worker"] != killed[0] for x in again)
    assert len(srv.chat_requests) > len(CITIES)  # the lost tries did reach the endpoint
    left = [p.name for p in worker_tmp.glob("troupe-eval-*")]
    assert len(left) == 1  # the killed worker's folder; the others removed theirs on closing


def test_the_command_starts_and_ends_a_ray_instance_of_its_own(tmp_path: Path, fake_process) -> None:
    from helpers import troupe
    from test_eval_cli import SCRIPT, files

    url, _ = fake_process(SCRIPT)
    sc, tasks = files(tmp_path)
    out = tmp_path / "out"
    done = troupe(
        "eval", str(sc), "--tasks", str(tasks), "--out", str(out), "-q", "--ray", env={"FAKE_URL": url}
    )
    assert done.returncode == 0, done.stderr
    assert "2 tasks x 1 = 2 runs" in done.stdout
    assert json.loads((out / "eval.json").read_text())["ray"] == "local"
    assert len((out / "runs.jsonl").read_text().splitlines()) == 2
