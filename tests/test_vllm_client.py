"""The in-process vLLM client on the real CPU engine with the embedded SmolLM2-135M-Instruct.

One engine serves the whole file (session fixture); every client below shares it. Outputs of a 135M
model are checked by structure (a call's name and argument keys, JSON that parses), never by wording.
The parity test starts vLLM's own OpenAI server on 127.0.0.1 and compares greedy answers.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from autogen_core import CancellationToken
from autogen_core.models import (
    AssistantMessage,
    ChatCompletionClient,
    CreateResult,
    FunctionExecutionResult,
    FunctionExecutionResultMessage,
    SystemMessage,
    UserMessage,
)
from autogen_core.tools import FunctionTool, ToolSchema
from pydantic import BaseModel
from vllm_server import vllm_openai_server

from autogen_troupe.errors import InvalidModelRequest, ModelCallError, ProfileError, exit_code_for
from autogen_troupe.models.vllm import _engine as _vllm_engine
from autogen_troupe.models.vllm._client import VllmChatCompletionClient, create_client, preset_for
from autogen_troupe.models.vllm._default_model import builtin_chat_template
from autogen_troupe.scenario._schema import ModelSpec

pytestmark = pytest.mark.vllm

MAX_TOKENS = 48


def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"Sunny in {city}"


def get_time(timezone: str, city: str) -> str:
    """Get the current time in a timezone for a city."""
    return f"12:00 in {city} ({timezone})"


WEATHER = FunctionTool(get_weather, description="Get the current weather for a city.")
STRICT_WEATHER = FunctionTool(get_weather, description="Get the current weather for a city.", strict=True)
TIME = FunctionTool(get_time, description="Get the current time in a timezone for a city.")


class CityFacts(BaseModel):
    name: str
    country: str
    is_capital: bool


def _user(text: str) -> UserMessage:
    return UserMessage(content=text, source="user")


def _smol_spec(**fields: object) -> ModelSpec:
    settings: dict[str, object] = {"temperature": 0.0, "max_tokens": MAX_TOKENS, **fields}
    return ModelSpec(provider="vllm", model="smollm2-135m-instruct", **settings)


@pytest.fixture(scope="session")
def smol() -> Iterator[VllmChatCompletionClient]:
    """The default-model client; its engine is loaded once for the whole test session."""
    try:
        _vllm_engine.import_vllm()
    except ProfileError as e:
        if importlib.util.find_spec("vllm") is None:
            pytest.skip(f"vLLM is not installed (pip install -e '.[local]'): {e}")
        raise  # installed but broken: a failure, never a skip
    client = create_client(_smol_spec())
    asyncio.run(client.start())  # loads in one event loop; every test then uses it from its own loop
    yield client
    asyncio.run(client.close())


async def _collect(stream) -> tuple[list[str], CreateResult]:
    chunks: list[str] = []
    result = None
    async for item in stream:
        if isinstance(item, str):
            chunks.append(item)
        else:
            result = item
    assert isinstance(result, CreateResult)
    return chunks, result


# --------------------------------------------------------------------------- text


async def test_text_reply(smol: VllmChatCompletionClient) -> None:
    result = await smol.create([SystemMessage(content="You are terse."), _user("Name a color.")])
    assert isinstance(result.content, str) and result.content.strip()
    assert result.finish_reason in ("stop", "length")
    assert 0 < result.usage.completion_tokens <= MAX_TOKENS
    assert result.thought is None and result.cached is False


async def test_streaming_equals_non_streaming_under_greedy_decoding(smol: VllmChatCompletionClient) -> None:
    messages = [_user("Write one sentence about the sea.")]
    # Each call computes its prompt afresh: a cached prefix is computed in other matrix shapes, which may
    # tip a greedy near-tie, and that would be a cache effect, not a streaming one.
    await smol.engine.reset_prefix_cache()
    whole = await smol.create(messages)
    await smol.engine.reset_prefix_cache()
    chunks, streamed = await _collect(smol.create_stream(messages))
    assert len(chunks) > 1
    assert "".join(chunks) == streamed.content == whole.content
    assert streamed.usage == whole.usage
    assert streamed.finish_reason == whole.finish_reason


async def test_usage_is_the_tokenizer_count_of_the_templated_prompt(smol: VllmChatCompletionClient) -> None:
    from transformers import AutoTokenizer

    messages = [SystemMessage(content="You plan trips."), _user("Plan a day in Kyoto.")]
    result = await smol.create(messages)
    tokenizer = AutoTokenizer.from_pretrained(smol.engine.model)
    ids = tokenizer.apply_chat_template(
        [
            {"role": "system", "content": "You plan trips."},
            {"role": "user", "content": "Plan a day in Kyoto."},
        ],
        chat_template=builtin_chat_template("chatml_hermes").read_text(),
        add_generation_prompt=True,
        tokenize=True,
    )
    if isinstance(ids, dict) or hasattr(ids, "keys"):
        ids = ids["input_ids"]
    assert result.usage.prompt_tokens == len(ids) == smol.count_tokens(messages)
    assert smol.remaining_tokens(messages) == smol.engine.max_model_len - len(ids)
    assert 0 < result.usage.completion_tokens <= MAX_TOKENS


async def test_total_usage_adds_up() -> None:
    client = create_client(_smol_spec(max_tokens=8))
    try:
        a = await client.create([_user("Hi")])
        b = await client.create([_user("Hello there")])
        total = client.total_usage()
        assert total.prompt_tokens == a.usage.prompt_tokens + b.usage.prompt_tokens
        assert total.completion_tokens == a.usage.completion_tokens + b.usage.completion_tokens
        assert client.actual_usage() == total
    finally:
        await client.close()


# --------------------------------------------------------------------------- tools


def _check_call(call, tools: list[FunctionTool]) -> None:
    schemas = {t.schema["name"]: t.schema for t in tools}
    assert call.name in schemas
    assert call.id
    arguments = json.loads(call.arguments)
    assert isinstance(arguments, dict)
    params = schemas[call.name]["parameters"]
    assert set(params.get("required", [])) <= set(arguments) <= set(params["properties"])


async def test_required_tool_choice_gives_a_parsed_call(smol: VllmChatCompletionClient) -> None:
    result = await smol.create(
        [_user("What is the weather in Paris, and what time is it there?")],
        tools=[WEATHER, TIME],
        tool_choice="required",
    )
    assert result.finish_reason == "function_calls"
    assert isinstance(result.content, list) and result.content
    for call in result.content:
        _check_call(call, [WEATHER, TIME])


async def test_named_tool_choice_calls_that_tool(smol: VllmChatCompletionClient) -> None:
    result = await smol.create([_user("Tell me something.")], tools=[WEATHER, TIME], tool_choice=TIME)
    assert isinstance(result.content, list)
    assert [c.name for c in result.content] == ["get_time"]
    _check_call(result.content[0], [TIME])


async def test_streamed_tool_call_equals_the_non_streamed_one(smol: VllmChatCompletionClient) -> None:
    messages = [_user("What is the weather in Paris?")]
    await smol.engine.reset_prefix_cache()
    whole = await smol.create(messages, tools=[WEATHER], tool_choice="required")
    await smol.engine.reset_prefix_cache()
    _, streamed = await _collect(smol.create_stream(messages, tools=[WEATHER], tool_choice="required"))
    assert isinstance(whole.content, list) and isinstance(streamed.content, list)
    assert [(c.name, c.arguments) for c in streamed.content] == [(c.name, c.arguments) for c in whole.content]
    assert streamed.usage == whole.usage


async def test_force_tool_choice_turns_auto_into_a_call_but_not_after_a_tool_result(
    smol: VllmChatCompletionClient,
) -> None:
    assert smol.config.force_tool_choice  # the SmolLM2 preset
    ask = [_user("What is the weather in Paris?")]
    first = await smol.create(ask, tools=[WEATHER])  # tool_choice "auto", as AssistantAgent sends it
    assert isinstance(first.content, list)
    _check_call(first.content[0], [WEATHER])

    call = first.content[0]
    after = [
        *ask,
        AssistantMessage(content=first.content, source="assistant"),
        FunctionExecutionResultMessage(
            content=[FunctionExecutionResult(content="Sunny, 21 C", call_id=call.id, name=call.name)]
        ),
    ]
    answered = await smol.create(after, tools=[WEATHER])  # a tool loop's next step: free to answer
    assert isinstance(answered.content, str)
    reflected = await smol.create(after, tool_choice="none")  # AutoGen's reflection call
    assert isinstance(reflected.content, str)
    assert reflected.usage.prompt_tokens < answered.usage.prompt_tokens  # no tool block in the prompt


async def test_tool_choice_none_leaves_tools_out_of_the_prompt(smol: VllmChatCompletionClient) -> None:
    messages = [_user("What is the weather in Paris?")]
    result = await smol.create(messages, tools=[WEATHER], tool_choice="none")
    assert isinstance(result.content, str)
    assert result.usage.prompt_tokens == smol.count_tokens(messages)
    assert smol.count_tokens(messages, tools=[WEATHER]) > result.usage.prompt_tokens


async def test_a_narrowed_argument_is_decoded_under_its_whole_list_but_not_read_out(
    smol: VllmChatCompletionClient,
) -> None:
    """A scenario's `arguments:` rule with more values than the prompt lists (models/_shown_tools.py):
    the model reads "one of N allowed values", and the grammar still allows only those values."""
    codes = [f"station-{i:03d}" for i in range(60)]

    def weather(enum: list[str] | None) -> ToolSchema:
        city: dict[str, object] = {"type": "string", "description": "The weather station."}
        if enum is not None:
            city["enum"] = enum
        params = {"type": "object", "properties": {"city": city}, "required": ["city"]}
        return ToolSchema(name="get_weather", description="Get the weather.", parameters=params)  # type: ignore[typeddict-item]

    ask = [_user("What is the weather in Paris?")]
    free = await smol.create(ask, tools=[weather(None)], tool_choice="required")
    held = await smol.create(ask, tools=[weather(codes)], tool_choice="required")
    assert isinstance(free.content, list) and isinstance(held.content, list)
    assert json.loads(free.content[0].arguments)["city"] not in codes  # left free it names the city
    assert json.loads(held.content[0].arguments)["city"] in codes
    said = held.usage.prompt_tokens - free.usage.prompt_tokens
    assert 0 < said < 15  # "One of 60 allowed values.", not sixty names
    listed = await smol.create(ask, tools=[weather(codes[:20])], tool_choice="required")
    assert listed.usage.prompt_tokens > free.usage.prompt_tokens + 60  # a short list is read out
    assert smol.count_tokens(ask, tools=[weather(codes)]) == held.usage.prompt_tokens


# --------------------------------------------------------------------------- structured output


async def test_pydantic_structured_output_parses(smol: VllmChatCompletionClient) -> None:
    result = await smol.create(
        [_user("Give facts about Paris as JSON.")],
        json_output=CityFacts,
        extra_create_args={"max_tokens": 120},
    )
    assert isinstance(result.content, str)
    facts = CityFacts.model_validate_json(result.content)
    assert isinstance(facts.is_capital, bool)


async def test_a_scenario_agent_answers_under_its_output_schema(
    smol: VllmChatCompletionClient, tmp_path: Path
) -> None:
    from helpers import write

    from autogen_troupe import RunOptions, load_scenario, run_scenario
    from autogen_troupe.runtime._transcript import Text

    text = (
        "name: s\ntask: Pick a city in Nepal and a number of days.\nteam:\n  kind: single\n  agents:\n"
        "    - name: planner\n      stream: false\n      output_schema: {type: object, properties: "
        "{city: {enum: [Kathmandu, Pokhara]}, days: {type: integer, minimum: 1, maximum: 9}}, "
        "required: [city, days]}\n"
    )
    sc = load_scenario(write(tmp_path, text))
    result = await run_scenario(sc, model_client=smol, options=RunOptions(out_dir=tmp_path / "runs"))
    (answer,) = [e for e in result.transcript if isinstance(e, Text) and e.structured is not None]
    assert answer.structured is not None and answer.structured["city"] in ("Kathmandu", "Pokhara")
    assert 1 <= answer.structured["days"] <= 9


async def test_json_mode_gives_a_json_object(smol: VllmChatCompletionClient) -> None:
    result = await smol.create(
        [_user("Describe a cat in JSON.")], json_output=True, extra_create_args={"max_tokens": 80}
    )
    if result.finish_reason == "stop":
        assert isinstance(json.loads(result.content), dict)
    else:  # cut by max_tokens: still the start of an object
        assert result.content.lstrip().startswith("{")


# --------------------------------------------------------------------------- one engine


async def test_concurrent_requests_share_one_engine(smol: VllmChatCompletionClient) -> None:
    other = create_client(_smol_spec(max_tokens=16))
    try:
        prompts = [f"Count to {n}." for n in range(8)]
        clients = [smol, other] * 4
        results = await asyncio.gather(*(c.create([_user(p)]) for c, p in zip(clients, prompts, strict=True)))
        assert all(isinstance(r.content, str) and r.usage.completion_tokens > 0 for r in results)
        assert other.engine is smol.engine
        engines = _vllm_engine.loaded_engines()
        assert list(engines) == [smol.engine.key]
        assert engines[smol.engine.key] == 2
    finally:
        await other.close()
    assert _vllm_engine.loaded_engines() == {smol.engine.key: 1}


def test_engine_serves_several_event_loops(smol: VllmChatCompletionClient) -> None:
    """The runner may be called with asyncio.run() more than once in a process."""
    first = asyncio.run(smol.create([_user("Say yes.")]))
    second = asyncio.run(smol.create([_user("Say no.")]))
    assert isinstance(first.content, str) and first.content
    assert isinstance(second.content, str) and second.content


async def test_concurrent_first_calls_load_once(smol: VllmChatCompletionClient) -> None:
    fresh = [create_client(_smol_spec()) for _ in range(3)]
    try:
        await asyncio.gather(*(c.start() for c in fresh))
        assert {id(c.engine) for c in fresh} == {id(smol.engine)}
        assert _vllm_engine.loaded_engines() == {smol.engine.key: 4}
    finally:
        await asyncio.gather(*(c.close() for c in fresh))


# --------------------------------------------------------------------------- component config


async def test_component_dump_and_load_round_trip(smol: VllmChatCompletionClient) -> None:
    dumped = smol.dump_component()
    assert dumped.component_type == "model"
    assert dumped.provider == "autogen_troupe.models.vllm.VllmChatCompletionClient"
    loaded = ChatCompletionClient.load_component(json.loads(dumped.model_dump_json()))
    try:
        assert isinstance(loaded, VllmChatCompletionClient)
        assert loaded.config == smol.config
        assert loaded.model_info == smol.model_info
        result = await loaded.create([_user("Hi")], extra_create_args={"max_tokens": 4})
        assert loaded.engine is smol.engine and result.usage.completion_tokens > 0
    finally:
        await loaded.close()


# --------------------------------------------------------------------------- cancellation


async def test_cancelling_a_stream_aborts_the_request(smol: VllmChatCompletionClient) -> None:
    token = CancellationToken()
    long = {"max_tokens": 2000, "extra_body": {"ignore_eos": True}}
    stream = smol.create_stream(
        [_user("Tell a long story.")], extra_create_args=long, cancellation_token=token
    )
    received = 0
    with pytest.raises(asyncio.CancelledError):
        async for item in stream:
            assert isinstance(item, str)
            received += 1
            if received == 3:
                token.cancel()
    # The abort travels the engine's inbox ahead of the next request, so once that one is done the
    # cancelled one is gone from the engine rather than running on to 2000 tokens.
    await smol.create([_user("Hi")], extra_create_args={"max_tokens": 2})
    assert smol.engine.llm.get_num_unfinished_requests() == 0


async def test_cancelling_create_aborts_the_request(smol: VllmChatCompletionClient) -> None:
    token = CancellationToken()
    long = {"max_tokens": 2000, "extra_body": {"ignore_eos": True}}
    task = asyncio.ensure_future(
        smol.create([_user("Tell a long story.")], extra_create_args=long, cancellation_token=token)
    )
    while smol.engine.llm.get_num_unfinished_requests() == 0:
        await asyncio.sleep(0.01)
    token.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await smol.create([_user("Hi")], extra_create_args={"max_tokens": 2})
    assert smol.engine.llm.get_num_unfinished_requests() == 0


# --------------------------------------------------------------------------- errors and presets


async def test_bad_calls_fail_clearly(smol: VllmChatCompletionClient) -> None:
    with pytest.raises(InvalidModelRequest, match="unknown extra_create_args") as e:
        await smol.create([_user("Hi")], extra_create_args={"temprature": 0.5})
    assert isinstance(e.value, ValueError) and exit_code_for(e.value) == 2  # AutoGen's kind, and ours
    with pytest.raises(InvalidModelRequest, match="needs tools"):
        await smol.create([_user("Hi")], tool_choice="required")
    with pytest.raises(ModelCallError, match="max_model_len"):
        await smol.create([_user("word " * 5000)])


def test_presets_and_spec_errors() -> None:
    assert preset_for("smollm2-135m-instruct")["tool_parser"] == "hermes"
    assert preset_for("/models/Qwen2.5-7B-Instruct") == {"tool_parser": "hermes"}
    assert preset_for("/models/Meta-Llama-3.1-8B-Instruct") == {"tool_parser": "llama3_json"}
    assert preset_for("/models/unknown") == {}
    client = create_client(ModelSpec(provider="vllm", model="/models/Qwen2.5-7B-Instruct", tool_parser="x"))
    assert client.config.tool_parser == "x"  # the spec wins over the preset
    with pytest.raises(ProfileError, match="needs `model`"):
        create_client(ModelSpec(provider="vllm"))
    with pytest.raises(ProfileError, match="chat_template"):
        create_client(ModelSpec(provider="vllm", model="m", chat_template="no-such-template"))


# --------------------------------------------------------------------------- parity with vLLM's server


@pytest.fixture(scope="module")
def vllm_server(smol: VllmChatCompletionClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """vLLM's OpenAI server for the same converted folder, template and parser, on a free local port."""
    log = tmp_path_factory.mktemp("vllm-server") / "server.log"
    with vllm_openai_server(smol.engine.model, max_model_len=smol.engine.max_model_len, log=log) as server:
        # Both engines start the comparisons with nothing cached, so both compute every prompt alike
        # (a cached prefix is computed in other chunks, which may move a greedy near-tie).
        asyncio.run(smol.engine.reset_prefix_cache())
        yield server.base_url


