"""`--simulate-user PROFILE [--persona TEXT]`: a model plays the person of a `kind: user` agent, with the
persona of each task row; its answers go on the tape as a person's and replay as them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fake_openai import Reply
from helpers import cli, write
from test_eval_runs import last_user, records

from autogen_troupe.errors import ScenarioError, UsageError
from autogen_troupe.eval import evaluate, load_tasks
from autogen_troupe.scenario import load_scenario
from autogen_troupe.scenario._schema import ModelSpec
from autogen_troupe.tapes import read_tape

DESK = """
    name: desk
    task: Plan a trip to {{{{city}}}}.
    model: {{base_url: "{url}", model: team-model, max_retries: 0}}
    team:
      kind: round_robin
      agents:
        - name: planner
          system_message: You plan trips.
        - name: traveller
          kind: user
          description: The traveller, who says how they like to travel.
      termination: {{any: [{{text_mention: TERMINATE}}, {{max_messages: 8}}]}}
    expect:
      final_message: {{regex: 'Book the (train|flight)'}}
"""


def respond(body: dict[str, Any]) -> Reply:
    system = body["messages"][0]["content"] if body["messages"][0]["role"] == "system" else ""
    if "You play a person" in system:  # the simulated traveller
        assert body["model"] == "person-model"
        return Reply(text="Trains, please." if "trains" in system else "Planes, please.")
    said = last_user(body)
    if "Trains, please." in said:
        return Reply(text="Book the train. TERMINATE")
    if "Planes, please." in said:
        return Reply(text="Book the flight. TERMINATE")
    return Reply(text="Train or plane?")


def _files(tmp_path: Path, srv) -> tuple[Any, Path]:
    sc = load_scenario(write(tmp_path, DESK.format(url=srv.base_url), "desk.yaml"))
    rows = [
        {"id": "kyoto", "vars": {"city": "Kyoto"}, "persona": "Mia, 30, loves trains."},
        {"id": "lima", "vars": {"city": "Lima"}},
    ]
    return sc, write(tmp_path, "".join(json.dumps(r) + "\n" for r in rows), "t.jsonl")


async def test_a_model_plays_the_person_with_each_rows_persona(tmp_path: Path, srv) -> None:
    srv.responder = respond
    sc, tasks = _files(tmp_path, srv)
    rows = load_tasks(tasks, sc)
    person = ModelSpec(base_url=srv.base_url, model="person-model", max_retries=0)
    result = await evaluate(
        sc, rows, out=tmp_path / "out", simulate_user=person, persona="Ana, who flies everywhere."
    )
    by = {r["task_id"]: r for r in records(tmp_path / "out")}
    assert {k: r["final_message"] for k, r in by.items()} == {
        "kyoto": "Book the train. TERMINATE",  # the row's persona
        "lima": "Book the flight. TERMINATE",  # --persona
    }
    assert result.summary.pass_rate.passed == 2
    asked = [r.json for r in srv.chat_requests if r.json["model"] == "person-model"]
    assert len(asked) == 2
    kyoto = next(b for b in asked if "Kyoto" in b["messages"][0]["content"])
    assert "Mia, 30, loves trains." in kyoto["messages"][0]["content"]
    assert kyoto["messages"][-1]["content"] == "[planner] Train or plane?"
    tape = read_tape(tmp_path / "out" / by["kyoto"]["transcript"])
    answers = [r for r in tape.records if getattr(r, "record", "") == "user_answer"]
    assert [a.answer for a in answers] == ["Trains, please."]  # on the tape as a person's answer
    assert result.meta.simulated_user == {
        "model": f"openai person-model at {srv.base_url}",
        "persona": "Ana, who flies everywhere.",
    }
    assert "person-model" not in json.dumps(result.meta.models)  # the team's models only

    before = len(srv.chat_requests)
    again = await evaluate(sc, rows, out=tmp_path / "again", replay=tmp_path / "out")
    assert len(srv.chat_requests) == before and again.summary.pass_rate.passed == 2  # answers replayed


async def test_simulate_user_needs_a_user_agent_and_persona_needs_it(tmp_path: Path, srv) -> None:
    plain = load_scenario(
        write(tmp_path, "name: p\ntask: t\nteam: {kind: single, agents: [{name: a}]}\n", "p.yaml")
    )
    rows = load_tasks(write(tmp_path, "task\nhello\n", "t.csv"), plain)
    with pytest.raises(UsageError, match="has none \\(an agent with kind: user\\)"):
        await evaluate(plain, rows, out=tmp_path / "o", simulate_user="default")
    sc, _ = _files(tmp_path, srv)
    with pytest.raises(UsageError, match="give --simulate-user PROFILE too"):
        await evaluate(
            sc, load_tasks(write(tmp_path, "city\nOslo\n", "c.csv"), sc), out=tmp_path / "o", persona="x"
        )
    with pytest.raises(ScenarioError, match=r"t2\.csv:2:2: persona: the scenario has no user agent"):
        load_tasks(write(tmp_path, "task,persona\nhello,Bob\n", "t2.csv"), plain)


def test_simulate_user_from_the_command_line(tmp_path: Path, srv) -> None:
    srv.responder = respond
    sc, tasks = _files(tmp_path, srv)
    profiles = write(
        tmp_path, f'person: {{base_url: "{srv.base_url}", model: person-model}}\n', "profiles.yaml"
    )
    done = cli(
        "eval", str(sc.source), "--tasks", str(tasks), "--out", str(tmp_path / "out"), "-q",
        "--simulate-user", "person", "--persona", "Ana, who flies everywhere.",
        env={"TROUPE_PROFILES": str(profiles)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert {r["task_id"]: r["outcome"] for r in records(tmp_path / "out")} == {
        "kyoto": "pass",
        "lima": "pass",
    }
