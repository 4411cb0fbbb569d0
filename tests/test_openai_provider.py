"""The `openai` provider against a real HTTP server (tests/fake_openai.py) through the real openai SDK."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from autogen_core.models import ChatCompletionClient, CreateResult, SystemMessage, UserMessage
from fake_openai import FakeOpenAI, Reply, by_system
from helpers import free_port

from autogen_troupe.errors import ContentBlocked, ModelCallError, ProfileError
from autogen_troupe.models._endpoints import resolve_model
from autogen_troupe.models._registry import (
    PROVIDERS,
    ClientPool,
    create_model_client,
    get_provider,
    list_models,
)
from autogen_troupe.models.openai import TroupeOpenAIClient, create_client, discover_model
from autogen_troupe.scenario._schema import ModelSpec

SECRET = "sk-test-0123456789abcdef"
MESSAGES = [
    SystemMessage(content="You are planner_agent."),
    UserMessage(content="Plan a trip.", source="user"),
]


def spec_for(srv: FakeOpenAI, **fields: Any) -> ModelSpec:
    data = {"base_url": srv.base_url, "model": "test-model", "api_key": SECRET, **fields}
    return resolve_model(ModelSpec.model_validate(data), env={})


async def collect(client: ChatCompletionClient, **kwargs: Any) -> tuple[list[str], CreateResult]:
    items = [x async for x in client.create_stream(MESSAGES, **kwargs)]
    assert isinstance(items[-1], CreateResult)
    return [x for x in items[:-1] if isinstance(x, str)], items[-1]


# --------------------------------------------------------------------------- what reaches the server


async def test_genos_bearer_user_header_path_and_discovered_model(srv: FakeOpenAI) -> None:
    srv.models = ["/model/snapshots/9eb2daaa", "second"]
    env = {"GENOS_URL": srv.origin, "GENOS_SERVING_ID": "43", "GENOS_API_KEY": SECRET, "GENOS_USER_ID": "653"}
    client = create_model_client(resolve_model("genos", env=env))
    srv.script([Reply(text="안녕하세요")])
    result = await client.create(MESSAGES)
    await client.close()
    assert result.content == "안녕하세요"
    models, chat = srv.requests
    assert models.method == "GET" and models.path == "/api/gateway/rep/serving/43/v1/models"
    assert chat.path == "/api/gateway/rep/serving/43/v1/chat/completions"
    for r in (models, chat):
        assert r.headers["authorization"] == f"Bearer {SECRET}"
        assert r.headers["x-genos-user-id"] == "653"
    assert chat.json["model"] == "/model/snapshots/9eb2daaa"


async def test_settings_and_extra_body_reach_the_server(srv: FakeOpenAI) -> None:
    spec = spec_for(
        srv,
        temperature=0.3,
        top_p=0.9,
        max_tokens=77,
        seed=5,
        stop=["END"],
        extra_body={"top_k": 20, "chat_template_kwargs": {"enable_thinking": False}},
    )
    client = create_client(spec)
    srv.script(["one", "two"])
    await client.create(MESSAGES)
    await client.create(MESSAGES, extra_create_args={"extra_body": {"repetition_penalty": 1.1}})
    await client.close()
    first, second = (r.json for r in srv.chat_requests)
    assert (first["temperature"], first["top_p"], first["max_tokens"], first["seed"], first["stop"]) == (
        0.3,
        0.9,
        77,
        5,
        ["END"],
    )
    assert first["top_k"] == 20 and first["chat_template_kwargs"] == {"enable_thinking": False}
    assert second["top_k"] == 20 and second["repetition_penalty"] == 1.1  # per-call extra_body merges


async def test_placeholder_key_when_the_endpoint_needs_none(srv: FakeOpenAI) -> None:
    client = create_client(resolve_model("vllm", env={"VLLM_BASE_URL": srv.origin, "VLLM_MODEL": "m"}))
    srv.script(["ok"])
    await client.create(MESSAGES)
    await client.close()
    assert srv.last.headers["authorization"] == "Bearer EMPTY"
    assert srv.last.path == "/v1/chat/completions"


async def test_unknown_model_name_gets_inferred_model_info(srv: FakeOpenAI) -> None:
    client = create_client(spec_for(srv, model="meta-llama/Llama-3.3-70B-Instruct"))
    assert client.model_info["family"] == "llama-3.3-70b"
    assert client.model_info["function_calling"] is True
    await client.close()


# --------------------------------------------------------------------------- model discovery


async def test_discovery_happens_once_in_prepare(srv: FakeOpenAI) -> None:
    srv.models = ["Qwen/QwQ-32B"]
    pool = ClientPool()
    client = pool.get(spec_for(srv, model=None), "a")
    assert isinstance(client, TroupeOpenAIClient) and client.model is None
    await pool.prepare()
    await pool.prepare()
    assert client.model == "Qwen/QwQ-32B"
    assert client.model_info["family"] == "r1"  # inferred again from the discovered id
    srv.script(["<think>plan</think>Go to Nepal."])
    result = await client.create(MESSAGES)
    await pool.aclose()
    assert [r.method for r in srv.requests] == ["GET", "POST"]
    assert result.content == "Go to Nepal." and result.thought == "plan"


def test_discover_model_sync(srv: FakeOpenAI) -> None:
    srv.models = ["first", "second"]
    assert discover_model(srv.origin, {"x-a": "1"}, SECRET, 5) == "first"
    assert srv.last.headers["x-a"] == "1" and srv.last.headers["authorization"] == f"Bearer {SECRET}"


async def test_list_models(srv: FakeOpenAI) -> None:
    srv.models = ["a", "b"]
    assert await list_models(spec_for(srv)) == ["a", "b"]
    assert await list_models(resolve_model("default", env={})) == ["smollm2-135m-instruct"]


@pytest.mark.parametrize(
    ("models_reply", "models", "error", "text"),
    [
        (None, [], ProfileError, "lists no models"),
        (Reply(raw="<html>welcome</html>"), None, ProfileError, "did not answer like an OpenAI-compatible"),
        (Reply(raw={"object": "list"}), None, ProfileError, "without a model list"),
        (Reply(status=401, raw={"error": {"message": "bad key"}}), None, ModelCallError, "HTTP 401"),
    ],
)
async def test_discovery_failures_are_clear(
    srv: FakeOpenAI, models_reply: Reply | None, models: list[str] | None, error: type, text: str
) -> None:
    srv.models_reply = models_reply
    if models is not None:
        srv.models = models
    client = create_client(spec_for(srv, model=None))
    with pytest.raises(error, match=text) as info:
        await client.create(MESSAGES)
    await client.close()
    assert SECRET not in str(info.value)


async def test_unreachable_endpoint(srv: FakeOpenAI) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(ModelCallError, match="Is the server running"):
        discover_model(url, None, SECRET, 5)
    client = create_client(
        resolve_model(ModelSpec(base_url=url, model="m", api_key=SECRET, max_retries=0), env={})
    )
    with pytest.raises(ModelCallError) as info:
        await client.create(MESSAGES)
    await client.close()
    assert "cannot connect to" in str(info.value) and url in str(info.value)
    assert SECRET not in str(info.value)


# --------------------------------------------------------------------------- streaming, usage, reasoning


async def test_streamed_usage_is_counted(srv: FakeOpenAI) -> None:
    client = create_client(spec_for(srv))
    srv.script([Reply(text="three little words", usage=(11, 3))])
    chunks, result = await collect(client)
    await client.close()
    assert "".join(chunks) == "three little words"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (11, 3)
    assert srv.last.json["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
@pytest.mark.parametrize("stream", [False, True])
async def test_reasoning_is_kept_under_either_name(srv: FakeOpenAI, field: str, stream: bool) -> None:
    client = create_client(spec_for(srv))
    srv.script([Reply(text="Kathmandu.", reasoning="think about Nepal first", reasoning_field=field)])
    if stream:
        _, result = await collect(client)
    else:
        result = await client.create(MESSAGES)
    await client.close()
    assert result.content == "Kathmandu."
    assert result.thought == "think about Nepal first"


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_calls_with_reasoning(srv: FakeOpenAI, stream: bool) -> None:
    client = create_client(spec_for(srv))
    call = ("get_current_time", {"timezone": "Asia/Seoul"})
    srv.script([Reply(tool_calls=[call], reasoning="I need the time")])
    if stream:
        _, result = await collect(client)
    else:
        result = await client.create(MESSAGES)
    await client.close()
    assert result.finish_reason == "function_calls"
    assert [(c.name, json.loads(c.arguments)) for c in result.content] == [call]
    assert result.thought == "I need the time"


async def test_genstudio_documented_stream(srv: FakeOpenAI) -> None:
    """The chunks exactly as GenStudio's guide shows them: no object/created, usage in the last one."""
    cid, model = "chatcmpl-3HjYf888MzQ6XAHADiPanf", "megrez-3b-instruct"
    chunks: list[dict[str, Any]] = [
        {
            "id": cid,
            "model": model,
            "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}],
        }
    ]
    for word in ["我是", "来自", "无问", "芯穹"]:
        chunks.append(
            {
                "id": cid,
                "model": model,
                "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}],
            }
        )
    chunks.append(
        {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": 1708486029,
            "model": model,
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 22, "total_tokens": 40, "completion_tokens": 18},
        }
    )
    env = {"GENSTUDIO_API_KEY": SECRET, "GENSTUDIO_BASE_URL": srv.base_url, "GENSTUDIO_MODEL": model}
    client = create_model_client(resolve_model("genstudio", env=env))
    srv.script([Reply(chunks=chunks)])
    _, result = await collect(client)
    await client.close()
    assert result.content == "我是来自无问芯穹"
    assert result.finish_reason == "stop"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (22, 18)
    assert srv.last.headers["authorization"] == f"Bearer {SECRET}"


