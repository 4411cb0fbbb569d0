"""From AutoGen's arguments to what the engine takes: vLLM's `ChatCompletionRequest`, then the prompt, the
sampling parameters and the output parser, built by vLLM's own serving pieces as `vllm serve` builds them
for the same OpenAI-style body.

`force_tool_choice` (for models too small to decide, e.g. SmolLM2-135M, which never calls a tool when
left free) turns `tool_choice="auto"` into "required" and makes every tool schema strict, except when
the conversation's last message is already a tool result, so the agent can answer with what the tool
gave it. AutoGen's reflection call after a tool ran passes no tools and `tool_choice="none"`, so it is
never forced either.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

from autogen_core.models import FunctionExecutionResultMessage, LLMMessage, ModelInfo
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel, ValidationError

from ...errors import InvalidModelRequest, ModelCallError
from .._shown_tools import template_kwargs
from ._engine import EngineHandle, import_vllm
from ._messages import to_openai_messages

if TYPE_CHECKING:
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
    from vllm.inputs.engine import DecoderEngineInput
    from vllm.renderers.online_renderer import OnlineRenderer

    from ._client import VllmClientConfig

__all__ = ["ToolChoice", "build_request", "render", "should_force"]

ToolChoice = Tool | Literal["auto", "required", "none"]

# Per-call overrides accepted in `extra_create_args`; `extra_body` holds any other vLLM request field.
_CREATE_ARGS = frozenset(
    {
        "temperature",
        "top_p",
        "top_k",
        "min_p",
        "max_tokens",
        "max_completion_tokens",
        "seed",
        "stop",
        "presence_penalty",
        "frequency_penalty",
        "repetition_penalty",
        "chat_template_kwargs",
        "extra_body",
    }
)
_SAMPLING = ("temperature", "top_p", "max_tokens", "seed", "stop", "frequency_penalty", "presence_penalty")
_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")


def should_force(
    config: VllmClientConfig, messages: Sequence[LLMMessage], tools: Sequence[Any], choice: ToolChoice
) -> bool:
    """Whether `force_tool_choice` turns this call's "auto" into "required" (see the module docstring)."""
    return (
        config.force_tool_choice
        and bool(tools)
        and choice == "auto"
        and not (messages and isinstance(messages[-1], FunctionExecutionResultMessage))
    )


def build_request(
    config: VllmClientConfig,
    model_info: ModelInfo,
    messages: Sequence[LLMMessage],
    *,
    tools: Sequence[Tool | ToolSchema],
    tool_choice: ToolChoice,
    json_output: bool | type[BaseModel] | None,
    extra_create_args: Mapping[str, Any],
    stream: bool,
) -> ChatCompletionRequest:
    """The request `vllm serve` would make of the same OpenAI-style body; a wrong argument raises
    InvalidModelRequest (a ValueError, as AutoGen's own clients raise)."""
    schemas = _checked_tools(model_info, tools, tool_choice, extra_create_args)
    if should_force(config, messages, tools, tool_choice):
        tool_choice = "required"
    body: dict[str, Any] = {
        "model": config.model,
        "messages": to_openai_messages(messages, vision=model_info["vision"]),
        "stream": stream,
    }
    body.update(_sampling(config, extra_create_args))
    if "max_tokens" in body:  # vLLM deprecates max_tokens in favour of this one
        body.setdefault("max_completion_tokens", body.pop("max_tokens"))
    if schemas and tool_choice != "none":  # "none": the template sees no tools at all
        body["tools"] = [_tool_entry(s, strict=config.force_tool_choice) for s in schemas]
        # the template renders what the model reads (models/_shown_tools.py); the grammar, built from
        # `tools`, still takes every allowed value
        if (kwargs := template_kwargs(body["tools"], body.get("chat_template_kwargs"))) is not None:
            body["chat_template_kwargs"] = kwargs
        body["tool_choice"] = (
            {"type": "function", "function": {"name": tool_choice.schema["name"]}}
            if isinstance(tool_choice, Tool)
            else tool_choice
        )
    if (response_format := _response_format(json_output)) is not None:
        body["response_format"] = response_format  # vLLM decodes under it (StructuredOutputsParams)

    import_vllm()  # a no-op once loaded; keeps our env defaults ahead of any vLLM import
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest

    try:
        return ChatCompletionRequest.model_validate(body)
    except ValidationError as e:
        raise InvalidModelRequest(f"invalid request for vLLM: {e}") from None