PARITY_CASES = [
    ("text", [_user("What is the capital of France?")], {}),
    (
        "conversation",
        [
            SystemMessage(content="You are a travel planner. Answer in one sentence."),
            UserMessage(content="Plan a day in Rome.", source="planner_agent"),
            AssistantMessage(content="Visit the Colosseum in the morning.", source="local_agent"),
            UserMessage(content="And in the evening?", source="user"),
        ],
        {},
    ),
    (
        "tool call",
        [_user("What is the weather in Paris?")],
        {"tools": [STRICT_WEATHER], "tool_choice": "required"},
    ),
]


@pytest.mark.parametrize(("case", "messages", "kwargs"), PARITY_CASES, ids=[c[0] for c in PARITY_CASES])
async def test_parity_with_vllm_openai_server(
    smol: VllmChatCompletionClient, vllm_server: str, case: str, messages: list, kwargs: dict
) -> None:
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    # Same template and parser as the server, and tool schemas strict only where the tool says so.
    ours = create_client(_smol_spec(force_tool_choice=False))
    remote = OpenAIChatCompletionClient(
        model="smol",
        base_url=vllm_server,
        api_key="unused",
        temperature=0.0,
        max_tokens=MAX_TOKENS,
        model_info=ours.model_info,  # both clients claim the same capabilities
    )
    try:
        mine = await ours.create(messages, **kwargs)
        theirs = await remote.create(messages, **kwargs)
    finally:
        await remote.close()
        await ours.close()
    assert mine.usage == theirs.usage
    assert mine.finish_reason == theirs.finish_reason
    if isinstance(theirs.content, str):
        assert mine.content == theirs.content
    else:
        assert isinstance(mine.content, list)
        assert [(c.name, json.loads(c.arguments)) for c in mine.content] == [
            (c.name, json.loads(c.arguments)) for c in theirs.content
        ]