async def test_blocked_inside_a_streamed_delta(srv: FakeOpenAI) -> None:
    chunk = {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": "x", "blocked": True}}]}
    client = create_client(spec_for(srv))
    srv.script([Reply(chunks=[chunk])])
    with pytest.raises(ContentBlocked):
        await collect(client)
    await client.close()


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize("stream", [False, True])
async def test_blocked_ends_with_content_blocked(srv: FakeOpenAI, stream: bool) -> None:
    client = create_client(spec_for(srv))
    srv.script([Reply(text="some words that get moderated", blocked=True), "never sent"])
    with pytest.raises(ContentBlocked, match="content moderation"):
        if stream:
            await collect(client)
        else:
            await client.create(MESSAGES)
    await client.close()
    assert len(srv.chat_requests) == 1  # a block is not retried
    assert srv.remaining == 1


async def test_server_error_is_retried(srv: FakeOpenAI) -> None:
    client = create_client(spec_for(srv))
    srv.script([Reply(status=500, error="overloaded"), Reply(status=503), "fine"])
    result = await client.create(MESSAGES)
    await client.close()
    assert result.content == "fine"
    assert len(srv.chat_requests) == 3


async def test_bad_request_is_not_retried_and_hides_the_key(srv: FakeOpenAI) -> None:
    client = create_client(spec_for(srv, api_key_env="MY_KEY_VAR"))
    srv.script([Reply(status=400, error=f"model 'x' not found (key {SECRET} is fine)"), "unused"])
    with pytest.raises(ModelCallError) as info:
        await client.create(MESSAGES)
    await client.close()
    message = str(info.value)
    assert len(srv.chat_requests) == 1
    assert "HTTP 400" in message and "model 'x' not found" in message
    assert f"{srv.base_url}/chat/completions" in message
    assert SECRET not in message and SECRET not in repr(info.value)
    assert info.value.status_code == 400  # type: ignore[attr-defined]
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == message and again.status_code == 400


async def test_retries_give_up_with_a_clear_error(srv: FakeOpenAI) -> None:
    client = create_client(spec_for(srv, max_retries=1))
    srv.script([Reply(status=502, error="bad gateway"), Reply(status=502, error="bad gateway"), "unused"])
    with pytest.raises(ModelCallError, match=r"HTTP 502 \(server error after 2 attempts\): bad gateway"):
        await client.create(MESSAGES)
    await client.close()
    assert len(srv.chat_requests) == 2


async def test_timeout_is_a_model_call_error(srv: FakeOpenAI) -> None:
    client = create_client(spec_for(srv, timeout_s=0.3, max_retries=0))
    srv.script([Reply(text="too late", delay_s=30)])
    with pytest.raises(ModelCallError, match=r"did not answer within 0\.3 s \(1 attempt\)"):
        await client.create(MESSAGES)
    await client.close()


async def test_auth_error_names_the_key_variable(srv: FakeOpenAI) -> None:
    client = create_client(spec_for(srv, api_key_env="GENSTUDIO_API_KEY"))
    srv.script([Reply(status=401, error="invalid api key")])
    with pytest.raises(ModelCallError, match=r"HTTP 401 \(check the API key \(GENSTUDIO_API_KEY\)\)"):
        await client.create(MESSAGES)
    await client.close()


# --------------------------------------------------------------------------- config dump


async def test_dumped_config_holds_no_secret_and_reloads(
    srv: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = spec_for(
        srv,
        api_key_env="FAKE_KEY_VAR",
        headers={"Authorization": f"Bearer {SECRET}", "x-genos-user-id": "653"},
        extra_body={"top_k": 3},
    )
    client = create_client(spec)
    dumped = client.dump_component()
    text = dumped.model_dump_json()
    await client.close()
    assert SECRET not in text and "**********" not in text
    assert dumped.config["api_key_env"] == "FAKE_KEY_VAR"
    assert dumped.config["default_headers"] == {"Authorization": "***", "x-genos-user-id": "653"}
    assert dumped.config["extra_body"] == {"top_k": 3}

    undiscovered = create_client(spec_for(srv, model=None))
    assert undiscovered.dump_component().config["discover"] is True
    await undiscovered.close()

    monkeypatch.setenv("FAKE_KEY_VAR", "key-from-env")
    loaded = ChatCompletionClient.load_component(dumped)
    assert isinstance(loaded, TroupeOpenAIClient)
    srv.script(["reloaded"])
    assert (await loaded.create(MESSAGES)).content == "reloaded"
    await loaded.close()
    assert srv.last.headers["authorization"] == "Bearer key-from-env"  # the masked header is not sent
    assert srv.last.headers["x-genos-user-id"] == "653" and srv.last.json["top_k"] == 3


# --------------------------------------------------------------------------- registry and pool


def test_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(ProfileError, match="unknown model provider 'nope'; known: openai, replay, vllm"):
        get_provider("nope")


def test_provider_module_missing_is_a_profile_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PROVIDERS, "ghost", "_no_such_provider_module:create_client")
    with pytest.raises(ProfileError, match="'ghost' is not available"):
        get_provider("ghost")


async def test_pool_shares_one_client_per_spec(srv: FakeOpenAI) -> None:
    pool = ClientPool()
    a = pool.get(spec_for(srv), "planner")
    b = pool.get(spec_for(srv), "local")
    c = pool.get(spec_for(srv, temperature=0.5), "language")
    d = pool.get(spec_for(srv, api_key="another-key"), "summary")
    assert a is b and a is not c and a is not d
    assert len(pool.clients) == 3
    await pool.aclose()
    assert all(x._client.is_closed() for x in (a, c, d))  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError):
        pool.get(spec_for(srv), "late")


