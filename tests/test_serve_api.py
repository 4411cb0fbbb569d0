"""`troupe serve`'s OpenAI-compatible API, called with the official `openai` SDK (sync and async, streamed
and not) and httpx2, against the real uvicorn server on 127.0.0.1; the models are the fake endpoint's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from fake_openai import FakeOpenAI, Reply, by_system
from helpers import write
from served import Served

TRAVEL = {
    "suggest a travel plan": ["Day 1: Kathmandu. Day 2: Patan."],
    "authentic and interesting local": ["Try momos in Thamel."],
    "language or communication": ["Say namaste."],
    "detailed final travel plan": ["Final plan: Kathmandu, Patan, momos, namaste. TERMINATE"],
}
SPEAKERS = ["planner_agent", "local_agent", "language_agent", "travel_summary_agent"]
TASK = [{"role": "user", "content": "Plan 2 days in Nepal."}]


@pytest.fixture
def served(srv: FakeOpenAI, tmp_path: Path) -> Iterator[Served]:
    echo = write(
        tmp_path, "name: echo\ntask: hi\nteam: {kind: single, agents: [{name: echoer}]}\n", "echo.yaml"
    )
    with Served(["travel_planning", echo], base_url=srv.base_url, out_dir=tmp_path / "runs") as s:
        yield s


def sdk(s: Served, **kw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=s.url + "v1", api_key="unused", max_retries=0, **kw)


def troupe_of(chunk: Any) -> dict[str, Any]:
    return (chunk.model_extra or {}).get("troupe") or {}


def test_models_are_the_served_scenarios(served: Served) -> None:
    models = sdk(served).models.list().data
    assert [m.id for m in models] == ["travel_planning", "echo"]
    travel = models[0].model_extra["troupe"]
    assert travel["team"] == "round_robin" and [a["name"] for a in travel["agents"]] == SPEAKERS


def test_a_completion_runs_the_team_and_answers_its_final_message(srv: FakeOpenAI, served: Served) -> None:
    srv.responder = by_system(TRAVEL)
    reply = sdk(served).chat.completions.create(model="travel_planning", messages=TASK)
    assert reply.choices[0].message.content == TRAVEL["detailed final travel plan"][0]
    assert reply.choices[0].finish_reason == "stop" and reply.model == "travel_planning"
    # usage is summed over every agent's calls, as the fake endpoint counted them
    calls = srv.chat_requests
    assert len(calls) == 4 and reply.usage is not None
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens > 0
    ext = reply.model_extra["troupe"]
    assert [m["agent"] for m in ext["messages"]] == SPEAKERS
    assert ext["stopped_by"] == "rule" and "TERMINATE" in ext["stop_reason"]
    # the task reached the team, and the run wrote its transcript under --out
    assert calls[0].json["messages"][-1]["content"] == "Plan 2 days in Nepal."
    (path,) = (served.config.out_dir).glob("travel_planning-*.jsonl")
    assert path.name == ext["transcript"]
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records[0]["run_id"] == ext["run_id"] and records[-1]["record"] == "result"


def test_earlier_messages_are_context_and_the_last_user_message_is_the_task(
    srv: FakeOpenAI, served: Served
) -> None:
    srv.default = Reply(text="ok")
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "I like mountains."},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": [{"type": "text", "text": "Where should I go?"}]},
    ]
    sdk(served).chat.completions.create(model="echo", messages=messages)  # type: ignore[arg-type]
    task = srv.chat_requests[0].json["messages"][-1]["content"]
    assert task == (
        "Earlier in this conversation:\nsystem: Be brief.\nuser: I like mountains.\nassistant: Noted.\n\n"
        "Now: Where should I go?"
    )


def test_a_streamed_completion_shows_each_agent_as_it_speaks(srv: FakeOpenAI, served: Served) -> None:
    srv.responder = by_system(TRAVEL)
    stream = sdk(served).chat.completions.create(
        model="travel_planning", messages=TASK, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "\n\n".join(
        f"**{a}**: {msgs[0]}" for a, msgs in zip(SPEAKERS, TRAVEL.values(), strict=True)
    )
    spoke = [troupe_of(c)["agent"] for c in chunks if troupe_of(c).get("event") == "text"]
    assert spoke == SPEAKERS  # each message's chunk names its agent; its tokens come with it
    assert all(
        troupe_of(c)["usage"]["completion_tokens"] > 0 for c in chunks if troupe_of(c).get("event") == "text"
    )
    # then the final chunk (finish reason, final message), the usage-only chunk, and [DONE] ended the stream
    final = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(final) == 1 and final[0].choices[0].finish_reason == "stop"
    assert troupe_of(final[0])["final_message"] == TRAVEL["detailed final travel plan"][0]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == final[0].usage.total_tokens > 0  # type: ignore[union-attr]
    assert len({c.id for c in chunks}) == 1 and chunks[0].id == f"chatcmpl-{troupe_of(chunks[0])['run_id']}"


async def test_the_async_client_streamed_and_not(srv: FakeOpenAI, served: Served) -> None:
    client = openai.AsyncOpenAI(base_url=served.url + "v1", api_key="unused", max_retries=0)
    srv.responder = by_system(TRAVEL)
    reply = await client.chat.completions.create(model="travel_planning", messages=TASK)  # type: ignore[arg-type]
    assert reply.choices[0].message.content.endswith("TERMINATE")  # type: ignore[union-attr]
    srv.responder = by_system(TRAVEL)
    stream = await client.chat.completions.create(model="travel_planning", messages=TASK, stream=True)  # type: ignore[arg-type]
    pieces = [c async for c in stream]
    assert [troupe_of(c)["agent"] for c in pieces if troupe_of(c).get("event") == "text"] == SPEAKERS
    assert pieces[-1].choices[0].finish_reason == "stop"  # no usage-only chunk unless asked for
    assert pieces[-1].usage is not None and pieces[-1].usage.total_tokens > 0
    await client.close()


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (
            {"model": "nowhere", "messages": TASK},
            404,
            "no scenario named 'nowhere' is served (served: travel_planning, echo)",
        ),
        ({"messages": TASK}, 400, "`model` must be the name of a served scenario"),
        ({"model": "echo", "messages": []}, 400, "`messages` must be a non-empty list"),
        ({"model": "echo", "messages": [{"role": "system", "content": "x"}]}, 400, "no user message"),
        ({"model": "echo", "messages": TASK, "n": 2}, 400, "`n` must be 1"),
        (
            {"model": "echo", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
            400,
            "only text",
        ),
    ],
    ids=["unknown-scenario", "no-model", "no-messages", "no-user-message", "n", "image"],
)
def test_bad_requests_get_openai_errors(
    served: Served, body: dict[str, Any], status: int, words: str
) -> None:
    r = httpx2.post(served.url + "v1/chat/completions", json=body, timeout=30)
    assert r.status_code == status
    err = r.json()["error"]
    assert words in err["message"] and err["type"] == "invalid_request_error"
    if status == 404:
        assert err["code"] == "model_not_found"
        with pytest.raises(openai.NotFoundError, match="nowhere"):
            sdk(served).chat.completions.create(model="nowhere", messages=TASK)  # type: ignore[arg-type]


def test_a_body_that_is_not_json_is_a_400(served: Served) -> None:
    r = httpx2.post(
        served.url + "v1/chat/completions", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]


def test_a_failed_run_is_a_500_with_one_paragraph(srv: FakeOpenAI, served: Served) -> None:
    srv.default = Reply(status=400, error="the model is on fire")
    with pytest.raises(openai.InternalServerError) as info:
        sdk(served).chat.completions.create(model="echo", messages=TASK)
    err = info.value.response.json()["error"]
    assert err["code"] == "run_failed" and "\n" not in err["message"].strip()
    assert "ModelCallError" in err["message"] and "the model is on fire" in err["message"]
    # streamed, the error arrives as an error event, which the SDK raises
    with pytest.raises(openai.APIError, match="the model is on fire"):
        list(sdk(served).chat.completions.create(model="echo", messages=TASK, stream=True))


def test_max_runs_refuses_with_503_and_retry_after(srv: FakeOpenAI, tmp_path: Path) -> None:
    srv.default = Reply(text="slow", delay_s=30)
    echo = write(tmp_path, "name: echo\nteam: {kind: single, agents: [{name: echoer}]}\n")
    with (
        Served([echo], base_url=srv.base_url, out_dir=tmp_path / "runs", max_runs=1) as s,
        httpx2.Client(timeout=30) as http,
        http.stream(
            "POST", s.url + "v1/chat/completions", json={"model": "echo", "messages": TASK, "stream": True}
        ) as first,
    ):
        lines = first.iter_lines()  # kept: a dropped iterator closes the stream, which stops the run
        next(lines)  # the first run is going
        with pytest.raises(openai.APIStatusError) as info:
            sdk(s).chat.completions.create(model="echo", messages=TASK)
        assert info.value.status_code == 503
        assert info.value.response.headers["retry-after"] == "2"
        assert "--max-runs 1" in info.value.response.json()["error"]["message"]
        refused = http.post(s.url + "api/runs", json={"scenario": "echo"})  # the runs API shares the bound
        assert refused.status_code == 503 and refused.headers["retry-after"] == "2"
        assert refused.json()["error"]["code"] == "too_many_runs"


def test_a_client_that_disconnects_stops_its_run(srv: FakeOpenAI, served: Served) -> None:
    srv.script([Reply(text="first")])
    srv.default = Reply(text="never", delay_s=30)
    two_turns = {"model": "travel_planning", "messages": TASK, "stream": True}
    with httpx2.stream("POST", served.url + "v1/chat/completions", json=two_turns, timeout=30) as r:
        for line in r.iter_lines():
            if '"event": "text"' in line:  # the planner spoke; the local agent's call hangs
                break
    served.wait_until(lambda: all(run.done for run in served.runs.runs.values()))
    (run,) = served.runs.runs.values()
    assert run.status == "stopped"
    records = [
        json.loads(line) for line in (served.config.out_dir / run.transcript.name).read_text().splitlines()
    ]
    assert records[-1]["stopped_by"] == "interrupted"


def test_a_non_streamed_client_that_gives_up_stops_its_run(srv: FakeOpenAI, served: Served) -> None:
    srv.default = Reply(text="never", delay_s=30)
    with pytest.raises(httpx2.ReadTimeout):
        httpx2.post(served.url + "v1/chat/completions", json={"model": "echo", "messages": TASK}, timeout=1)
    served.wait_until(lambda: all(run.done for run in served.runs.runs.values()))
    assert [run.status for run in served.runs.runs.values()] == ["stopped"]
