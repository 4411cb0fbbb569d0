"""A remote A2A agent as a member of an AutoGen team (`kind: a2a`).

On its turn it sends what was said since its last turn (one message, each part labelled with its speaker
when there are several) to the remote agent through its call (tools/_a2a_call.py, seen by record and
replay as a tool call) and says the remote answer. The remote keeps the conversation (`contextId`); when
the remote asks back (`input-required`), its question is this agent's message and the team's next words
to it are the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from autogen_agentchat.agents import BaseChatAgent
from autogen_agentchat.base import Response
from autogen_agentchat.messages import BaseChatMessage, TextMessage
from autogen_core import CancellationToken

from ..errors import RemoteAgentError, TroupeError

__all__ = ["RemoteA2aAgent"]

_NOTHING_NEW = "Please go on."


def prompt_of(messages: Sequence[BaseChatMessage]) -> str:
    """What the remote agent is sent: one message as it is, several each labelled with its speaker."""
    said = [(m.source, m.to_text()) for m in messages]
    if not said:
        return _NOTHING_NEW
    if len(said) == 1:
        return said[0][1]
    return "\n\n".join(f"{source}: {text}" for source, text in said)


class RemoteA2aAgent(BaseChatAgent):
    """A team member answered by a remote A2A agent; `call` is its RemoteAgentCall (or a recording or
    replaying wrapper of it), `on_error` notes our typed errors before AutoGen turns them into text."""

    def __init__(
        self,
        name: str,
        description: str,
        *,
        call: Any,
        url: str,
        on_error: Callable[[TroupeError], None] | None = None,
    ) -> None:
        super().__init__(name, description)
        self._call = call
        self._url = url
        self._on_error = on_error
        self._turns = 0

    @property
    def produced_message_types(self) -> Sequence[type[BaseChatMessage]]:
        return (TextMessage,)

    async def on_messages(
        self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
    ) -> Response:
        self._turns += 1
        call_id = f"a2a-{self.name}-{self._turns}"
        try:
            value = await self._call.run_json(
                {"message": prompt_of(messages)}, cancellation_token, call_id=call_id
            )
        except TroupeError as e:
            self._note(e)
            raise
        except Exception as e:  # a replayed failure: the recorded error's text
            prefix = f"A2A agent {self.name!r} at {self._url} "
            error = RemoteAgentError(self.name, self._url, str(e).removeprefix(prefix))
            self._note(error)
            raise error from None
        answer = self._call.return_value_as_string(value)
        return Response(chat_message=TextMessage(content=answer, source=self.name))

    def _note(self, error: TroupeError) -> None:
        if self._on_error is not None:
            self._on_error(error)

    async def on_reset(self, cancellation_token: CancellationToken) -> None:
        self._turns = 0