async def test_pool_factory_gets_one_client_per_agent(srv: FakeOpenAI) -> None:
    made: list[tuple[str, str | None]] = []

    def factory(spec: ModelSpec, agent: str) -> ChatCompletionClient:
        made.append((agent, spec.model))
        return create_client(spec)

    async with ClientPool(factory) as pool:
        spec = spec_for(srv)
        assert pool.get(spec, "a") is pool.get(spec, "a")
        assert pool.get(spec, "a") is not pool.get(spec, "b")
    assert made == [("a", "test-model"), ("b", "test-model")]


# --------------------------------------------------------------------------- with an AutoGen agent


async def test_assistant_agent_calls_a_tool_and_streams(srv: FakeOpenAI) -> None:
    from autogen_agentchat.agents import AssistantAgent

    def get_current_time(timezone: str) -> str:
        """Current time in a timezone."""
        return f"12:00 in {timezone}"

    client = create_client(spec_for(srv))
    agent = AssistantAgent(
        "time_agent",
        model_client=client,
        tools=[get_current_time],
        system_message="You are time_agent.",
        reflect_on_tool_use=True,
        model_client_stream=True,
    )
    srv.responder = by_system(
        {"time_agent": [Reply(tool_calls=[("get_current_time", {"timezone": "Asia/Seoul"})]), "It is noon."]}
    )
    result = await agent.run(task="What time is it in Seoul?")
    await client.close()
    assert result.messages[-1].content == "It is noon."
    tool_reply = srv.chat_requests[1].json["messages"][-1]
    assert tool_reply["role"] == "tool" and tool_reply["content"] == "12:00 in Asia/Seoul"
    usage = [m.models_usage for m in result.messages if m.models_usage is not None]
    assert usage and all(u.prompt_tokens > 0 and u.completion_tokens > 0 for u in usage)


# --------------------------------------------------------------------------- the fake as a process


def test_fake_server_runs_as_a_process(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"replies": ["from a file"], "models": ["proc-model"]}), encoding="utf-8")
    log = tmp_path / "requests.jsonl"
    fake = Path(__file__).with_name("fake_openai.py")
    proc = subprocess.Popen(
        [sys.executable, str(fake), "--port", "0", "--script", str(script), "--log", str(log)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("READY http://127.0.0.1:")
        base_url = line.split()[1]
        spec = resolve_model(ModelSpec(base_url=base_url), env={})
        assert discover_model(base_url) == "proc-model"
        import asyncio

        async def ask() -> Any:
            client = create_client(spec)
            try:
                return await client.create(MESSAGES)
            finally:
                await client.close()

        assert asyncio.run(ask()).content == "from a file"
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    records = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
    assert [r["method"] for r in records] == ["GET", "GET", "POST"]
    assert records[-1]["json"]["model"] == "proc-model"
