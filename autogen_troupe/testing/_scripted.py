"""Test doubles for scenarios: scripted model answers for unit tests, cassette replay for regression tests.

    from autogen_troupe.testing import ScriptedClient, tool_call
    scripted = ScriptedClient({"planner_agent": ["Day 1: Kathmandu"], "summary_agent": ["Done. TERMINATE"]})
    result = await run_scenario(scenario, clients=scripted)

A `ScriptedClient` is both a model client (pass it as `model_client=`: every agent shares one script, in
call order) and a client pool (pass it as `clients=`: a mapping gives each agent its own script).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autogen_core.models import ChatCompletionClient, FinishReasons

from ..errors import ModelCallError
from ..models._network import network_allowed
from ..tapes._hooks import delegating_client
from ..tapes._replay import ReplaySession, _chunks
from ..tapes._replay_provider import PROVIDER as REPLAY

if TYPE_CHECKING:
    from ..models._resolved import ResolvedModel

__all__ = ["ReplayClient", "Reply", "ScriptedClient", "network_allowed", "tool_call"]


@dataclass(frozen=True)
class Reply:
    """One scripted answer: text, or tool calls, with optional reasoning and token counts.

    Token counts left at None are estimated (words of the request and of the answer).
    """

    text: str = ""
    tool_calls: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    thought: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


def tool_call(name: str, **arguments: Any) -> Reply:
    """A reply that calls one tool: `tool_call("get_current_time", timezone="Asia/Seoul")`."""
    return Reply(tool_calls=((name, arguments),))


ReplyLike = str | Reply | Callable[[Sequence[Any]], "str | Reply"]


class _Script:
    """Answers in order; `ScriptedClient` wraps it in an AutoGen ChatCompletionClient."""

    def __init__(self, owner: ScriptedClient, replies: Sequence[ReplyLike], label: str) -> None:
        self._owner = owner
        self._replies = list(replies)
        self._label = label
        self._next = 0
        self._usage = (0, 0)
        self._last = (0, 0)
        self.model_info = REPLAY.model_info(None)
        self.requests: list[Sequence[Any]] = []

    def _reply(self, messages: Sequence[Any]) -> Any:
        from autogen_core import FunctionCall
        from autogen_core.models import CreateResult, RequestUsage

        if self._next >= len(self._replies):
            raise ModelCallError(
                f"ScriptedClient: {self._label} asked for answer {self._next + 1}, but only "
                f"{len(self._replies)} were scripted"
            )
        item = self._replies[self._next]
        self._next += 1
        self.requests.append(list(messages))
        reply = item(messages) if callable(item) else item
        if isinstance(reply, str):
            reply = Reply(text=reply)
        finish: FinishReasons
        if reply.tool_calls:
            self._owner._calls += 1
            content: Any = [
                FunctionCall(id=f"call_{self._owner._calls}_{k}", name=n, arguments=json.dumps(dict(a)))
                for k, (n, a) in enumerate(reply.tool_calls)
            ]
            finish = "function_calls"
        else:
            content, finish = reply.text, "stop"
        prompt = reply.prompt_tokens
        if prompt is None:
            prompt = sum(len(str(getattr(m, "content", "")).split()) for m in messages)
        completion = reply.completion_tokens
        if completion is None:
            completion = len(reply.text.split()) + 5 * len(reply.tool_calls)
        self._last = (prompt, completion)
        self._usage = (self._usage[0] + prompt, self._usage[1] + completion)
        return CreateResult(
            finish_reason=finish,
            content=content,
            usage=RequestUsage(prompt_tokens=prompt, completion_tokens=completion),
            cached=False,
            thought=reply.thought,
        )

    async def create(self, messages: Sequence[Any], **kw: Any) -> Any:
        return self._reply(messages)

    async def create_stream(self, messages: Sequence[Any], **kw: Any) -> AsyncGenerator[Any, None]:
        result = self._reply(messages)
        if isinstance(result.content, str):
            for piece in _chunks(result.content):
                yield piece
        yield result

    def actual_usage(self) -> Any:
        from autogen_core.models import RequestUsage

        return RequestUsage(*self._last)

    def total_usage(self) -> Any:
        from autogen_core.models import RequestUsage

        return RequestUsage(*self._usage)

    def count_tokens(self, messages: Any, *, tools: Any = ()) -> int:
        return sum(len(str(getattr(m, "content", "")).split()) for m in messages)

    def remaining_tokens(self, messages: Any, *, tools: Any = ()) -> int:
        return max(0, 1_000_000 - self.count_tokens(messages))

    async def close(self) -> None:
        return None

    @property
    def unused(self) -> int:
        return len(self._replies) - self._next


class ScriptedClient(ChatCompletionClient):
    """Scripted model answers for unit tests: a list shared in call order, or a list per agent.

    Each answer is a string, a `Reply` (see `tool_call`), or a function of the request's messages.
    Running out of answers raises ModelCallError naming the agent. It is a model client (`model_client=`,
    a shared list only) and a client pool (`clients=`).
    """

    __test__ = False

    def __init__(self, replies: Sequence[ReplyLike] | Mapping[str, Sequence[ReplyLike]]) -> None:
        self._calls = 0
        if isinstance(replies, Mapping):
            self._scripts = {a: _Script(self, r, f"agent {a!r}") for a, r in replies.items()}
            self._shared: _Script | None = None
        else:
            self._scripts = {}
            self._shared = _Script(self, list(replies), "the model")
        self._clients: dict[str, Any] = {}

    # ---------------------------------------------------------------- as a pool (`clients=`)

    def spec_for(self, agent: str, resolve: Callable[..., ResolvedModel]) -> ResolvedModel:
        return resolve()  # no I/O: the scripted answers stand in for whatever it names

    async def prepare(self) -> None:
        return None

    def get(self, spec: ResolvedModel | None, agent: str) -> Any:
        """The client for one agent (the runner asks per agent)."""
        if self._shared is not None:
            return self
        if agent not in self._scripts:
            self._scripts[agent] = _Script(self, [], f"agent {agent!r} (not scripted)")
        if agent not in self._clients:
            self._clients[agent] = delegating_client(self._scripts[agent])
        return self._clients[agent]

    async def aclose(self) -> None:
        return None

    def requests(self, agent: str | None = None) -> list[Sequence[Any]]:
        """The messages each request carried (of one agent, or of the shared script)."""
        script = self._shared if agent is None else self._scripts.get(agent)
        return list(script.requests) if script is not None else []

    @property
    def unused(self) -> dict[str, int]:
        """Answers never asked for, per agent (`*` for a shared script); empty when all were used."""
        scripts = {"*": self._shared} if self._shared is not None else self._scripts
        return {a: s.unused for a, s in scripts.items() if s is not None and s.unused}

    # ---------------------------------------------------------------- as a model client (`model_client=`)

    def _one(self) -> _Script:
        if self._shared is None:
            raise TypeError(
                "a per-agent ScriptedClient is a client pool: pass it as clients=, not model_client="
            )
        return self._shared

    async def create(self, messages: Sequence[Any], **kw: Any) -> Any:
        return await self._one().create(messages, **kw)

    def create_stream(self, messages: Sequence[Any], **kw: Any) -> AsyncGenerator[Any, None]:
        return self._one().create_stream(messages, **kw)

    async def close(self) -> None:
        return None

    def actual_usage(self) -> Any:
        return self._one().actual_usage()

    def total_usage(self) -> Any:
        return self._one().total_usage()

    def count_tokens(self, messages: Any, *, tools: Any = ()) -> int:
        return self._one().count_tokens(messages)

    def remaining_tokens(self, messages: Any, *, tools: Any = ()) -> int:
        return self._one().remaining_tokens(messages)

    @property
    def capabilities(self) -> Any:  # deprecated in AutoGen, still abstract
        return REPLAY.model_info(None)

    @property
    def model_info(self) -> Any:
        return REPLAY.model_info(None)


def ReplayClient(cassette: Any, agent: str | None = None, *, strict: bool = True) -> Any:
    """A ChatCompletionClient answering from a cassette (a path or a `Cassette`), matched by request.

    With `agent`, only that agent's recorded calls; without, any agent's. For whole scenarios use
    `replay_scenario`, which also replays tool results.
    """
    from ..tapes._cassette import Cassette

    if isinstance(cassette, Cassette):
        session = ReplaySession(cassette, strict=strict)
    else:
        session = ReplaySession.open(cassette, strict=strict)
    return session.client(agent)