def test_missing_or_broken_vllm_names_the_fix() -> None:
    missing = _vllm_engine._install_message(ModuleNotFoundError("No module named 'vllm'", name="vllm"))
    assert "pip install 'autogen-troupe[local]'" in missing and "[gpu]" in missing
    broken = _vllm_engine._install_message(RuntimeError("operator torchvision::nms does not exist"))
    assert "pip uninstall -y torchvision torchaudio torchcodec" in broken


# --------------------------------------------------------------------------- constrained decisions


async def test_probe_finds_what_vllms_server_can_do(smol: VllmChatCompletionClient, vllm_server: str) -> None:
    """`troupe probe` on vLLM's real server (the parity tests' one): every constraint is honoured."""
    from autogen_troupe.models import OpenAIModel, resolve_model
    from autogen_troupe.models.openai._probe import probe_endpoint

    spec = resolve_model(ModelSpec(base_url=vllm_server, model="smol"), env={})
    assert isinstance(spec, OpenAIModel)
    report = await probe_endpoint(spec, request_timeout_s=300, total_s=1200)
    caps = report.capabilities
    assert report.problem is None, report.problem
    assert (caps.tool_required, caps.tool_named, caps.json_schema, caps.choice, caps.stream_usage) == (
        True,
    ) * 5
    assert caps.template_tools is True, report.rows
    assert report.context_length == smol.engine.max_model_len  # as its GET /v1/models lists it


