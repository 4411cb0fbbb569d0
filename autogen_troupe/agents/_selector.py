"""The selector team, with a fallback that moves the conversation on.

AutoGen 0.7's `SelectorGroupChat` asks its model who speaks next, up to `max_selector_attempts` times; when
no answer names a valid speaker it falls back to the previous speaker, even with `allow_repeated_speaker`
off. A small model (the embedded default) rarely answers with a bare name, so one agent then speaks turn
after turn until the message cap: the bundled trip_desk run gave the clock agent all nine turns. Here,
with repeats off, that fallback is the next agent after the previous speaker in the team's order (as a
round-robin team would go on); with repeats allowed, AutoGen's own fallback stays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from autogen_agentchat.teams import SelectorGroupChat

from .._autogen import instance_attribute, private

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


class _MovingOnManager(SelectorGroupChatManager):
    async def _select_speaker(self, roles: str, participants: list[str], max_attempts: int) -> str:
        chosen = await super()._select_speaker(roles, participants, max_attempts)
        previous = instance_attribute(self, "_previous_speaker")
        if chosen not in participants and previous is not None and chosen == previous:
            # AutoGen's fallback named the previous speaker, whom repeats-off left out of `participants`
            return next_in_order(instance_attribute(self, "_participant_names"), previous, participants)
        return chosen


class TroupeSelectorGroupChat(SelectorGroupChat):
    """`SelectorGroupChat` whose manager moves on to the next agent when the model names nobody."""

    def _create_group_chat_manager_factory(self, *args: Any, **kwargs: Any) -> Callable[[], Any]:
        make = super()._create_group_chat_manager_factory(*args, **kwargs)

        def factory() -> Any:
            manager = make()
            if type(manager) is SelectorGroupChatManager:  # only the method above differs; no state added
                manager.__class__ = _MovingOnManager
            return manager

        return factory
