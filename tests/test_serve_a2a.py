"""Every served scenario is an A2A agent: the official `a2a-sdk` client against the real uvicorn server on
127.0.0.1 (the models are the fake endpoint's): the agent card, send, stream, get, cancel, a person's turn
as `input-required`, and serve's safety (token, body cap) on the A2A routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from a2a.client import A2ACardResolver, A2AClientError, ClientConfig, create_client
from a2a.types.a2a_pb2 import (
    CancelTaskRequest,
    GetTaskRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskState,
)
from a2a.utils.errors import A2AError, TaskNotFoundError
from fake_openai import FakeOpenAI, Reply, by_system
from google.protobuf.json_format import MessageToDict
from helpers import APPROVAL_REPLIES, approval_scenario, write
from served import Served

TRAVEL = {
    "suggest a travel plan": ["Day 1: Kathmandu. Day 2: Patan."],
    "authentic and interesting local": ["Try momos in Thamel."],
    "language or communication": ["Say namaste."],
    "detailed final travel plan": ["Final plan: Kathmandu, Patan, momos, namaste. TERMINATE"],
}
SPEAKERS = ["planner_agent", "local_agent", "language_agent", "travel_summary_agent"]
FINAL = TRAVEL["detailed final travel plan"][0]
TOKEN = "a2a-t0ken-for-tests-0123456789"
ECHO = "name: echo\ntask: hi\nteam: {kind: single, agents: [{name: echoer}]}\n"


@pytest.fixture
def served(srv: FakeOpenAI, tmp_path: Path) -> Iterator[Served]:
    approval = write(tmp_path, approval_scenario(timeout_s=60), "approval.yaml")
    with Served(
        ["travel_planning", approval], base_url=srv.base_url, out_dir=tmp_path / "runs", max_body_bytes=8192
    ) as s:
        yield s


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=60) as client:
        yield client


def ask(text: str, *, task: Task | None = None) -> SendMessageRequest:
    message = Message(role=Role.ROLE_USER, message_id=f"m-{text[:8]}", parts=[Part(text=text)])
    if task is not None:
        message.task_id, message.context_id = task.id, task.context_id
    return SendMessageRequest(message=message)


async def client_for(s: Served, name: str, http: httpx.AsyncClient, *, streaming: bool = False) -> Any:
    return await create_client(f"{s.url}a2a/{name}", ClientConfig(httpx_client=http, streaming=streaming))


async def last_task(client: Any, request: SendMessageRequest) -> Task:
    """Send (not streamed): the SDK yields one response, the task."""
    got = [r async for r in client.send_message(request)]
    assert len(got) == 1 and got[0].HasField("task")
    task: Task = got[0].task
    return task


def agent_of(message: Message) -> str | None:
    return MessageToDict(message.metadata).get("agent")


async def test_each_scenario_has_an_agent_card(served: Served, http: httpx.AsyncClient) -> None:
    card = await A2ACardResolver(http, f"{served.url}a2a/travel_planning").get_agent_card()
    assert card.name == "travel_planning" and card.capabilities.streaming
    assert [s.name for s in card.skills] == SPEAKERS
    assert card.supported_interfaces[0].url == f"{served.url}a2a/travel_planning"
    assert not card.security_schemes  # loopback, no token
    people = await A2ACardResolver(http, f"{served.url}a2a/approval").get_agent_card()
    assert [s.name for s in people.skills] == [
        "planner",
        "summary",
    ] and "input-required" in people.description
    listing = httpx2.get(served.url + "a2a").json()["agents"]
    assert [a["name"] for a in listing] == ["travel_planning", "approval"]
    missing = httpx2.get(served.url + "a2a/nope/.well-known/agent-card.json")
    assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]


async def test_send_runs_the_team_and_the_task_holds_every_agents_message(
    srv: FakeOpenAI, served: Served, http: httpx.AsyncClient
) -> None:
    srv.responder = by_system(TRAVEL)
    client = await client_for(served, "travel_planning", http)
    task = await last_task(client, ask("Plan 2 days in Nepal."))
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    assert task.artifacts[0].name == "result" and task.artifacts[0].parts[0].text == FINAL
    said = [(agent_of(m), m.parts[0].text) for m in task.history if m.role == Role.ROLE_AGENT]
    assert [a for a, _ in said if a] == SPEAKERS and said[-1][1] == FINAL
    # the same run as every other: listed with its origin, its transcript written under --out
    runs = httpx2.get(served.url + "api/runs").json()["runs"]
    assert runs[0]["id"] == task.id and runs[0]["origin"] == "a2a" and runs[0]["status"] == "done"
    assert (served.config.out_dir / runs[0]["transcript"]).is_file()
    got = await client.get_task(GetTaskRequest(id=task.id))
    assert got.status.state == TaskState.TASK_STATE_COMPLETED and got.artifacts[0].parts[0].text == FINAL


async def test_stream_names_each_agent_as_it_speaks(
    srv: FakeOpenAI, served: Served, http: httpx.AsyncClient
) -> None:
    srv.responder = by_system(TRAVEL)
    client = await client_for(served, "travel_planning", http, streaming=True)
    events: list[StreamResponse] = [r async for r in client.send_message(ask("Plan 2 days in Nepal."))]
    updates = [e.status_update for e in events if e.HasField("status_update")]
    speakers = [agent_of(u.status.message) for u in updates if u.status.state == TaskState.TASK_STATE_WORKING]
    assert [a for a in speakers if a] == SPEAKERS
    texts = [u.status.message.parts[0].text for u in updates if agent_of(u.status.message)]
    assert texts[0] == TRAVEL["suggest a travel plan"][0] and texts[-1] == FINAL
    assert updates[-1].status.state == TaskState.TASK_STATE_COMPLETED
    artifacts = [e.artifact_update.artifact for e in events if e.HasField("artifact_update")]
    assert [a.parts[0].text for a in artifacts] == [FINAL]


async def test_a_persons_turn_is_input_required_and_the_next_message_answers(
    srv: FakeOpenAI, served: Served, http: httpx.AsyncClient
) -> None:
    srv.responder = by_system(APPROVAL_REPLIES)
    client = await client_for(served, "approval", http)
    task = await last_task(client, ask("Plan a day in Kyoto."))
    assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    assert agent_of(task.status.message) == "traveller"
    waiting = httpx2.get(f"{served.url}api/runs/{task.id}").json()
    assert waiting["status"] == "waiting" and waiting["pending"]["agent"] == "traveller"
    task = await last_task(client, ask("Add an evening, please.", task=task))
    assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED  # the summary asked again
    assert [m.parts[0].text for m in task.history if agent_of(m) == "summary"] == ["Add an evening."]
    task = await last_task(client, ask("APPROVE", task=task))
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    assert task.artifacts[0].parts[0].text == "Final: Fushimi Inari, Gion. TERMINATE"
    said = [
        (e["source"], e["content"]) for e in httpx2.get(f"{served.url}api/runs/{task.id}").json()["entries"]
    ]
    assert ("traveller", "Add an evening, please.") in said and ("traveller", "APPROVE") in said
    with pytest.raises(A2AError, match="terminal state"):
        await last_task(client, ask("too late", task=task))


async def test_cancel_stops_the_run(srv: FakeOpenAI, served: Served, http: httpx.AsyncClient) -> None:
    srv.responder = by_system(APPROVAL_REPLIES)
    client = await client_for(served, "approval", http)
    task = await last_task(client, ask("Plan a day in Kyoto."))
    assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    canceled = await client.cancel_task(CancelTaskRequest(id=task.id))
    assert canceled.status.state == TaskState.TASK_STATE_CANCELED
    run = httpx2.get(f"{served.url}api/runs/{task.id}").json()
    assert run["status"] == "stopped" and run["live"] is False
    got = await client.get_task(GetTaskRequest(id=task.id))
    assert got.status.state == TaskState.TASK_STATE_CANCELED
    with pytest.raises(TaskNotFoundError):
        await client.get_task(GetTaskRequest(id="no-such-task"))


async def test_a_failed_run_is_a_failed_task_with_one_paragraph(
    srv: FakeOpenAI, served: Served, http: httpx.AsyncClient
) -> None:
    srv.default = Reply(status=500, text="boom")
    client = await client_for(served, "travel_planning", http)
    task = await last_task(client, ask("Plan 2 days in Nepal."))
    assert task.status.state == TaskState.TASK_STATE_FAILED
    note = task.status.message.parts[0].text
    assert "ModelCallError" in note and "Traceback" not in note and "\n" not in note


def test_the_0_3_method_names_answer_on_the_same_url(srv: FakeOpenAI, served: Served) -> None:
    srv.responder = by_system(TRAVEL)
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "message/send",
        "params": {"message": {"role": "user", "messageId": "m1", "parts": [{"kind": "text", "text": "Go"}]}},
    }
    r = httpx2.post(served.url + "a2a/travel_planning", json=body, timeout=60)
    result = r.json()["result"]
    assert result["kind"] == "task" and result["status"]["state"] == "completed"
    got = httpx2.post(
        served.url + "a2a/travel_planning",
        json={"jsonrpc": "2.0", "id": 2, "method": "tasks/get", "params": {"id": result["id"]}},
    ).json()["result"]
    assert got["artifacts"][0]["parts"][0]["text"] == FINAL


async def test_a_token_guards_the_agents_but_not_their_cards(
    srv: FakeOpenAI, tmp_path: Path, http: httpx.AsyncClient
) -> None:
    srv.default = Reply(text="ok")
    echo = write(tmp_path, ECHO, "echo.yaml")
    with Served([echo], base_url=srv.base_url, out_dir=tmp_path / "runs", host="0.0.0.0", token=TOKEN) as s:
        card = await A2ACardResolver(http, f"{s.url}a2a/echo").get_agent_card()
        scheme = card.security_schemes["bearer"].http_auth_security_scheme
        assert scheme.scheme == "Bearer" and list(card.security_requirements[0].schemes) == ["bearer"]
        for headers in ({}, {"authorization": "Bearer " + TOKEN[:-1]}):
            async with httpx.AsyncClient(timeout=30, headers=headers) as bad:
                client = await create_client(card, ClientConfig(httpx_client=bad, streaming=False))
                with pytest.raises(A2AClientError, match="401"):
                    await last_task(client, ask("hi"))
        async with httpx.AsyncClient(timeout=30, headers={"authorization": f"Bearer {TOKEN}"}) as good:
            client = await create_client(card, ClientConfig(httpx_client=good, streaming=False))
            task = await last_task(client, ask("hi"))
        assert task.status.state == TaskState.TASK_STATE_COMPLETED and task.artifacts[0].parts[0].text == "ok"
        assert httpx2.get(s.url + "a2a").status_code == 401


async def test_an_oversized_message_is_refused(served: Served, http: httpx.AsyncClient) -> None:
    client = await client_for(served, "travel_planning", http)
    with pytest.raises(A2AClientError, match="413"):
        await last_task(client, ask("x" * 10_000))
    assert httpx2.get(served.url + "api/runs").json()["runs"] == []


async def test_a_key_the_model_says_never_reaches_an_a2a_client(
    srv: FakeOpenAI, tmp_path: Path, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "sk-live-0123456789abcdefLEAK"  # an endpoint key, known to the server through its environment
    monkeypatch.setenv("MY_ENDPOINT_KEY", key)
    srv.default = Reply(text=f"Your key is {key}. TERMINATE")
    echo = write(tmp_path, ECHO, "echo.yaml")
    with Served([echo], base_url=srv.base_url, out_dir=tmp_path / "runs") as s:
        client = await client_for(s, "echo", http, streaming=True)
        events = [r async for r in client.send_message(ask("hi"))]
        task = await client.get_task(GetTaskRequest(id=events[0].task.id))
    shown = [MessageToDict(e) for e in events] + [MessageToDict(task)]
    assert key not in str(shown) and "Your key is ***" in str(shown)


def test_bad_json_rpc_bodies_are_refused_at_the_door(served: Served) -> None:
    url = served.url + "a2a/travel_planning"
    text = '{"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {"message": {"role": "user", '
    text += '"messageId": "m", "parts": [{"kind": "text", "text": "\\ud800"}]}}}'
    r = httpx2.post(url, content=text, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "params.message.parts[0].text" in r.json()["error"]["message"]
    deep = httpx2.post(url, content="[" * 100 + "]" * 100, headers={"content-type": "application/json"})
    assert deep.status_code == 400 and "nests more than" in deep.json()["error"]["message"]
    form = httpx2.post(url, data={"a": "b"})
    assert form.status_code == 415
    assert httpx2.get(served.url + "api/runs").json()["runs"] == []


async def test_over_max_runs_a_task_is_rejected(
    srv: FakeOpenAI, tmp_path: Path, http: httpx.AsyncClient
) -> None:
    srv.responder = by_system(APPROVAL_REPLIES)
    approval = write(tmp_path, approval_scenario(timeout_s=60), "approval.yaml")
    with Served([approval], base_url=srv.base_url, out_dir=tmp_path / "runs", max_runs=1) as s:
        client = await client_for(s, "approval", http)
        waiting = await last_task(client, ask("Plan a day in Kyoto."))
        assert waiting.status.state == TaskState.TASK_STATE_INPUT_REQUIRED  # its run holds the one place
        refused = await last_task(client, ask("Plan another day."))
        assert refused.status.state == TaskState.TASK_STATE_REJECTED
        assert "--max-runs 1" in refused.status.message.parts[0].text
        await client.cancel_task(CancelTaskRequest(id=waiting.id))