def _checked_tools(
    model_info: ModelInfo,
    tools: Sequence[Tool | ToolSchema],
    tool_choice: ToolChoice,
    extra_create_args: Mapping[str, Any],
) -> list[ToolSchema]:
    """The tools' schemas, once the call's arguments are known to make sense together."""
    unknown = set(extra_create_args) - _CREATE_ARGS
    if unknown:
        known = sorted(_CREATE_ARGS)
        raise InvalidModelRequest(f"unknown extra_create_args {sorted(unknown)}; known: {known}")
    if tools and not model_info["function_calling"]:
        raise InvalidModelRequest("this model has no tool parser (model_info function_calling is false)")
    schemas = [t.schema if isinstance(t, Tool) else t for t in tools]
    names = [s["name"] for s in schemas]
    for name in names:
        if not _NAME.match(name):
            raise InvalidModelRequest(f"invalid tool name {name!r}: use letters, digits, '_' and '-'")
    if isinstance(tool_choice, Tool):
        if tool_choice.schema["name"] not in names:
            chosen = tool_choice.schema["name"]
            raise InvalidModelRequest(f"tool_choice names {chosen!r}, which is not among {names}")
    elif tool_choice == "required" and not tools:
        raise InvalidModelRequest("tool_choice 'required' needs tools")
    return schemas


def _sampling(config: VllmClientConfig, extra_create_args: Mapping[str, Any]) -> dict[str, Any]:
    """Request fields, later ones winning: the client's settings, its `extra_body`, then the call's."""
    out = {key: value for key in _SAMPLING if (value := getattr(config, key)) is not None}
    out.update(config.extra_body)
    extra = dict(extra_create_args)
    out.update(extra.pop("extra_body", None) or {})
    out.update(extra)
    return out


def _tool_entry(schema: ToolSchema, *, strict: bool) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": schema["name"],
            "description": schema.get("description", ""),
            "parameters": schema.get("parameters", {"type": "object", "properties": {}}),
            "strict": strict or bool(schema.get("strict", False)),
        },
    }


def _response_format(json_output: bool | type[BaseModel] | None) -> dict[str, Any] | None:
    if json_output is True:
        return {"type": "json_object"}
    if isinstance(json_output, type) and issubclass(json_output, BaseModel):
        return {
            "type": "json_schema",
            "json_schema": {
                "name": json_output.__name__,
                "schema": json_output.model_json_schema(),
                "strict": True,
            },
        }
    if json_output not in (None, False):
        raise InvalidModelRequest(f"json_output must be a bool or a pydantic model class: {json_output!r}")
    return None


async def render(
    handle: EngineHandle, renderer: OnlineRenderer, request: ChatCompletionRequest
) -> tuple[Any, Any, Any]:
    """(engine input, sampling params, parser or None) for a request, as vLLM's server builds them."""
    from vllm.entrypoints.serve.engine.protocol import ErrorResponse
    from vllm.entrypoints.serve.utils.api_utils import get_max_tokens

    try:
        rendered = await renderer.render_chat(request)
    except Exception as e:  # template errors, prompt longer than the context...
        hint = " Shorten the conversation or raise engine_args.max_model_len." if "context" in str(e) else ""
        raise ModelCallError(f"vLLM could not prepare the prompt: {type(e).__name__}: {e}{hint}") from e
    if isinstance(rendered, ErrorResponse):
        raise ModelCallError(f"vLLM refused the request: {rendered.error.message}")
    _, engine_inputs = rendered
    # vLLM types it as any engine input; a decoder-only chat model's prompt is tokens (multimodal with
    # images), never encoder-decoder or embeddings
    engine_input = cast("DecoderEngineInput", engine_inputs[0])
    defaults = handle.default_sampling_params
    try:
        max_tokens = get_max_tokens(
            handle.max_model_len,
            request.max_completion_tokens,
            len(engine_input["prompt_token_ids"]),
            defaults,
        )
    except ValueError as e:
        raise ModelCallError(f"{e} Shorten the conversation or raise engine_args.max_model_len.") from None
    params = request.to_sampling_params(max_tokens, defaults)
    parser = None
    if renderer.parser is not None:
        parser = renderer.parser(
            handle.llm.renderer.get_tokenizer(),
            request.tools,  # type: ignore[arg-type]  # vLLM's own server passes it so; Parser wants list[Tool]
            chat_template_kwargs=renderer.effective_chat_template_kwargs(request),
            model_config=handle.llm.model_config,
        )
    return engine_input, params, parser
