"""The selector team, with a fallback that moves the conversation on.

AutoGen 0.7's `SelectorGroupChat` asks its model who speaks next, up to `max_selector_attempts` times; when
no answer names a valid speaker it falls back to the previous speaker, even with `allow_repeated_speaker`
off. A small model (the embedded default) rarely answers with a bare name, so one agent then speaks turn
after turn until the message cap: the bundled trip_desk run gave the clock agent all nine turns. Here,
with repeats off, that fallback is the next agent after the previous speaker in the team's order (as a
round-robin team would go on); with repeats allowed, AutoGen's own fallback stays.

Where the selector's endpoint decodes under a constraint (see models/_capabilities.py), the model is asked
to answer with one of the eligible names and nothing else: the choice is then valid at the first attempt.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping
from typing import TYPE_CHECKING, Any

from autogen_agentchat.teams import SelectorGroupChat

from .._autogen import instance_attribute, private
from ..models._capabilities import UNKNOWN, Capabilities, choice_args

if TYPE_CHECKING:  # for the type checker only; at run time through _autogen.py, which says why
    from autogen_agentchat.teams._group_chat._selector_group_chat import SelectorGroupChatManager
else:
    SelectorGroupChatManager = private("SelectorGroupChatManager")

__all__ = ["TroupeSelectorGroupChat", "next_in_order"]


def next_in_order(names: list[str], previous: str, candidates: list[str]) -> str:
    """The first candidate after `previous` in the team's order, wrapping around."""
    start = names.index(previous) + 1 if previous in names else 0
    for name in names[start:] + names[:start]:
        if name in candidates:
            return name
    return candidates[0]


class _Constrained:
    """The selector's model client, with the request arguments that constrain its answer added to each call
    (AutoGen's manager calls only `create`/`create_stream` with messages, and reads `model_info`)."""

    def __init__(self, client: Any, args: Mapping[str, Any]) -> None:
        self._client = client
        self._args = dict(args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def create(self, messages: Any, **kw: Any) -> Any:
        return await self._client.create(messages, **self._with_args(kw))

    def create_stream(self, messages: Any, **kw: Any) -> AsyncGenerator[Any, None]:
        return self._client.create_stream(messages, **self._with_args(kw))

    def _with_args(self, kw: dict[str, Any]) -> dict[str, Any]:
        given = dict(kw.get("extra_create_args") or {})
        body = {**(given.get("extra_body") or {}), **self._args.get("extra_body", {})}
        return {**kw, "extra_create_args": {**given, **self._args, "extra_body": body}}


class _MovingOnManager(SelectorGroupChatManager):
    _troupe_capabilities: Capabilities = UNKNOWN

    async def _select_speaker(self, roles: str, participants: list[str], max_attempts: int) -> str:
        args = choice_args(self._troupe_capabilities, participants)
        if args is None:
            chosen = await super()._select_speaker(roles, participants, max_attempts)
        else:  # the manager picks one speaker at a time, so the client is swapped only for this call
            client = instance_attribute(self, "_model_client")
            self._model_client = _Constrained(client, args)  # type: ignore[assignment]
            try:
                chosen = await super()._select_speaker(roles, participants, max_attempts)
            finally:
                self._model_client = client
        previous = instance_attribute(self, "_previous_speaker")
        if chosen not in participants and previous is not None and chosen == previous:
            # AutoGen's fallback named the previous speaker, whom repeats-off left out of `participants`
            return next_in_order(instance_attribute(self, "_participant_names"), previous, participants)
        return chosen


class TroupeSelectorGroupChat(SelectorGroupChat):
    """`SelectorGroupChat` whose manager moves on to the next agent when the model names nobody, and asks
    for one of the eligible names where `capabilities` say the selector's endpoint can be constrained."""

    def __init__(self, *args: Any, capabilities: Capabilities = UNKNOWN, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._troupe_capabilities = capabilities

    def _create_group_chat_manager_factory(self, *args: Any, **kwargs: Any) -> Callable[[], Any]:
        make = super()._create_group_chat_manager_factory(*args, **kwargs)

        def factory() -> Any:
            manager = make()
            if type(manager) is SelectorGroupChatManager:  # only _select_speaker differs, and what it reads
                manager.__class__ = _MovingOnManager
                manager._troupe_capabilities = self._troupe_capabilities  # type: ignore[attr-defined]
            return manager

        return factory
