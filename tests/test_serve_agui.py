"""`troupe serve`'s AG-UI endpoint against a real uvicorn server on 127.0.0.1: every event in the stream
is decoded with the protocol's own pydantic types (`ag_ui.core.Event`), the models are the fake
endpoint's, the tool a real MCP server (mcp-server-time)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from ag_ui.core import Event, RunAgentInput, UserMessage
from fake_openai import FakeOpenAI, Reply, by_system
from helpers import APPROVAL_REPLIES, approval_scenario, booking_scenario, write
from pydantic import TypeAdapter
from test_serve_api import SPEAKERS, TRAVEL
from test_serve_hostile import BEARER, KEY, _three_at_a_time

from autogen_troupe._redact import redact_text

EVENT: TypeAdapter[Any] = TypeAdapter(Event)
ECHO = "name: echo\ntask: hi\nteam: {kind: single, agents: [{name: echoer}]}\n"


def run_input(text: str, *, thread: str = "t1", run: str = "r1", **more: Any) -> dict[str, Any]:
    """A RunAgentInput as a front end sends it (built and dumped with the protocol's types)."""
    given = RunAgentInput(
        thread_id=thread, run_id=run, messages=[UserMessage(id=f"{run}-u", content=text)], **more
    )
    return given.model_dump(mode="json", by_alias=True)


def agui(url: str, body: dict[str, Any], **headers: str) -> list[Any]:
    """POST the input and decode every SSE `data:` line as an AG-UI event; each must validate, with no
    field the protocol does not know."""
    events = []
    with httpx2.stream("POST", url, json=body, headers=headers, timeout=60) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data:"):
                event = EVENT.validate_json(line[5:].strip())
                assert not event.model_extra, event
                events.append(event)
    return events


def types(events: list[Any]) -> list[str]:
    return [e.type.value for e in events]


def messages(events: list[Any]) -> list[tuple[str | None, str]]:
    """Each text message as (name, its text joined from its content events)."""
    names: dict[str, str | None] = {}
    text: dict[str, str] = {}
    for e in events:
        if e.type.value == "TEXT_MESSAGE_START":
            names[e.message_id], text[e.message_id] = e.name, ""
        elif e.type.value == "TEXT_MESSAGE_CONTENT":
            text[e.message_id] += e.delta
    return [(names[m], text[m]) for m in names]


@pytest.fixture
def served(srv: FakeOpenAI, tmp_path: Path) -> Iterator[Any]:
    from served import Served

    echo = write(tmp_path, ECHO, "echo.yaml")
    approval = write(tmp_path, approval_scenario(timeout_s=60), "approval.yaml")
    with Served(
        ["travel_planning", "time_agent", echo, approval], base_url=srv.base_url, out_dir=tmp_path / "runs"
    ) as s:
        yield s


def test_a_team_run_streams_each_agents_message_in_order(srv: FakeOpenAI, served: Any) -> None:
    srv.responder = by_system(TRAVEL)
    events = agui(served.url + "agui/travel_planning", run_input("Plan 2 days in Nepal."))
    kinds = types(events)
    assert kinds[:2] == ["RUN_STARTED", "STATE_SNAPSHOT"] and kinds[-1] == "RUN_FINISHED"
    assert events[0].thread_id == "t1" and events[0].run_id == "r1" and events[-1].run_id == "r1"
    assert messages(events) == [(a, m[0]) for a, m in zip(SPEAKERS, TRAVEL.values(), strict=True)]
    # the task (not sent back: the client has it) counts as the user's turn; then each message opens,
    # streams (in pieces: the fake endpoint streams word by word), closes, and a state snapshot follows
    body = [k for k in kinds[2:-2] if k != "TEXT_MESSAGE_CONTENT"]
    assert body == ["STATE_SNAPSHOT"] + ["TEXT_MESSAGE_START", "TEXT_MESSAGE_END", "STATE_SNAPSHOT"] * 4
    assert kinds.count("TEXT_MESSAGE_CONTENT") > 8
    states = [e.snapshot for e in events if e.type.value == "STATE_SNAPSHOT"]
    assert [s["speakers"] for s in states[2:6]] == [["user", *SPEAKERS[: i + 1]] for i in range(4)]
    assert states[-1]["status"] == "done" and states[-1]["usage"]["total_tokens"] > 0
    result = events[-1].result
    assert result["final_message"] == TRAVEL["detailed final travel plan"][0]
    assert events[-1].usage[0].total_tokens == states[-1]["usage"]["total_tokens"]
    # a served run like any other: listed, with its transcript; the task reached the team
    assert srv.chat_requests[0].json["messages"][-1]["content"] == "Plan 2 days in Nepal."
    listed = httpx2.get(served.url + "api/runs").json()["runs"]
    assert listed[0]["origin"] == "agui" and listed[0]["id"] == result["troupe_run_id"]
    assert (served.config.out_dir / result["transcript"]).is_file()


def test_tool_calls_of_a_real_mcp_tool(srv: FakeOpenAI, served: Any) -> None:
    srv.script(
        [Reply(tool_calls=[("get_current_time", {"timezone": "Asia/Seoul"})]), Reply(text="It is late.")]
    )
    events = agui(served.url + "agui/time_agent", run_input("What time is it in Seoul?"))
    kinds = types(events)
    start = kinds.index("TOOL_CALL_START")
    assert kinds[start : start + 4] == [
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "TOOL_CALL_RESULT",
    ]
    call, args, end, result = events[start : start + 4]
    assert call.tool_call_name == "get_current_time" and json.loads(args.delta) == {"timezone": "Asia/Seoul"}
    assert call.tool_call_id == args.tool_call_id == end.tool_call_id == result.tool_call_id
    assert json.loads(result.content)["timezone"] == "Asia/Seoul"  # what the real server answered
    assert messages(events)[-1][0] == "time_assistant" and kinds[-1] == "RUN_FINISHED"


def test_a_secret_cut_across_chunks_never_reaches_the_front_end(
    srv: FakeOpenAI, served: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_ENDPOINT_KEY", KEY)
    said = f"Your key is {KEY} and the header {BEARER} works."
    srv.responder = lambda body: _three_at_a_time(said)
    events = agui(served.url + "agui/echo", run_input("hi"))
    text = "".join(e.delta for e in events if e.type.value == "TEXT_MESSAGE_CONTENT")
    deltas = [e.delta for e in events if e.type.value == "TEXT_MESSAGE_CONTENT"]
    assert len(deltas) > 3  # it did stream in pieces
    assert text == redact_text(said) and KEY not in text and "tok3n.XYZ_0123456789" not in text
    everything = json.dumps([e.model_dump(mode="json") for e in events])
    assert KEY not in everything and "tok3n.XYZ_0123456789" not in everything


def test_a_failed_run_ends_with_one_paragraph(srv: FakeOpenAI, served: Any) -> None:
    srv.default = Reply(status=400, error="the model is on fire")
    events = agui(served.url + "agui/echo", run_input("hi"))
    assert types(events)[0] == "RUN_STARTED" and types(events)[-1] == "RUN_ERROR"
    assert "RUN_FINISHED" not in types(events)
    err = events[-1]
    assert err.code == "run_failed" and "the model is on fire" in err.message
    assert "\n" not in err.message and "Traceback" not in err.message


def test_the_person_in_the_team_is_an_interrupt_answered_by_the_next_input(
    srv: FakeOpenAI, served: Any
) -> None:
    srv.responder = by_system(APPROVAL_REPLIES)
    url = served.url + "agui/approval"
    first = agui(url, run_input("Plan a day in Kyoto.", run="r1"))
    # the AG-UI run ends on the question: its last message, then RUN_FINISHED with an interrupt
    assert messages(first)[-1] == ("traveller", first[-1].outcome.interrupts[0].message)
    (question,) = first[-1].outcome.interrupts
    assert first[-1].outcome.type == "interrupt" and question.reason == "input_required"
    assert question.metadata["agent"] == "traveller" and question.expires_at
    troupe_id = first[0].metadata["troupe_run_id"]
    assert httpx2.get(served.url + f"api/runs/{troupe_id}").json()["status"] == "waiting"
    # a new input on another thread does not touch it; one on this thread with no answer is refused
    again = httpx2.post(url, json=run_input("Plan a day in Kyoto.", run="r1"), timeout=30)
    assert again.status_code == 409 and again.json()["error"]["code"] == "question_waiting"
    # answered with `resume`: the same team run goes on, to its next question
    resume = [{"interruptId": question.id, "status": "resolved", "payload": "Add an evening, please."}]
    second = agui(url, run_input("Plan a day in Kyoto.", run="r2", resume=resume))
    assert second[0].metadata["troupe_run_id"] == troupe_id and second[-1].outcome.type == "interrupt"
    assert [n for n, _ in messages(second)] == ["traveller", "summary", "planner", "traveller"]
    assert messages(second)[0] == ("traveller", "Add an evening, please.")
    # answered with a new user message
    body = run_input("APPROVE", run="r3")
    body["messages"].insert(0, run_input("Plan a day in Kyoto.", run="r1")["messages"][0])
    third = agui(url, body)
    assert third[0].metadata["troupe_run_id"] == troupe_id and types(third)[-1] == "RUN_FINISHED"
    assert third[-1].result["final_message"] == "Final: Fushimi Inari, Gion. TERMINATE"
    assert third[-1].outcome is None and messages(third)[0] == ("traveller", "APPROVE")
    # the thread's run ended: its next input starts a new team run
    srv.responder = by_system(APPROVAL_REPLIES)
    fourth = agui(url, run_input("Plan a day in Osaka.", run="r4"))
    assert fourth[0].metadata["troupe_run_id"] != troupe_id


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("agui/nowhere", run_input("hi"), 404, "no scenario named 'nowhere'"),
        ("agui/echo", {"threadId": "t", "messages": []}, 400, "runId"),
        ("agui/echo", {"threadId": "t", "runId": "r", "messages": []}, 400, "non-empty"),
        (
            "agui/echo",
            {"threadId": "t", "runId": "r", "messages": [{"id": "a", "role": "assistant", "content": "x"}]},
            400,
            "no user message",
        ),
    ],
)
def test_bad_inputs_are_one_paragraph_errors(
    served: Any, path: str, body: dict[str, Any], status: int, words: str
) -> None:
    r = httpx2.post(served.url + path, json=body, timeout=30)
    assert r.status_code == status and words in r.json()["error"]["message"]


