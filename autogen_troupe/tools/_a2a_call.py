"""One call to a remote A2A agent (`kind: a2a`), as a tool: the agent (agents/_a2a.py) calls it with the
conversation's new messages and gets the remote answer's text.

It is a tool so that record, replay, resume and tracing see it as they see every tool call: the tape keeps
`a2a:NAME(message) -> answer` like a Python tool's result, and a replay answers from the cassette without
the remote agent. The tool keeps the A2A conversation going: the `contextId` the remote gave, and the task
while the remote waits for input (`input-required`), so the next call answers it.

Failures are typed (errors.RemoteAgentError): unreachable (connection, timeout), refused (HTTP or JSON-RPC
error, a failed or rejected task), bad answer (no card, no text). Headers come from the scenario (`${VAR}`
expanded at load) and are remembered as secrets: no message, log or transcript shows them.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

from autogen_core import CancellationToken
from autogen_core.tools import BaseTool
from pydantic import BaseModel, Field

from .._redact import is_secret_name, redact_text, remember_secrets, safe_url
from ..errors import (
    RemoteAgentBadAnswer,
    RemoteAgentError,
    RemoteAgentRefused,
    RemoteAgentUnreachable,
    TroupeError,
)
from ..models._network import check_endpoint
from ..scenario._schema import Agent

__all__ = ["A2aAnswer", "A2aArgs", "RemoteAgentCall"]

CONNECT_S = 30.0  # reaching the remote agent; its answer gets the agent's `timeout_s`


class A2aArgs(BaseModel):
    message: str = Field(description="The conversation's new messages, as one text.")


class A2aAnswer(BaseModel):
    text: str
    state: str = ""  # the remote task's state (`input-required`: it asks back)


def _text_of(parts: Any) -> str:
    return "\n".join(p.text for p in parts if p.HasField("text") and p.text)


def _said_since(task: Any, message_id: str) -> list[str]:
    """The agents' messages in the task's history after ours (`name: text` when they name their agent)."""
    from a2a.types.a2a_pb2 import Role

    history = list(task.history)
    ours = next((i for i, m in enumerate(history) if m.message_id == message_id), -1)
    out = []
    for m in history[ours + 1 :]:
        text = _text_of(m.parts)
        if m.role == Role.ROLE_AGENT and text:
            agent = m.metadata["agent"] if "agent" in m.metadata else None  # noqa: SIM401 (a Struct: no get)
            out.append(f"{agent}: {text}" if isinstance(agent, str) else text)
    return out


class RemoteAgentCall(BaseTool[A2aArgs, A2aAnswer]):
    """Sends a message to the remote agent of `agent` and returns its answer."""

    def __init__(self, agent: Agent) -> None:
        super().__init__(A2aArgs, A2aAnswer, f"a2a:{agent.name}", f"Ask the remote A2A agent {agent.name}.")
        self.agent = agent.name
        self.url = str(agent.url)
        self.shown = safe_url(self.url)
        self.headers = dict(agent.headers)
        self.timeout_s = agent.answer_within
        self._client: Any = None
        self._http: Any = None
        self._context_id: str | None = None
        self._task_id: str | None = None  # a remote task waiting for our input
        secret = [v for k, v in self.headers.items() if is_secret_name(k)]
        remember_secrets([*secret, *(v.split(" ", 1)[-1] for v in secret)])  # "Bearer X": X too

    def _error(self, kind: type[RemoteAgentError], what: str) -> RemoteAgentError:
        return kind(self.agent, self.shown, redact_text(what))

    async def _connect(self) -> Any:
        """The SDK's client for the remote agent, from its card (read once)."""
        if self._client is not None:
            return self._client
        import httpx
        from a2a.client import AgentCardResolutionError, ClientConfig, create_client

        check_endpoint(self.url, f"A2A agent {self.agent!r} at")
        timeout = httpx.Timeout(self.timeout_s, connect=min(CONNECT_S, self.timeout_s))
        self._http = httpx.AsyncClient(headers=self.headers, timeout=timeout)
        config = ClientConfig(httpx_client=self._http, streaming=False)
        try:  # the card is part of connecting: it gets the connection's time, not the answer's
            self._client = await create_client(self.url, config, resolver_http_kwargs={"timeout": CONNECT_S})
        except AgentCardResolutionError as e:
            status = getattr(e, "status_code", None)
            if status is not None:
                kind = RemoteAgentRefused if status in (401, 403) else RemoteAgentBadAnswer
                raise self._error(kind, f"gave no agent card (HTTP {status})") from None
            if isinstance(e.__cause__, httpx.TimeoutException):
                raise self._error(
                    RemoteAgentUnreachable, f"gave no agent card within {CONNECT_S:g} s"
                ) from None
            raise self._failure(e.__cause__ or e) from None
        except Exception as e:
            raise self._failure(e) from None
        return self._client

    def _failure(self, e: BaseException) -> TroupeError:
        """An exception of the SDK or httpx, as one of our errors."""
        import httpx
        from a2a.client import A2AClientTimeoutError
        from a2a.utils.errors import A2AError

        if isinstance(e, TroupeError):  # ours already (a RemoteAgentError, the network guard's refusal)
            return e
        if isinstance(e, asyncio.TimeoutError | A2AClientTimeoutError | httpx.TimeoutException):
            return self._error(RemoteAgentUnreachable, f"gave no answer within {self.timeout_s:g} s")
        cause = next((c for c in (e, e.__cause__) if isinstance(c, httpx.NetworkError)), None)
        if cause is not None:  # connection refused, unknown host, cut
            return self._error(RemoteAgentUnreachable, f"cannot be reached ({type(cause).__name__}: {cause})")
        text = str(e) or type(e).__name__
        if "HTTP Error 401" in text or "HTTP Error 403" in text:
            return self._error(RemoteAgentRefused, f"refused our request: {text} (check its headers)")
        if isinstance(e, A2AError):
            return self._error(RemoteAgentRefused, f"answered with an error: {type(e).__name__}: {text}")
        return self._error(RemoteAgentBadAnswer, f"answered something we cannot read: {text}")

    async def run(self, args: A2aArgs, cancellation_token: CancellationToken) -> A2aAnswer:
        try:
            return await asyncio.wait_for(self._ask(args.message), self.timeout_s + CONNECT_S)
        except Exception as e:
            raise self._failure(e) from None

    async def _ask(self, text: str) -> A2aAnswer:
        from a2a.types.a2a_pb2 import Message, Part, Role, SendMessageRequest, TaskState

        client = await self._connect()
        message = Message(role=Role.ROLE_USER, message_id=str(uuid.uuid4()), parts=[Part(text=text)])
        if self._context_id:
            message.context_id = self._context_id
        if self._task_id:
            message.task_id = self._task_id
        responses = [r async for r in client.send_message(SendMessageRequest(message=message))]
        if not responses:
            raise self._error(RemoteAgentBadAnswer, "answered nothing")
        last = responses[-1]
        if last.HasField("message"):
            self._context_id = last.message.context_id or self._context_id
            self._task_id = None
            return self._answer(_text_of(last.message.parts), "")
        if not last.HasField("task"):
            raise self._error(RemoteAgentBadAnswer, "answered neither a task nor a message")
        task = last.task
        self._context_id = task.context_id or self._context_id
        state = TaskState.Name(task.status.state).removeprefix("TASK_STATE_").lower().replace("_", "-")
        said = _text_of(task.status.message.parts) if task.status.HasField("message") else ""
        self._task_id = task.id if state in ("input-required", "auth-required") else None
        if state in ("failed", "rejected", "canceled", "auth-required"):
            raise self._error(RemoteAgentRefused, f"ended its task {state}: {said or 'no reason given'}")
        if state == "completed":
            result = "\n".join(t for t in (_text_of(a.parts) for a in task.artifacts) if t)
            return self._answer(result or said, state)
        if state == "input-required":  # what its agents said meanwhile, then the question
            return self._answer("\n\n".join([*_said_since(task, message.message_id), said]), state)
        raise self._error(RemoteAgentBadAnswer, f"left its task {state} (expected an answer)")

    def _answer(self, text: str, state: str) -> A2aAnswer:
        if not text.strip():
            raise self._error(RemoteAgentBadAnswer, "answered no text")
        return A2aAnswer(text=text, state=state)

    def return_value_as_string(self, value: Any) -> str:
        return value.text if isinstance(value, A2aAnswer) else str(value)

    async def aclose(self) -> None:
        """Close the connection; a remote task still waiting for our answer is cancelled first (the run
        has ended: nobody will answer it)."""
        if self._client is not None and self._task_id is not None:
            from a2a.types.a2a_pb2 import CancelTaskRequest

            with contextlib.suppress(Exception):  # best effort: the run's own outcome is what counts
                await asyncio.wait_for(
                    self._client.cancel_task(CancelTaskRequest(id=self._task_id)), CONNECT_S
                )
            self._task_id = None
        if self._http is not None:
            await self._http.aclose()
            self._http = self._client = None
