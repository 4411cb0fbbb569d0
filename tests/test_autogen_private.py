"""Every private AutoGen name troupe relies on (autogen_troupe/_autogen.py) is where the checked versions
have it: an AutoGen release that moves one fails here, by name, instead of a run failing quietly."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import pytest
from autogen_agentchat.agents import AssistantAgent
from autogen_core import SingleThreadedAgentRuntime
from autogen_ext.models.replay import ReplayChatCompletionClient

from autogen_troupe._autogen import (
    CHECKED_WITH,
    INSTANCE_ATTRIBUTES,
    PRIVATE_NAMES,
    AutoGenMoved,
    PrivateName,
    instance_attribute,
    private,
)
from autogen_troupe.agents._selector import TroupeSelectorGroupChat


@pytest.mark.parametrize("key", sorted(PRIVATE_NAMES))
def test_each_private_name_resolves(key: str) -> None:
    assert private(key) is not None


def test_the_installed_autogen_is_a_checked_release_line() -> None:
    for dist, checked in CHECKED_WITH.items():
        assert version(dist).split(".")[:2] == checked.split(".")[:2], f"{dist} {version(dist)} vs {checked}"


def test_a_moved_name_says_which_and_what_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        PRIVATE_NAMES, "gone", PrivateName("autogen_core", "_no_such_thing", "a test of the message")
    )
    with pytest.raises(AutoGenMoved) as e:
        private("gone")
    message = str(e.value)
    assert "autogen_core._no_such_thing" in message and "a test of the message" in message
    assert "0.7.5" in message


def test_instance_attributes_are_on_real_objects() -> None:
    made: list[object] = []

    class Spied(TroupeSelectorGroupChat):
        def _create_group_chat_manager_factory(self, *args: Any, **kwargs: Any) -> Callable[[], Any]:
            make = super()._create_group_chat_manager_factory(*args, **kwargs)

            def factory() -> Any:
                made.append(make())
                return made[-1]

            return factory

    async def run() -> Spied:
        client = ReplayChatCompletionClient(["one", "an answer"])
        agents = [AssistantAgent(n, model_client=client) for n in ("one", "two")]
        team = Spied(agents, model_client=client, max_turns=1)
        await team.run(task="hello")
        return team

    team = asyncio.run(run())
    runtime = instance_attribute(team, "_runtime")
    assert isinstance(runtime, SingleThreadedAgentRuntime)
    owners = {
        "BaseGroupChat": team,
        "SingleThreadedAgentRuntime": runtime,
        "SelectorGroupChatManager": made[0],
    }
    assert isinstance(made[0], private("SelectorGroupChatManager"))
    for name, (owner, why) in INSTANCE_ATTRIBUTES.items():
        assert hasattr(owners[owner], name), f"{owner}.{name} is gone ({why})"


def test_an_unlisted_attribute_is_refused() -> None:
    with pytest.raises(KeyError):
        instance_attribute(object(), "_anything")
