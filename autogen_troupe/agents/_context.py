"""What of the conversation each agent sends to its model: a scenario's `model_context`, kept in budget.

AutoGen keeps every message by default, so a long run dies once the conversation passes the model's context
length (`maximum context length is 4096 tokens`). Every context here but `unbounded` also keeps what it sends
within a token budget: the model's context length minus its answer, system message and tools.

Tokens are estimated from the text, not counted by the model's tokenizer: the same estimate then decides the
same messages live, when recording and when replaying a cassette offline (where no tokenizer or engine is at
hand), so a strict replay still matches. The estimate is deliberately high: measured against SmolLM2's
tokenizer over 604 texts (transcripts, tool results, JSON, code, numbers, five scripts) it is 1.38x the true
count at the median and never under 0.9x; `_MARGIN` covers the rest.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from autogen_core import Image
from autogen_core.model_context import ChatCompletionContext
from autogen_core.models import (
    AssistantMessage,
    FunctionExecutionResultMessage,
    LLMMessage,
    SystemMessage,
    UserMessage,
)

from .._text import estimate_tokens
from ..models._shown_tools import shown_tool
from ..scenario._schema import ModelContext, TokenLimitedContext, UnboundedContext

__all__ = ["ContextBudget", "TroupeModelContext", "estimate_message_tokens", "estimate_tokens"]

_PER_MESSAGE = 8  # role markers and separators a chat template adds around each message
_PER_IMAGE = 1024
_MARGIN = 64  # template framing (generation prompt, tool instructions) the estimate does not see
_TRUNCATED = "\n[... cut to fit the model's context]"


def _text_parts(message: LLMMessage) -> tuple[list[str], int]:
    """The texts a message sends, and how many images."""
    if isinstance(message, SystemMessage):
        return [message.content], 0
    if isinstance(message, UserMessage):
        if isinstance(message.content, str):
            return [message.source, message.content], 0
        texts = [message.source] + [p for p in message.content if isinstance(p, str)]
        return texts, sum(1 for p in message.content if isinstance(p, Image))
    if isinstance(message, AssistantMessage):
        texts = [message.thought or ""]
        if isinstance(message.content, str):
            texts.append(message.content)
        else:
            texts += [f"{c.id} {c.name} {c.arguments}" for c in message.content]
        return texts, 0
    return [f"{r.call_id} {r.content}" for r in message.content], 0


def estimate_message_tokens(message: LLMMessage) -> int:
    texts, images = _text_parts(message)
    return _PER_MESSAGE + sum(estimate_tokens(t) for t in texts) + images * _PER_IMAGE


def _cut(message: LLMMessage, budget: int) -> LLMMessage:
    """The message with its text shortened to about `budget` tokens (only plain text can be cut)."""
    if isinstance(message, UserMessage | AssistantMessage) and isinstance(message.content, str):
        text = message.content
        keep = len(text)
        while (
            keep > 0 and estimate_message_tokens(message.model_copy(update={"content": text[:keep]})) > budget
        ):
            keep = keep * 3 // 4
        return message.model_copy(update={"content": text[:keep] + _TRUNCATED})
    if isinstance(message, FunctionExecutionResultMessage):
        each = max(1, budget // max(1, len(message.content)))
        results = []
        for r in message.content:
            keep = len(r.content)
            while keep > 0 and estimate_tokens(r.content[:keep]) + _PER_MESSAGE > each:
                keep = keep * 3 // 4
            results.append(r.model_copy(update={"content": r.content[:keep] + _TRUNCATED}))
        return message.model_copy(update={"content": results})
    return message


@dataclass(frozen=True)
class ContextBudget:
    """How many tokens an agent's conversation may take: the model's context length, less the answer,
    the system message and the tools (listed when asked: an MCP server's tools may change mid-run)."""

    context_length: int
    completion: int
    system_message: str = ""
    tools: Callable[[], Awaitable[Sequence[Any]]] | None = None

    async def tokens(self) -> int:
        fixed = estimate_tokens(self.system_message) + _PER_MESSAGE + _MARGIN
        if self.tools is not None:
            schemas = await self.tools()
            if schemas:
                shown = [shown_tool(s) if isinstance(s, Mapping) else s for s in schemas]
                fixed += estimate_tokens(json.dumps(shown, ensure_ascii=False, default=str))
        return self.context_length - self.completion - fixed


class TroupeModelContext(ChatCompletionContext):
    """A scenario's `model_context` choice, then trimmed to the budget (when one is known)."""

    def __init__(
        self,
        choice: ModelContext | None = None,
        *,
        budget: ContextBudget | None = None,
        initial_messages: list[LLMMessage] | None = None,
    ) -> None:
        super().__init__(initial_messages)
        self._choice = choice if choice is not None else TokenLimitedContext()
        self._budget = budget

    async def get_messages(self) -> list[LLMMessage]:
        """The chosen messages, counted in turns (a tool call and its results are one), kept in budget."""
        choice = self._choice
        if isinstance(choice, UnboundedContext):
            return list(self._messages)
        units = _units(list(self._messages))
        head: list[list[LLMMessage]] = []
        if choice.kind == "buffered":
            units = units[-choice.last :]
        elif choice.kind == "head_and_tail":
            if len(units) > choice.head + choice.tail:
                head, units = units[: choice.head], units[-choice.tail :]
        elif units and isinstance(units[0][0], UserMessage):
            # token_limited: the task first, as long as it leaves room for the newest message
            head, units = units[:1], units[1:]
        limit = await self._limit()
        if limit is None:
            return [m for unit in head + units for m in unit]
        return _fit(head, units, limit)

    async def _limit(self) -> int | None:
        explicit = getattr(self._choice, "max_tokens", None)
        derived = await self._budget.tokens() if self._budget is not None else None
        if explicit is not None and derived is not None:
            return min(explicit, derived)
        return explicit if explicit is not None else derived

    async def clear(self) -> None:
        self._messages = []

    async def save_state(self) -> dict[str, Any]:
        return {"messages": [m.model_dump() for m in self._messages]}

    async def load_state(self, state: Any) -> None:
        from autogen_core.model_context import UnboundedChatCompletionContext

        loader = UnboundedChatCompletionContext()
        await loader.load_state(state)
        self._messages = await loader.get_messages()


def _units(messages: list[LLMMessage]) -> list[list[LLMMessage]]:
    """Messages grouped so that a tool call and its results stay together: APIs reject a tool result
    whose call is not right before it. A result whose call is already gone is dropped."""
    units: list[list[LLMMessage]] = []
    for m in messages:
        if isinstance(m, FunctionExecutionResultMessage):
            if units and _has_calls(units[-1][0]):
                units[-1].append(m)
            continue
        units.append([m])
    return units


def _has_calls(message: LLMMessage) -> bool:
    return isinstance(message, AssistantMessage) and isinstance(message.content, list)


def _cost(unit: list[LLMMessage]) -> int:
    return sum(estimate_message_tokens(m) for m in unit)


def _fit(
    head_units: list[list[LLMMessage]], tail_units: list[list[LLMMessage]], limit: int
) -> list[LLMMessage]:
    """The head (if it leaves room for the newest turn) and the newest turns that fit in `limit`; when not
    even the newest fits, it is sent shortened."""
    if not tail_units:
        head_units, tail_units = [], head_units
    if not tail_units:
        return []
    head_cost = sum(_cost(u) for u in head_units)
    if head_units and head_cost + _cost(tail_units[-1]) > limit:
        head_units, head_cost = [], 0
    room = limit - head_cost
    kept: list[list[LLMMessage]] = []
    for unit in reversed(tail_units):
        cost = _cost(unit)
        if cost > room:
            break
        kept.append(unit)
        room -= cost
    if not kept:
        newest = tail_units[-1]
        share = max(1, room - sum(estimate_message_tokens(m) for m in newest[:1] if len(newest) > 1))
        kept = [
            [newest[0], *(_cut(m, share) for m in newest[1:])]
            if len(newest) > 1
            else [_cut(newest[0], share)]
        ]
    return [m for unit in head_units + list(reversed(kept)) for m in unit]