async def test_a_narrowed_argument_on_vllms_server_is_decoded_under_its_list_unread(
    smol: VllmChatCompletionClient, vllm_server: str
) -> None:
    """Our endpoint client on vLLM's real server, the vllm preset's capabilities and a forced call: the
    60 allowed values go out in `tools` (the grammar), the prompt gets the short form."""
    from autogen_troupe.models import create_model_client, resolve_model

    codes = [f"station-{i:03d}" for i in range(60)]
    city = {"type": "string", "description": "The weather station.", "enum": codes}
    params = {"type": "object", "properties": {"city": city}, "required": ["city"]}
    tool = ToolSchema(name="get_weather", description="Get the weather.", parameters=params)  # type: ignore[typeddict-item]
    spec = resolve_model(
        ModelSpec.model_validate(
            {"profile": "vllm", "base_url": vllm_server, "model": "smol", "force_tool_choice": True}
        ),
        env={},
    )
    client = create_model_client(spec)
    ask = [_user("What is the weather in Paris?")]
    try:
        held = await client.create(ask, tools=[tool])
        plain = {
            **tool,
            "parameters": {**params, "properties": {"city": {k: v for k, v in city.items() if k != "enum"}}},
        }
        free = await client.create(ask, tools=[plain])  # type: ignore[list-item]
    finally:
        await client.close()
    assert isinstance(held.content, list) and isinstance(free.content, list)
    assert json.loads(held.content[0].arguments)["city"] in codes
    assert json.loads(free.content[0].arguments)["city"] not in codes
    assert 0 < held.usage.prompt_tokens - free.usage.prompt_tokens < 15  # "One of 60 allowed values."