def test_with_a_token_the_endpoint_needs_it(srv: FakeOpenAI, tmp_path: Path) -> None:
    from served import Served

    srv.default = Reply(text="ok")
    echo = write(tmp_path, ECHO, "echo.yaml")
    with Served([echo], base_url=srv.base_url, out_dir=tmp_path / "runs", token="s3cret-token") as s:
        refused = httpx2.post(s.url + "agui/echo", json=run_input("hi"), timeout=30)
        assert refused.status_code == 401
        events = agui(s.url + "agui/echo", run_input("hi"), authorization="Bearer s3cret-token")
        assert messages(events) == [("echoer", "ok")]


def test_a_second_input_on_a_busy_thread_is_refused_and_a_hang_up_stops_the_run(
    srv: FakeOpenAI, served: Any
) -> None:
    srv.script([Reply(text="first")])
    srv.default = Reply(text="never", delay_s=30)  # the second agent's call hangs
    url = served.url + "agui/travel_planning"
    with httpx2.stream("POST", url, json=run_input("Plan 2 days in Nepal."), timeout=60) as r:
        for line in r.iter_lines():
            if '"TEXT_MESSAGE_END"' in line:  # the planner spoke
                busy = httpx2.post(url, json=run_input("Something else", run="r2"), timeout=30)
                assert busy.status_code == 409 and busy.json()["error"]["code"] == "thread_busy"
                break
    served.wait_until(lambda: all(run.done for run in served.runs.runs.values()))
    (run,) = served.runs.runs.values()
    assert run.status == "stopped" and run.origin == "agui"


