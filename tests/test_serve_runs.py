"""`troupe serve`'s runs API: start, list, read, watch (SSE, resumable), stop; past runs from --out.
Against the real uvicorn server on 127.0.0.1 with httpx2; the models are the fake endpoint's."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fake_openai import FakeOpenAI, Reply, by_system
from helpers import write
from served import Served, sse

from autogen_troupe import RunOptions, load_scenario, run_scenario
from autogen_troupe.models._endpoints import Overrides

TRAVEL = {
    "suggest a travel plan": ["Day 1: Kathmandu."],
    "authentic and interesting local": ["Try momos."],
    "language or communication": ["Say namaste."],
    "detailed final travel plan": ["Final plan. TERMINATE"],
}


@pytest.fixture
def served(srv: FakeOpenAI, tmp_path: Path) -> Iterator[Served]:
    echo = write(tmp_path, "name: echo\nteam: {kind: single, agents: [{name: echoer}]}\n", "echo.yaml")
    with Served(["travel_planning", echo], base_url=srv.base_url, out_dir=tmp_path / "runs") as s:
        yield s


@pytest.fixture
def api(served: Served) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=served.url, timeout=30) as client:
        yield client


def watch(api: httpx2.Client, run_id: str, **headers: str) -> list[tuple[str, Any, int | None]]:
    with api.stream("GET", f"/api/runs/{run_id}/events", headers=headers) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        return list(sse(r))


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_scenarios_are_listed_and_their_files_shown(api: httpx2.Client) -> None:
    listed = api.get("/api/scenarios").json()["scenarios"]
    assert [s["name"] for s in listed] == ["travel_planning", "echo"]
    assert listed[0]["team"] == "round_robin" and listed[0]["task"] == "Plan a 3 day trip to Nepal."
    one = api.get("/api/scenarios/travel_planning").json()
    assert "name: travel_planning" in one["source"] and one["file"] == "travel_planning.yaml"
    missing = api.get("/api/scenarios/nowhere")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "scenario_not_found"


def test_a_run_streams_the_transcripts_entries_as_they_happen(
    srv: FakeOpenAI, served: Served, api: httpx2.Client
) -> None:
    srv.responder = by_system(TRAVEL)
    started = api.post("/api/runs", json={"scenario": "travel_planning", "task": "Plan 1 day in Nepal."})
    assert started.status_code == 201
    run = started.json()
    assert run["status"] == "running" and started.headers["location"] == f"/api/runs/{run['id']}"
    seen = watch(api, run["id"])
    kinds = [e for e, _, _ in seen]
    assert kinds[-1] == "done" and "chunk" in kinds  # streamed text came as it was produced
    entries = [d for e, d, _ in seen if e == "entry"]
    assert [(d["source"], d["content"]) for d in entries] == [
        ("user", "Plan 1 day in Nepal."),
        *(
            (agent, replies[0])
            for agent, replies in zip(
                ["planner_agent", "local_agent", "language_agent", "travel_summary_agent"],
                TRAVEL.values(),
                strict=True,
            )
        ),
    ]
    waits = [d for e, d, _ in seen if e == "model"]  # each agent's call, before its first token
    assert [d["agent"] for d in waits] == [
        "planner_agent",
        "local_agent",
        "language_agent",
        "travel_summary_agent",
    ]
    assert waits[0] == {
        "phase": "waiting",
        "message": "planner_agent: waiting for the first token",
        "agent": "planner_agent",
    }
    ids = [i for e, _, i in seen if e not in ("chunk", "model")]  # passed on, not kept
    assert ids == list(range(len(ids)))  # every kept event numbered, in order
    done = seen[-1][1]
    assert (
        done["status"] == "done"
        and done["stopped_by"] == "rule"
        and done["final_message"] == "Final plan. TERMINATE"
    )
    assert done["stop"]["condition"] == "text_mention"  # the typed stop beside its text
    assert set(done["tokens_by_agent"]) == {
        "planner_agent",
        "local_agent",
        "language_agent",
        "travel_summary_agent",
    }
    # the same entries went to the JSONL transcript under --out, which names the run
    (path,) = served.config.out_dir.glob("travel_planning-*.jsonl")
    recs = records(path)
    assert recs[0]["run_id"] == run["id"] and path.name == done["transcript"]
    assert [r["content"] for r in recs if r["record"] == "entry"] == [d["content"] for d in entries]


def test_a_watcher_resumes_after_the_last_event_it_saw(srv: FakeOpenAI, api: httpx2.Client) -> None:
    srv.responder = by_system(TRAVEL)
    run = api.post("/api/runs", json={"scenario": "travel_planning"}).json()
    everything = [(e, i) for e, _, i in watch(api, run["id"]) if e not in ("chunk", "model")]
    again = [(e, i) for e, _, i in watch(api, run["id"], **{"Last-Event-ID": "2"})]
    assert again == everything[3:]
    with api.stream("GET", f"/api/runs/{run['id']}/events?after=4") as r:
        assert [(e, i) for e, _, i in sse(r)] == everything[5:]


def test_runs_are_listed_live_and_past_and_read_back(
    srv: FakeOpenAI, served: Served, api: httpx2.Client, tmp_path: Path
) -> None:
    srv.default = Reply(text="echoed")
    out = served.config.out_dir
    earlier = run_scenario_sync(srv, tmp_path / "echo.yaml", out)  # as `troupe run --out` would leave it
    run = api.post("/api/runs", json={"scenario": "echo", "task": "from the API"}).json()
    watch(api, run["id"])
    listed = api.get("/api/runs").json()["runs"]
    assert [(r["id"], r["origin"], r["status"]) for r in listed] == [
        (run["id"], "api", "done"),
        (earlier.stem, "file", "done"),  # the served run's own transcript is not listed twice
    ]
    past = api.get(f"/api/runs/{earlier.stem}").json()
    assert past["task"] == "from a terminal" and past["stopped_by"] == "rule"
    assert past["stop"]["kind"] == "rule" and past["stop"]["text"] == past["stop_reason"]
    assert [e["content"] for e in past["entries"]] == ["from a terminal", "echoed"]
    assert past["tokens_by_agent"]["echoer"]["total_tokens"] > 0
    replayed = watch(api, earlier.stem)
    assert [e for e, _, _ in replayed] == ["entry", "entry", "done"]
    for bad in ("../etc/passwd", "nothing-here", "..", "%2e%2e"):
        r = api.get(f"/api/runs/{bad}")
        assert r.status_code == 404 and r.json()["error"]["code"] in ("run_not_found", None), bad


def run_scenario_sync(srv: FakeOpenAI, path: Path, out: Path) -> Path:
    import asyncio

    options = RunOptions(overrides=Overrides(base_url=srv.base_url, model="fake-model"), out_dir=out)
    result = asyncio.run(run_scenario(load_scenario(path), task="from a terminal", options=options))
    assert result.transcript_path is not None
    return result.transcript_path


def test_a_run_is_stopped_on_request(srv: FakeOpenAI, served: Served, api: httpx2.Client) -> None:
    srv.script([Reply(text="first")])
    srv.default = Reply(text="never", delay_s=30)
    run = api.post("/api/runs", json={"scenario": "travel_planning"}).json()
    with api.stream("GET", f"/api/runs/{run['id']}/events") as r:
        for event, data, _ in sse(r):
            if event == "entry" and data["source"] == "planner_agent":
                assert api.post(f"/api/runs/{run['id']}/cancel").status_code == 202
            if event == "done":
                assert data["status"] == "stopped"
                break
    again = api.post(f"/api/runs/{run['id']}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "run_ended"
    (path,) = served.config.out_dir.glob("travel_planning-*.jsonl")
    assert records(path)[-1]["stopped_by"] == "interrupted"
    assert api.get(f"/api/runs/{run['id']}").json()["transcript"] == path.name


def test_a_run_may_pick_a_model_but_never_a_base_url(srv: FakeOpenAI, api: httpx2.Client) -> None:
    srv.default = Reply(text="ok")
    run = api.post(
        "/api/runs", json={"scenario": "echo", "task": "x", "model": {"model": "other-model"}}
    ).json()
    watch(api, run["id"])
    assert srv.chat_requests[-1].json["model"] == "other-model"
    r = api.post("/api/runs", json={"scenario": "echo", "model": {"base_url": "http://evil.example/v1"}})
    assert r.status_code == 400 and "cannot be set over the API" in r.json()["error"]["message"]
    assert srv.chat_requests[-1].json["model"] == "other-model"  # nothing was started


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"scenario": "nowhere"}, 404, "no scenario named 'nowhere'"),
        ({"task": "x"}, 404, "no scenario named None"),
        ({"scenario": "echo", "task": 3}, 400, "`task` must be a string"),
        ({"scenario": "echo"}, 400, "the scenario has no task"),
        (
            {"scenario": "echo", "model": {"profile": "x", "temperature": 1}},
            400,
            "`model` takes `profile` and `model`",
        ),
    ],
)
def test_bad_run_requests_are_refused(
    api: httpx2.Client, body: dict[str, Any], status: int, words: str
) -> None:
    r = api.post("/api/runs", json=body)
    assert r.status_code == status and words in r.json()["error"]["message"]
    assert api.get("/api/runs").json()["runs"] == []


def test_unknown_routes_and_methods_answer_in_the_error_shape(api: httpx2.Client) -> None:
    r = api.get("/api/nothing")
    assert r.status_code == 404 and r.json()["error"]["message"].startswith("GET /api/nothing")
    assert api.delete("/api/runs").status_code == 405


def test_the_page_and_its_files_are_served(api: httpx2.Client) -> None:
    page = api.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/app.js" defer></script>' in page.text
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        r = api.get(f"/static/{name}")
        assert r.status_code == 200 and kind in r.headers["content-type"]
    assert api.get("/static/../_app.py").status_code == 404


def test_a_watcher_that_comes_while_a_model_is_busy_hears_what_it_is_doing(
    srv: FakeOpenAI, api: httpx2.Client
) -> None:
    """`model` events are not kept, but the latest one (until that model answers) is given to a watcher
    that comes meanwhile: a page opened while the engine loads says so."""
    srv.script([Reply(text="Day 1: Kathmandu. TERMINATE", delay_s=3)])
    run = api.post("/api/runs", json={"scenario": "echo", "task": "Plan."}).json()
    deadline = time.monotonic() + 30  # bounds a hang only
    while not srv.chat_requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.chat_requests  # the call is out: its `waiting` status was told before it
    late = watch(api, run["id"])
    events = [e for e, _, _ in late]
    assert events.count("model") == 1 and events.index("model") < events.index("chunk"), events
    note = next(d for e, d, _ in late if e == "model")
    assert note == {"phase": "waiting", "message": "echoer: waiting for the first token", "agent": "echoer"}