async def test_a_selector_decision_is_a_valid_name_under_the_constraint(
    smol: VllmChatCompletionClient,
) -> None:
    """Left free, the 135M model answers the selector with prose (the bundled trip_desk run named nobody
    in 9 of 9 calls); under the choice constraint each answer is exactly one of the eligible names."""
    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.conditions import MaxMessageTermination
    from autogen_ext.models.replay import ReplayChatCompletionClient

    from autogen_troupe.agents._selector import TroupeSelectorGroupChat
    from autogen_troupe.models import resolve_model
    from autogen_troupe.models._capabilities import capabilities_of

    answers: list[object] = []

    class Seen:  # the engine's client, keeping what the selector's model answered
        def __getattr__(self, name: str) -> object:
            return getattr(smol, name)

        async def create(self, messages: list, **kw: object) -> CreateResult:
            result = await smol.create(messages, **kw)  # type: ignore[arg-type]
            answers.append(result.content)
            return result

    names = ["clock_agent", "guide_agent", "desk_agent"]
    about = ["Knows the current time.", "Suggests a first day.", "Wraps up the answer."]
    agents = [
        AssistantAgent(n, model_client=ReplayChatCompletionClient([f"{n} speaking."] * 3), description=d)
        for n, d in zip(names, about, strict=True)
    ]
    team = TroupeSelectorGroupChat(
        agents,
        model_client=Seen(),  # type: ignore[arg-type]
        capabilities=capabilities_of(resolve_model("default", env={})),
        termination_condition=MaxMessageTermination(4),
    )
    result = await team.run(task="I land in Seoul tomorrow morning. What time is it there now?")
    assert len(answers) == 3 and all(a in names for a in answers), answers
    assert [m.source for m in result.messages] == ["user", *answers]  # every turn went to the named agent