def test_an_mcp_servers_question_is_an_interrupt_answered_with_its_form(
    srv: FakeOpenAI, tmp_path: Path
) -> None:
    from served import Served

    booking = booking_scenario(tmp_path)
    srv.script([Reply(tool_calls=[("book", {"city": "Rome"})]), Reply(text="Booked.")])
    with Served([booking], base_url=srv.base_url, out_dir=tmp_path / "runs") as s:
        first = agui(s.url + "agui/booking", run_input("Book Rome."))
        (question,) = first[-1].outcome.interrupts
        assert question.reason == "mcp_elicitation" and question.message == "Who is travelling to Rome?"
        assert set(question.response_schema["properties"]["content"]["properties"]) == {"name", "nights"}
        plain = httpx2.post(s.url + "agui/booking", json=run_input("Ann, 3 nights", run="rx"), timeout=30)
        assert plain.status_code == 409 and '"action": "accept"' in plain.json()["error"]["message"]
        payload = {"action": "accept", "content": {"name": "Ann", "nights": 3}}
        resume = [{"interruptId": question.id, "status": "resolved", "payload": payload}]
        second = agui(s.url + "agui/booking", run_input("Book Rome.", run="r2", resume=resume))
    (result,) = [e for e in second if e.type.value == "TOOL_CALL_RESULT"]
    assert result.content == "booked 3 night(s) in Rome for Ann"
    assert types(second)[-1] == "RUN_FINISHED" and second[-1].result["final_message"] == "Booked."


def test_a_models_reasoning_is_a_reasoning_message(srv: FakeOpenAI, served: Any) -> None:
    srv.default = Reply(text="Seoul, then Busan.", reasoning="Two cities fit in two days.")
    events = agui(served.url + "agui/echo", run_input("Where?"))
    # streamed: the reasoning AutoGen sends between <think> tags, piece by piece, then the message
    kinds = [k for k in types(events) if k.startswith(("REASONING", "TEXT_MESSAGE"))]
    reasoning = [k for k in kinds if k != "REASONING_MESSAGE_CONTENT"][:5]
    assert reasoning == [
        "REASONING_START",
        "REASONING_MESSAGE_START",
        "REASONING_MESSAGE_END",
        "REASONING_END",
        "TEXT_MESSAGE_START",
    ]
    thought = "".join(e.delta for e in events if e.type.value == "REASONING_MESSAGE_CONTENT")
    assert thought == "Two cities fit in two days." and kinds.count("REASONING_MESSAGE_CONTENT") > 1
    assert messages(events) == [("echoer", "Seoul, then Busan.")]


def test_reasoning_tags_cut_anywhere_across_chunks_split_the_same() -> None:
    from autogen_troupe.serve._agui_events import _ThinkSplit

    text = "<think>Two <b> cities.</think>Seoul <then> Busan.</thi"
    for a in range(len(text) + 1):
        for b in range(a, len(text) + 1):
            split = _ThinkSplit()
            pieces = [p for part in (text[:a], text[a:b], text[b:]) for p in split.feed(part)] + split.end()
            thought = "".join(t for thinking, t in pieces if thinking)
            said = "".join(t for thinking, t in pieces if not thinking)
            assert (thought, said) == ("Two <b> cities.", "Seoul <then> Busan.</thi"), (a, b)
