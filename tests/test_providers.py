"""The provider interface: each provider owns what it knows (its client, model listing, model facts, secrets,
what tracing reports), and another provider is one module plus its registration."""

from __future__ import annotations

import sys
import types
from typing import Any, ClassVar

import pytest
from autogen_core.models import UserMessage
from fake_openai import FakeOpenAI

from autogen_troupe.errors import ProfileError, UsageError
from autogen_troupe.models._endpoints import resolve_model
from autogen_troupe.models._facts import context_length_of
from autogen_troupe.models._provider import Provider
from autogen_troupe.models._registry import PROVIDERS, ClientPool, get_provider, register_provider
from autogen_troupe.models._resolved import OpenAIModel, ReplayModel, VllmModel, spec_secrets
from autogen_troupe.models.openai import TroupeOpenAIClient
from autogen_troupe.runtime._observe import chat_facts
from autogen_troupe.scenario._schema import ModelSpec


def test_each_registered_provider_is_a_provider_of_its_name() -> None:
    for name in PROVIDERS:
        provider = get_provider(name)
        assert isinstance(provider, Provider) and provider.name == name


def test_what_each_provider_knows() -> None:
    endpoint = OpenAIModel(
        base_url="https://user:pw@gw.example:8443/v1",
        model="qwen2.5-vl-7b",
        api_key="sk-abcdef0123456789",
        headers={"x-genos-user-id": "alice", "Authorization": "Bearer tok-0123456789abcdef"},
    )
    engine = VllmModel(model="/models/SmolLM2-135M-Instruct")
    replay = ReplayModel(model="m", cassette="c.json")
    # secrets: only an endpoint carries any; the user id header is no secret
    assert {"sk-abcdef0123456789", "tok-0123456789abcdef"} <= spec_secrets(endpoint, env={})
    assert "alice" not in spec_secrets(endpoint, env={})
    assert spec_secrets(engine, env={}) == spec_secrets(replay, env={}) == set()
    # context length: the engine's preset for SmolLM2, stated lengths win, an endpoint states or is unknown
    assert context_length_of(engine) == 4096
    assert context_length_of(engine.model_copy(update={"context_length": 2048})) == 2048
    assert context_length_of(endpoint) is None
    # model info: the engine calls tools only with a parser; an endpoint's model is inferred from its id
    assert get_provider("vllm").model_info("x", tool_parser=None)["function_calling"] is False
    assert get_provider("vllm").model_info("x", tool_parser="hermes")["function_calling"] is True
    assert get_provider("openai").model_info("qwen2.5-vl-7b")["vision"] is True
    assert get_provider("openai").model_info("qwen2.5-vl-7b", given={"vision": False})["vision"] is False
    # tracing: an endpoint is a server with an address; the engine and a cassette stay in this process
    facts = chat_facts(endpoint)
    assert (facts.provider, facts.server_address, facts.server_port, facts.in_process) == (
        "openai",
        "gw.example",
        8443,
        False,
    )
    assert chat_facts(engine).provider == "vllm" and chat_facts(engine).in_process
    assert chat_facts(replay).provider is None and chat_facts(replay).in_process


class _Counting(Provider):
    """An endpoint provider that counts the clients it makes: what a user's own provider module holds."""

    name: ClassVar[str] = "openai"
    made: ClassVar[int] = 0

    def create_client(self, spec: Any, agent: str | None = None) -> Any:
        type(self).made += 1
        return get_provider_original().create_client(spec)


def get_provider_original() -> Provider:
    from autogen_troupe.models.openai._provider import PROVIDER

    return PROVIDER


async def test_a_registered_provider_is_the_one_runs_use(
    monkeypatch: pytest.MonkeyPatch, srv: FakeOpenAI
) -> None:
    module = types.ModuleType("my_troupe_provider")
    module.PROVIDER = _Counting()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "my_troupe_provider", module)
    monkeypatch.setitem(PROVIDERS, "openai", PROVIDERS["openai"])
    register_provider("openai", "my_troupe_provider:PROVIDER")
    srv.script(["hello"])
    spec = resolve_model(ModelSpec.model_validate({"base_url": srv.base_url, "model": "m"}), env={})
    async with ClientPool() as pool:
        client = pool.get(spec, "a")
        assert isinstance(client, TroupeOpenAIClient) and pool.get(spec, "b") is client  # endpoints share
        result = await client.create([UserMessage(content="hi", source="user")])
    assert result.content == "hello" and _Counting.made == 1


def test_registration_mistakes_are_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match="module:NAME"):
        register_provider("x", "no_colon")
    monkeypatch.setitem(PROVIDERS, "bad", "autogen_troupe.models._facts:SETTING_KEYS")
    with pytest.raises(UsageError, match="not a Provider"):
        get_provider("bad")
    with pytest.raises(ProfileError, match="unknown model provider"):
        get_provider("nope")
