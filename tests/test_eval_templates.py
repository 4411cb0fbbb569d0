"""A scenario whose task holds `{{name}}` placeholders is an eval template: `troupe list`, the serve
catalog and API, and `troupe run` all say so, and none runs the literal `{{destination}}` as a task."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import openai
import pytest
from fake_openai import FakeOpenAI, by_system
from helpers import cli
from served import Served, sse

from autogen_troupe.scenario import load_scenario
from autogen_troupe.scenario._template import task_placeholders

TRAVEL = {
    "suggest a travel plan": ["Day 1: Kyoto."],
    "authentic and interesting local": ["Try tofu."],
    "language or communication": ["Say arigato."],
    "detailed final travel plan": ["Final plan. TERMINATE"],
}


@pytest.mark.parametrize(
    ("task", "names"),
    [
        ("Plan a {{days}} day trip to {{ destination }} ({{days}} days).", ["days", "destination"]),
        (["Context.", {"mcp_prompt": {"server": "s", "name": "brief"}}, "Go to {{city}}."], ["city"]),
        ("Plan a trip to Kyoto; {braces} and {{ not a name }} stay text.", []),
        (None, []),
    ],
)
def test_a_template_is_a_placeholder_in_the_tasks_text(tmp_path: Path, task, names: list[str]) -> None:
    import yaml

    data = {"name": "t", "team": {"kind": "single", "agents": [{"name": "a"}]}}
    if task is not None:
        data["task"] = task
    if isinstance(task, list):
        data["mcp_servers"] = {"s": {"command": "true"}}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data))
    assert task_placeholders(load_scenario(path)) == names


def test_list_marks_the_eval_template() -> None:
    done = cli("list", env={"COLUMNS": "220"})
    assert done.returncode == 0, done.stderr
    rows = {line.split("│")[1].strip(): line for line in done.stdout.splitlines() if line.startswith("│ ")}
    marked = [line for line in done.stdout.splitlines() if "eval template: run with troupe eval" in line]
    assert len(marked) == 1 and "troupe eval travel_eval --tasks FILE" in marked[0]
    assert "travel_eval" in rows and "travel_planning" in rows


def test_run_without_a_task_says_the_scenario_is_an_eval_template(tmp_path: Path) -> None:
    done = cli("run", "travel_eval", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert (
        "scenario 'travel_eval' is an eval template: its task uses {{days}}, {{destination}}" in done.stderr
    )
    assert "troupe eval travel_eval --tasks FILE" in done.stderr and "give a task" in done.stderr
    assert list(tmp_path.iterdir()) == []  # no run started: no transcript folder


@pytest.fixture
def served(srv: FakeOpenAI, tmp_path: Path) -> Iterator[Served]:
    with Served(["travel_planning", "travel_eval"], base_url=srv.base_url, out_dir=tmp_path / "runs") as s:
        yield s


@pytest.fixture
def api(served: Served) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=served.url) as client:
        yield client


def test_the_catalog_offers_no_template_task_and_says_how_to_run_it(api: httpx2.Client) -> None:
    listed = {s["name"]: s for s in api.get("/api/scenarios").json()["scenarios"]}
    template = listed["travel_eval"]
    assert template["task"] is None
    assert template["eval_template"] == {
        "task": "Plan a {{days}} day trip to {{destination}}.",
        "placeholders": ["days", "destination"],
        "run_with": "troupe eval travel_eval --tasks FILE",
    }
    assert listed["travel_planning"]["eval_template"] is None
    assert listed["travel_planning"]["task"] == "Plan a 3 day trip to Nepal."
    one = api.get("/api/scenarios/travel_eval").json()
    assert one["task"] is None and one["eval_template"]["placeholders"] == ["days", "destination"]
    models = {m["id"]: m["troupe"] for m in api.get("/v1/models").json()["data"]}
    assert models["travel_eval"]["eval_template"]["run_with"] == "troupe eval travel_eval --tasks FILE"


@pytest.mark.parametrize("body", [{}, {"task": ""}, {"task": "   "}], ids=["none", "empty", "blank"])
def test_starting_a_template_without_a_task_is_a_400(
    srv: FakeOpenAI, served: Served, api: httpx2.Client, body: dict
) -> None:
    r = api.post("/api/runs", json={"scenario": "travel_eval", **body})
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert "is an eval template" in message and "give a task" in message
    assert not srv.chat_requests and not served.runs.runs  # nothing started


def test_a_completion_of_a_template_needs_a_user_message(srv: FakeOpenAI, served: Served) -> None:
    client = openai.OpenAI(base_url=served.url + "v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.BadRequestError, match="no user message with text"):
        client.chat.completions.create(model="travel_eval", messages=[{"role": "user", "content": "  "}])
    assert not srv.chat_requests


def test_a_template_runs_the_task_it_is_given(srv: FakeOpenAI, served: Served, api: httpx2.Client) -> None:
    srv.responder = by_system(TRAVEL)
    r = api.post("/api/runs", json={"scenario": "travel_eval", "task": "Plan 2 days in Kyoto."})
    assert r.status_code == 201, r.text
    with api.stream("GET", f"/api/runs/{r.json()['id']}/events") as events:
        done = [data for event, data, _ in sse(events) if event == "done"]
    assert done and done[0]["status"] == "done", done
    srv.responder = by_system(TRAVEL)
    client = openai.OpenAI(base_url=served.url + "v1", api_key="unused", max_retries=0)
    reply = client.chat.completions.create(
        model="travel_eval", messages=[{"role": "user", "content": "Plan 1 day in Lima."}]
    )
    assert reply.choices[0].message.content == "Final plan. TERMINATE"
    firsts = [c.json["messages"][-1]["content"] for c in srv.chat_requests if len(c.json["messages"]) == 2]
    assert firsts == ["Plan 2 days in Kyoto.", "Plan 1 day in Lima."]  # each run's first call: its task
    assert not any("{{" in str(c.json["messages"]) for c in srv.chat_requests)
