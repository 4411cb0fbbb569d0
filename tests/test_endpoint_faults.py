"""Endpoints that misbehave: 200 answers that are no answer, Retry-After, redirects to another origin.

Everything goes through the real client (openai SDK, httpx, our transport) to real servers on 127.0.0.1
(tests/fake_openai.py), and through `troupe run` as a user starts it.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from autogen_core.models import CreateResult, SystemMessage, UserMessage
from fake_openai import FakeOpenAI, Reply
from helpers import troupe

from autogen_troupe.errors import ModelCallError
from autogen_troupe.mcp_servers.retrieval import HttpEmbedder, HttpReranker, RetrievalError
from autogen_troupe.models._endpoints import resolve_model
from autogen_troupe.models._http import RETRY_AFTER_MAX_S
from autogen_troupe.models.openai import create_client, discover_model, list_models
from autogen_troupe.scenario._schema import ModelSpec

SECRET = "sk-test-fault-0123456789"
MESSAGES = [SystemMessage(content="You are a planner."), UserMessage(content="Plan a trip.", source="user")]
TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def elsewhere_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as srv:
        yield srv


@pytest.fixture
def elsewhere(elsewhere_server: FakeOpenAI) -> FakeOpenAI:
    elsewhere_server.reset()
    elsewhere_server.default = Reply(text="answered by the other server")
    return elsewhere_server


def spec_for(srv: FakeOpenAI, **fields: Any) -> ModelSpec:
    data = {"base_url": srv.base_url, "model": "test-model", "api_key": SECRET, **fields}
    return resolve_model(ModelSpec.model_validate(data), env={})


async def ask(srv: FakeOpenAI, stream: bool, **fields: Any) -> tuple[list[str], CreateResult]:
    """One model call through a fresh client: the streamed text pieces and the result."""
    client = create_client(spec_for(srv, **fields))
    try:
        if not stream:
            return [], await client.create(MESSAGES)
        items = [x async for x in client.create_stream(MESSAGES)]
    finally:
        await client.close()
    assert isinstance(items[-1], CreateResult)
    return [x for x in items[:-1] if isinstance(x, str)], items[-1]


async def failure(srv: FakeOpenAI, stream: bool, **fields: Any) -> str:
    """The one-paragraph message of the ModelCallError a call ends in."""
    with pytest.raises(ModelCallError) as info:
        await ask(srv, stream, **fields)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    assert SECRET not in message
    return message


def attempts_in(message: str) -> int:
    found = re.search(r"\b(\d+) attempts?\b", message)
    assert found, message
    return int(found.group(1))


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


ROLE = chunk({"role": "assistant", "content": ""})
FN = {"name": "get_current_time", "arguments": "{}"}


def completion(message: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    choice = {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}
    return {"id": "c1", "object": "chat.completion", "model": "m", "choices": [choice]}


COMPLETION = completion({"content": "hi"})

# --------------------------------------------------------------------------- 200 answers that are no answer

# (reply, streamed?, what the message says, retried?)
FAULTS = [
    (Reply(raw="", content_type="application/json"), False, "with an empty body", True),
    (Reply(raw="", content_type="application/json"), True, "with an empty body", True),
    (Reply(raw="<html><title>Sign in</title></html>", content_type="text/html"), False, "HTML page", False),
    (Reply(raw="<!doctype html><p>portal</p>", content_type="text/html"), True, "HTML page", False),
    (Reply(raw='{"choices": [{"mess', content_type="application/json"), False, "not valid JSON", True),
    (Reply(raw={"id": "c", "object": "chat.completion", "choices": []}), False, '"choices": []', False),
    (Reply(raw={"error": {"message": "quota used up"}}), False, "error in place of an answer: quota", False),
    (Reply(raw=COMPLETION), True, "answer to a streamed request instead of an event stream", False),
    (Reply(text=""), False, "empty answer: no text and no tool call", True),
    (Reply(text=""), True, "empty answer: no text and no tool call", True),
    (Reply(text="  \n"), True, "empty answer", True),
    (Reply(text="", finish_reason="length"), False, "raise max_tokens", False),
    (Reply(text="", finish_reason="length"), True, "raise max_tokens", False),
    (Reply(raw=completion({"content": None, "refusal": "I can't help"})), False, "refusal in place", False),
    (Reply(chunks=[ROLE, chunk({"refusal": "I can't"}), chunk({}, "stop")]), True, "refusal in place", False),
    (
        Reply(raw=completion({"content": None, "function_call": FN})),
        False,
        "deprecated `function_call`",
        False,
    ),
    (Reply(chunks=[ROLE, chunk({"function_call": FN}, "function_call")]), True, "deprecated", False),
    (
        Reply(chunks=[ROLE], cut=True),
        True,
        "broke off before its finish reason, after 1 chunk (RemoteProtocolError",
        True,
    ),
    (
        Reply(chunks=[ROLE, chunk({}), chunk({})]),
        True,
        "ended before its finish reason, after 3 chunks",
        True,
    ),
    (Reply(chunks=[ROLE, chunk({}, "stop")]), True, "empty answer", True),
    (Reply(chunks=[]), True, "event stream without a single chunk", True),
    (Reply(raw="<html>oops</html>", content_type="text/event-stream"), True, "other than server-sent", False),
    (Reply(raw="garbage\n\n", content_type="text/event-stream"), True, "other than server-sent", False),
    (
        Reply(chunks=[ROLE, '{"id": "c1", "choices": [{"delta": {"con']),
        True,
        "a chunk that is not JSON",
        False,
    ),
    (Reply(chunks=[ROLE, "{'python': 'repr'}"]), True, "a chunk that is not JSON", False),
]


@pytest.mark.parametrize(("reply", "stream", "says", "retried"), FAULTS)
async def test_a_200_that_is_no_answer_is_a_model_call_error(
    srv: FakeOpenAI, reply: Reply, stream: bool, says: str, retried: bool
) -> None:
    srv.default = reply
    message = await failure(srv, stream)
    assert message.startswith(f"{srv.base_url}/chat/completions answered HTTP 200 with "), message
    assert says in message
    tries = len(srv.chat_requests)
    assert tries == (3 if retried else 1)  # the openai SDK's default: 2 retries
    assert attempts_in(message) == tries


@pytest.mark.parametrize("stream", [False, True])
async def test_a_transient_fault_is_asked_again_and_nothing_of_it_is_passed_on(
    srv: FakeOpenAI, stream: bool
) -> None:
    first = Reply(chunks=[ROLE], cut=True) if stream else Reply(raw="", content_type="application/json")
    srv.script([first, Reply(text=""), Reply(text="a real answer")])
    pieces, result = await ask(srv, stream)
    assert result.content == "a real answer"
    assert len(srv.chat_requests) == 3
    if stream:
        assert "".join(pieces) == "a real answer"


@pytest.mark.parametrize("cut", [False, True])
async def test_a_stream_that_stops_after_text_fails_without_asking_again(srv: FakeOpenAI, cut: bool) -> None:
    srv.default = Reply(chunks=[ROLE, chunk({"content": "Day 1: Kath"})], done=False, cut=cut)
    message = await failure(srv, stream=True)
    assert "before its finish reason, after 2 chunks" in message
    assert ("broke off" in message) == cut
    assert "1 attempt;" in message and "already been streamed" in message
    assert len(srv.chat_requests) == 1


async def test_an_invalid_chunk_after_text_fails_at_once(srv: FakeOpenAI) -> None:
    srv.default = Reply(chunks=[ROLE, chunk({"content": "Day 1"}), "{not json", chunk({}, "stop")])
    message = await failure(srv, stream=True)
    assert "a chunk that is not JSON ('{not json')" in message
    assert len(srv.chat_requests) == 1


async def test_reasoning_without_an_answer_is_an_empty_answer(srv: FakeOpenAI) -> None:
    srv.default = Reply(text="", reasoning="thinking about Nepal")
    assert "empty answer" in await failure(srv, stream=False)
    assert "empty answer" in await failure(srv, stream=True)


async def test_good_answers_still_pass(srv: FakeOpenAI) -> None:
    """The checks leave alone what servers really send: tool calls without text, keep-alive comments,
    `event:` lines, a connection cut after the finish reason, no [DONE]."""
    call = ("get_current_time", {"timezone": "Asia/Seoul"})
    srv.script([Reply(tool_calls=[call]), Reply(tool_calls=[call])])
    assert (await ask(srv, stream=False))[1].finish_reason == "function_calls"
    assert (await ask(srv, stream=True))[1].finish_reason == "function_calls"
    chunks = [ROLE, chunk({"content": "Hello"}), chunk({"content": " there"}), chunk({}, "stop")]
    srv.script([Reply(chunks=chunks, done=False), Reply(chunks=chunks, cut=True)])
    assert (await ask(srv, stream=True))[1].content == "Hello there"
    assert (await ask(srv, stream=True))[1].content == "Hello there"
    srv.script(
        [
            Reply(
                raw=": keep-alive\n\nevent: message\ndata: "
                + json.dumps(chunks[1])
                + "\n\n"
                + "".join(f"data: {json.dumps(c)}\n\n" for c in chunks[2:])
                + "data: [DONE]\n\n",
                content_type="text/event-stream",
            )
        ]
    )
    pieces, result = await ask(srv, stream=True)
    assert result.content == "Hello there" and pieces == ["Hello", " there"]


async def test_a_server_error_event_in_a_stream_keeps_its_message(srv: FakeOpenAI) -> None:
    srv.default = Reply(chunks=[ROLE, {"error": {"message": "the engine died", "code": 500}}], done=False)
    message = await failure(srv, stream=True)
    assert "the engine died" in message


# --------------------------------------------------------------------------- Retry-After


def http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("retry_after", "asked"), [("3600", "3600 s"), ("90", "90 s"), (http_date(3600), "s (Retry-After)")]
)
async def test_a_retry_after_beyond_the_ceiling_fails_at_once_and_says_so(
    srv: FakeOpenAI, retry_after: str, asked: str, stream: bool
) -> None:
    srv.script([Reply(status=429, error="slow down", headers={"Retry-After": retry_after}), "unused"])
    message = await failure(srv, stream)
    assert len(srv.chat_requests) == 1
    assert "HTTP 429 (rate limited after 1 attempt;" in message, message
    assert asked in message and f"more than the {RETRY_AFTER_MAX_S:.0f} s" in message
    assert message.endswith(": slow down")


@pytest.mark.parametrize("retry_after", ["1", "date"])
async def test_a_retry_after_within_the_ceiling_is_waited_for(srv: FakeOpenAI, retry_after: str) -> None:
    header = http_date(2) if retry_after == "date" else retry_after
    srv.script([Reply(status=503, error="warming up", headers={"Retry-After": header}), "ready now"])
    _, result = await ask(srv, stream=False)
    assert result.content == "ready now"
    first, second = srv.chat_requests
    assert second.at - first.at >= 0.8  # the SDK's own first pause is at most 0.5 s; the server asked 1-2 s


async def test_the_message_counts_the_attempts_really_made(srv: FakeOpenAI) -> None:
    srv.default = Reply(status=429, error="slow down")
    message = await failure(srv, stream=False, max_retries=4)
    assert len(srv.chat_requests) == 5 and "rate limited after 5 attempts" in message
    srv.reset()
    srv.default = Reply(status=429, error="slow down", headers={"x-should-retry": "false"})
    message = await failure(srv, stream=False, max_retries=4)
    assert len(srv.chat_requests) == 1 and "rate limited after 1 attempt)" in message


# --------------------------------------------------------------------------- redirects


@pytest.mark.parametrize("stream", [False, True])
async def test_a_redirect_to_another_port_is_refused_and_carries_nothing(
    srv: FakeOpenAI, elsewhere: FakeOpenAI, stream: bool
) -> None:
    srv.redirects = {"/v1": elsewhere.base_url}
    message = await failure(srv, stream, headers={"x-api-key": SECRET, "x-genos-user-id": "653"})
    assert elsewhere.requests == []
    assert (
        f"{srv.base_url}/chat/completions redirected (HTTP 307) to another origin, {elsewhere.origin}"
        in message
    )
    assert "set base_url" in message
    assert len(srv.chat_requests) == 1  # a refusal is not retried


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_model_discovery_refuses_a_redirect_to_another_origin(
    srv: FakeOpenAI, elsewhere: FakeOpenAI, status: int
) -> None:
    srv.redirects = {"/v1/models": elsewhere.base_url + "/models"}
    srv.redirect_status = status
    with pytest.raises(ModelCallError, match="to another origin") as info:
        discover_model(srv.base_url, {"x-api-key": SECRET}, SECRET)
    with pytest.raises(ModelCallError, match="to another origin"):
        await list_models(spec_for(srv, headers={"x-api-key": SECRET}))
    client = create_client(spec_for(srv, model=None, headers={"x-api-key": SECRET}))
    with pytest.raises(ModelCallError, match="to another origin"):
        await client.create(MESSAGES)
    await client.close()
    assert elsewhere.requests == []
    assert SECRET not in str(info.value)


async def test_a_redirect_within_the_origin_is_followed_with_its_headers(srv: FakeOpenAI) -> None:
    srv.redirects = {"/v1": srv.origin + "/moved/v1"}
    srv.models = ["moved-model"]
    srv.default = Reply(text="from the new path")
    spec = spec_for(srv, model=None, headers={"x-api-key": SECRET})
    _, result = await ask(srv, stream=True, model=None, headers={"x-api-key": SECRET})
    assert result.content == "from the new path"
    moved = [r for r in srv.requests if r.path.startswith("/moved/")]
    assert [r.path for r in moved] == ["/moved/v1/models", "/moved/v1/chat/completions"]
    assert all(r.headers["x-api-key"] == SECRET for r in moved)
    assert moved[1].json["model"] == "moved-model" and spec.base_url == srv.base_url


@pytest.mark.parametrize("kind", ["embeddings", "rerank"])
def test_the_retrieval_clients_refuse_a_redirect_to_another_origin(
    srv: FakeOpenAI, elsewhere: FakeOpenAI, kind: str
) -> None:
    srv.redirects = {"/v1": elsewhere.base_url}
    if kind == "embeddings":
        client: Any = HttpEmbedder(srv.base_url, "bge-m3", api_key=SECRET, headers={"x-api-key": SECRET})
        call = lambda: client.embed(["a text"])  # noqa: E731
    else:
        client = HttpReranker(srv.base_url, "reranker", api_key=SECRET, headers={"x-api-key": SECRET})
        call = lambda: client.rerank("q", ["a", "b"], 1)  # noqa: E731
    try:
        with pytest.raises(RetrievalError, match="to another origin") as info:
            call()
    finally:
        client.close()
    assert elsewhere.requests == []
    assert SECRET not in str(info.value)


# --------------------------------------------------------------------------- `troupe run`


@pytest.mark.parametrize(
    ("default", "says"),
    [
        ({"chunks": [ROLE, chunk({"content": "Day 1"})], "done": False}, "before its finish reason"),
        ({"chunks": [ROLE, chunk({}), chunk({})]}, "before its finish reason"),
        ({"text": ""}, "empty answer"),
        ({"raw": "<html><body>Welcome</body></html>", "content_type": "text/html"}, "HTML page"),
        ({"raw": {"id": "c", "object": "chat.completion", "choices": []}}, '"choices": []'),
        ({"status": 429, "error": "slow down", "headers": {"Retry-After": "3600"}}, "Retry-After"),
    ],
)
def test_troupe_run_fails_with_exit_1_and_one_paragraph(
    fake_process: Any, tmp_path: Path, default: dict[str, Any], says: str
) -> None:
    base, _ = fake_process({"default": default})
    out = tmp_path / "out"
    proc = troupe(
        "run",
        "travel_planning",
        "--base-url",
        base,
        "--model",
        "m",
        "--out",
        str(out),
        env={"TROUPE_API_KEY": SECRET},
    )
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and SECRET not in proc.stderr
    paragraphs = [p for p in proc.stderr.strip().split("\n\n") if p.strip()]
    assert len(paragraphs) == 1, proc.stderr
    assert f"{base}/chat/completions answered HTTP" in proc.stderr and says in proc.stderr
    assert "0+0 tok" not in proc.stdout
    (path,) = out.glob("*.jsonl")
    records = [json.loads(x) for x in path.read_text().splitlines()]
    result = [r for r in records if r["record"] == "result"]
    assert len(result) == 1 and result[0]["stopped_by"] == "error"
    assert SECRET not in path.read_text()
