"""Structured answers on endpoints that cannot decode under a schema: validate, repair once, then a clear
error.

AutoGen asks for a structured answer by passing the agent's output model as `json_output`. Where the model
facts say `structured_output: true` (vLLM servers, the in-process engine) that reaches the endpoint as
`response_format: json_schema` and the answer is decoded under the schema. Elsewhere AutoGen's OpenAI
client would refuse the call, and a free answer would fail deep in AutoGen as a pydantic traceback; here
the schema goes into the system message instead, the answer is validated, a wrong one is shown its
validation error in one more request, and a second wrong one is a `StructuredOutputError` naming the agent
and the field. An answer decoded under the schema is checked the same way: a server that ignores
`response_format` (or a profile that says it decodes) would fail deep in AutoGen too.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from autogen_core.models import (
    AssistantMessage,
    CreateResult,
    LLMMessage,
    RequestUsage,
    SystemMessage,
    UserMessage,
)
from pydantic import BaseModel, ValidationError

from ..errors import ModelCallError, StructuredOutputError
from ..tapes._hooks import delegating_client

__all__ = ["structured_answers"]

_FENCE = re.compile(r"^```(?:json)?\s*\n?(.*?)\n?```$", re.DOTALL)


def structured_answers(client: Any, agent: str, *, owned: bool = False) -> Any:
    """`client`, answering structured calls (json_output=<model>) under the schema even where its model
    cannot decode under one (see the module docstring); every other call passes through. `owned`: closing
    it closes `client` (else whoever made `client` closes it)."""
    return delegating_client(_Repairing(client, agent, owned))


def _schema_note(model: type[BaseModel]) -> str:
    schema = json.dumps(model.model_json_schema(), ensure_ascii=False)
    return f"Answer with only one JSON object, no other text, that follows this JSON Schema:\n{schema}"


def _with_schema(messages: Sequence[LLMMessage], model: type[BaseModel]) -> list[LLMMessage]:
    note = _schema_note(model)
    first = messages[0] if messages else None
    if isinstance(first, SystemMessage):
        return [SystemMessage(content=f"{first.content}\n\n{note}"), *messages[1:]]
    return [SystemMessage(content=note), *messages]


def _problem(model: type[BaseModel], text: str) -> tuple[str, str, str] | None:
    """(JSON text, field, reason) of an answer that breaks the schema, or None when it follows it."""
    body = text.strip()
    fenced = _FENCE.match(body)
    body = fenced.group(1).strip() if fenced else body
    try:
        model.model_validate_json(body)
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "(the whole answer)"
        return body, where, str(err["msg"])
    return None


def _cleaned(model: type[BaseModel], result: CreateResult) -> tuple[CreateResult, tuple[str, str] | None]:
    if not isinstance(result.content, str):
        return result, None  # tool calls: AutoGen runs them, and asks again
    problem = _problem(model, result.content)
    if problem is None:
        body = result.content.strip()
        fenced = _FENCE.match(body)
        return result.model_copy(update={"content": fenced.group(1).strip() if fenced else body}), None
    return result, problem[1:]


def _summed(first: CreateResult, second: CreateResult) -> CreateResult:
    usage = RequestUsage(
        prompt_tokens=first.usage.prompt_tokens + second.usage.prompt_tokens,
        completion_tokens=first.usage.completion_tokens + second.usage.completion_tokens,
    )
    return second.model_copy(update={"usage": usage})


class _Repairing:
    def __init__(self, inner: Any, agent: str, owned: bool) -> None:
        self._inner = inner
        self._agent = agent
        self._owned = owned

    def _model(self, kw: dict[str, Any]) -> type[BaseModel] | None:
        out = kw.get("json_output")
        return out if isinstance(out, type) and issubclass(out, BaseModel) else None

    def _plan(
        self, messages: Sequence[LLMMessage], kw: dict[str, Any], model: type[BaseModel]
    ) -> tuple[list[LLMMessage], dict[str, Any]]:
        """What to ask: as AutoGen asks where the endpoint decodes under the schema (its answer is still
        checked: a server may ignore `response_format`, or say it decodes when it does not); else the
        schema in the system message, and JSON mode where the model has it."""
        if self._inner.model_info.get("structured_output", False):
            return list(messages), kw
        json_mode = bool(self._inner.model_info.get("json_output")) and not kw.get("tools")
        return _with_schema(messages, model), {**kw, "json_output": True if json_mode else None}

    def _repair(self, asked: list[LLMMessage], answer: str, field: str, reason: str) -> list[LLMMessage]:
        return [
            *asked,
            AssistantMessage(content=answer, source=self._agent),
            UserMessage(
                content=f"That answer does not follow the JSON Schema: at {field}: {reason}. Answer again "
                "with only the corrected JSON object.",
                source="user",
            ),
        ]

    def _fail(self, field: str, reason: str) -> StructuredOutputError:
        return StructuredOutputError(self._agent, field, reason)

    async def create(self, messages: Sequence[LLMMessage], **kw: Any) -> CreateResult:
        model = self._model(kw)
        if model is None:
            return await self._inner.create(messages, **kw)
        asked, kw = self._plan(messages, kw, model)
        first = await self._inner.create(asked, **kw)
        result, problem = _cleaned(model, first)
        if problem is None:
            return result
        second = await self._inner.create(self._repair(asked, str(first.content), *problem), **kw)
        result, problem = _cleaned(model, second)
        if problem is not None:
            raise self._fail(*problem)
        return _summed(first, result)

    async def create_stream(
        self, messages: Sequence[LLMMessage], **kw: Any
    ) -> AsyncGenerator[str | CreateResult, None]:
        model = self._model(kw)
        if model is None:
            async for item in self._inner.create_stream(messages, **kw):
                yield item
            return
        asked, kw = self._plan(messages, kw, model)
        first: CreateResult | None = None
        async for item in self._inner.create_stream(asked, **kw):
            if isinstance(item, CreateResult):
                first = item
            else:
                yield item
        if first is None:
            raise ModelCallError("the answer's stream ended without its final result")
        result, problem = _cleaned(model, first)
        if problem is None:
            yield result
            return
        second: CreateResult | None = None
        async for item in self._inner.create_stream(self._repair(asked, str(first.content), *problem), **kw):
            if isinstance(item, CreateResult):
                second = item
            else:
                yield item
        if second is None:
            raise ModelCallError("the answer's stream ended without its final result")
        result, problem = _cleaned(model, second)
        if problem is not None:
            raise self._fail(*problem)
        yield _summed(first, result)

    async def close(self) -> None:
        if self._owned:
            await self._inner.close()

    def __getattr__(self, name: str) -> Any:  # usage counters, model_info, count_tokens...
        return getattr(self._inner, name)
