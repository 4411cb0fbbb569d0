"""A person in a served run: a user agent's turn is an `input` event the client answers through
`POST /api/runs/{id}/input`, over the runs API's SSE and inside a streamed chat completion."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import openai
import pytest
from fake_openai import FakeOpenAI, by_system
from helpers import APPROVAL_REPLIES, approval_scenario, write
from served import Served, sse


@pytest.fixture
def served(srv: FakeOpenAI, tmp_path: Path) -> Iterator[Served]:
    srv.responder = by_system(APPROVAL_REPLIES)
    slow = write(tmp_path, approval_scenario(timeout_s=60), "approval.yaml")
    quick = write(tmp_path, approval_scenario(timeout_s=0.3, name="quick"), "quick.yaml")
    with Served([slow, quick], base_url=srv.base_url, out_dir=tmp_path / "runs") as s:
        yield s


@pytest.fixture
def api(served: Served) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=served.url, timeout=30) as client:
        yield client


def test_the_page_or_a_program_answers_the_user_agent(api: httpx2.Client) -> None:
    run = api.post("/api/runs", json={"scenario": "approval"}).json()
    answers = iter(["Add an evening, please.", "APPROVE"])
    statuses, questions = [], []
    with api.stream("GET", f"/api/runs/{run['id']}/events") as r:
        for event, data, _ in sse(r):
            if event == "status":
                statuses.append(data["status"])
            if event == "input":
                questions.append(data)
                assert (
                    data["agent"] == "traveller"
                    and data["timeout_s"] == 60
                    and data["default_answer"] == "TERMINATE"
                )
                waiting = api.get(f"/api/runs/{run['id']}").json()
                assert waiting["status"] == "waiting" and waiting["pending"]["id"] == data["id"]
                wrong = api.post(f"/api/runs/{run['id']}/input", json={"text": "x", "question_id": "nope"})
                assert wrong.status_code == 409 and wrong.json()["error"]["code"] == "no_question"
                ok = api.post(
                    f"/api/runs/{run['id']}/input", json={"text": next(answers), "question_id": data["id"]}
                )
                assert ok.status_code == 200
            if event == "done":
                done = data
                break
    assert len(questions) == 2 and statuses == ["waiting", "running", "waiting", "running"]
    assert done["status"] == "done" and done["final_message"] == "Final: Fushimi Inari, Gion. TERMINATE"
    detail = api.get(f"/api/runs/{run['id']}").json()
    said = [(e["source"], e["content"]) for e in detail["entries"] if e["kind"] == "text"]
    assert ("traveller", "Add an evening, please.") in said and ("traveller", "APPROVE") in said
    late = api.post(f"/api/runs/{run['id']}/input", json={"text": "late"})
    assert late.status_code == 409 and "no question" in late.json()["error"]["message"]


def test_no_answer_in_time_gives_the_default(api: httpx2.Client) -> None:
    run = api.post("/api/runs", json={"scenario": "quick"}).json()
    with api.stream("GET", f"/api/runs/{run['id']}/events") as r:
        seen = list(sse(r))
    closed = [d for e, d, _ in seen if e == "input_closed"]
    assert closed and closed[0]["answered"] is False
    entries = [d for e, d, _ in seen if e == "entry" and d["kind"] == "text"]
    assert entries[-1]["source"] == "traveller" and entries[-1]["content"] == "TERMINATE"
    assert seen[-1][1]["status"] == "done"


def test_a_streamed_chat_completion_shows_the_question_and_takes_the_answer(served: Served) -> None:
    client = openai.OpenAI(base_url=served.url + "v1", api_key="unused", max_retries=0)
    stream = client.chat.completions.create(
        model="approval", messages=[{"role": "user", "content": "Plan a day in Kyoto."}], stream=True
    )
    answers = iter(["Add an evening, please.", "APPROVE"])
    text = ""
    with httpx2.Client(base_url=served.url, timeout=30) as api:
        for chunk in stream:
            ext = (chunk.model_extra or {}).get("troupe") or {}
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
            if ext.get("event") == "input":
                question = ext["input"]
                r = api.post(
                    f"/api/runs/{ext['run_id']}/input",
                    json={"text": next(answers), "question_id": question["id"]},
                )
                assert r.status_code == 200
    assert (
        f"**traveller**: (waiting for your answer: POST /api/runs/{ext['run_id']}/input within 60 s" in text
    )
    assert "**traveller**: APPROVE" in text and text.endswith(
        "**summary**: Final: Fushimi Inari, Gion. TERMINATE"
    )
