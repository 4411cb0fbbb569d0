"""The `openai` provider: AutoGen's `OpenAIChatCompletionClient` for any OpenAI-compatible endpoint.

What it adds to autogen-ext 0.7.5 (see FACTS.md):

- `model_info` is always passed (inferred from the model id), so "model_info is required" never happens;
- streamed requests ask for `stream_options.include_usage`, so streamed usage is not 0/0 (unless the
  profile's capabilities say the endpoint cannot: `troupe probe`); a server that still reports none
  (autogen #6548) has its tokens estimated (`_counted`), so token budgets fire;
- `force_tool_choice` turns "auto" into "required", as on the in-process engine, where the capabilities
  say the endpoint honours "required" (models/_capabilities.py);
- a wire normaliser (`_wire`, an httpx transport) copies vLLM's `reasoning` to the `reasoning_content`
  AutoGen reads, and turns GenStudio's `"blocked": true` into an error raised as `ContentBlocked`;
- a 200 answer that is no answer (an HTML page, an empty or cut body, no choices, a stream that stops
  before its finish reason, an empty reply: see `_answers`) is retried when that may help, then raised
  as a `ModelCallError`, never handed on as a message;
- every request goes through `_http`'s clients: redirects only within one origin, a ceiling on
  `Retry-After`;
- the model id is discovered from `GET /models` when the profile gives none (`_discovery`);
- openai SDK errors become one-paragraph `ModelCallError`s (status, URL without query, the server's
  message) that never hold the API key (`_errors`), and the dumped component config holds no key either.

The SDK keeps its own retries, which only repeat safe cases: connection errors, timeouts, 408/409/429/5xx,
and the transient faults above while nothing of a stream has been passed on yet. Error messages count the
attempts really made.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any, Literal, cast

import openai
from autogen_core import CancellationToken
from autogen_core.models import CreateResult, LLMMessage, RequestUsage
from autogen_core.tools import Tool, ToolSchema
from autogen_ext.models.openai import OpenAIChatCompletionClient
from autogen_ext.models.openai.config import OpenAIClientConfigurationConfigModel
from pydantic import BaseModel, SecretStr
from typing_extensions import Self

from ..._autogen import private
from ..._redact import safe_url
from ..._text import estimate_tokens
from ...errors import ModelCallError, ProfileError
from ...scenario._schema import ModelInfoSpec
from .._capabilities import UNKNOWN, Capabilities, forces_tool_choice
from .._endpoints import normalize_base_url
from .._network import check_endpoint
from .._resolved import OpenAIModel, as_resolved, is_secret_header
from .._shown_tools import shown_tool, template_kwargs
from ._discovery import adiscover_model, key_for
from ._errors import translate_error
from ._provider import PROVIDER
from ._wire import DEFAULT_TIMEOUT_S, PLACEHOLDER_API_KEY, http_client

__all__ = ["TroupeOpenAIClient", "TroupeOpenAIConfig", "create_client"]

_UNDISCOVERED = "(discovered from /models on first use)"


class TroupeOpenAIConfig(OpenAIClientConfigurationConfigModel):
    """The dumped configuration: no API key (only the variable's name), secret headers masked."""

    api_key_env: str | None = None
    extra_body: dict[str, Any] | None = None
    discover: bool | None = None  # the model id is asked from GET /models on first use
    capabilities: dict[str, Any] | None = None  # what the endpoint can do (models/_capabilities.py)
    force_tool_choice: bool | None = None


# Reasoning text seen while one create_stream call runs (the stream's own task context).
_stream_reasoning: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "troupe_stream_reasoning", default=None
)


class TroupeOpenAIClient(OpenAIChatCompletionClient):
    """AutoGen's OpenAI client made robust for OpenAI-compatible servers (vLLM, LMDeploy, gateways).

    Adds usage when streaming, keeps reasoning under either field name, raises moderation blocks and HTTP
    failures as autogen-troupe errors, discovers the model id lazily, and dumps no API key.
    """

    component_provider_override = (
        "autogen_troupe.models.openai.TroupeOpenAIClient"  # a public face: stays when files move
    )
    component_config_schema = TroupeOpenAIConfig

    def __init__(
        self,
        *,
        extra_body: Mapping[str, Any] | None = None,
        api_key_env: str | None = None,
        discover: bool = False,
        given_model_info: ModelInfoSpec | None = None,
        capabilities: Capabilities | None = None,
        force_tool_choice: bool | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("api_key", PLACEHOLDER_API_KEY)
        timeout = kwargs.get("timeout")
        kwargs["http_client"] = http_client(timeout)
        super().__init__(**kwargs)
        self._raw_config.pop("http_client", None)
        self._resolved_model = None  # AutoGen's OpenAI model-name mapping does not apply here
        self._extra_body = dict(extra_body or {})
        self._api_key_env = api_key_env
        self._discover = discover
        self._given_info = given_model_info
        self._capabilities = capabilities or UNKNOWN
        self._force_tool_choice = force_tool_choice
        self._discovery_lock: asyncio.Lock | None = None
        self._secret = str(kwargs["api_key"])
        self._base_url = str(kwargs.get("base_url") or "")
        self._timeout_s = float(timeout or DEFAULT_TIMEOUT_S)
        retries = kwargs.get("max_retries")
        self._retries = 2 if retries is None else int(retries)  # the openai SDK's default

    # ------------------------------------------------------------------ model

    @property
    def model(self) -> str | None:
        """The model id requests go to (None until discovered)."""
        return None if self._discover else self._create_args["model"]

    async def ensure_model(self) -> str:
        """Discover the model id from `GET /models` once, if the profile named none."""
        if self._discover:
            if self._discovery_lock is None:
                self._discovery_lock = asyncio.Lock()
            async with self._discovery_lock:
                if self._discover:
                    headers = self._raw_config.get("default_headers") or {}
                    model = await adiscover_model(
                        self._base_url, headers, self._secret, min(self._timeout_s, 30.0)
                    )
                    self._create_args["model"] = model
                    self._raw_config["model"] = model
                    self._model_info = PROVIDER.model_info(model, given=self._given_info)
                    self._discover = False
        return self._create_args["model"]

    # ------------------------------------------------------------------ requests

    def _with_extra_body(self, extra_create_args: Mapping[str, Any] | None) -> dict[str, Any]:
        args = dict(extra_create_args or {})
        if self._extra_body or "extra_body" in args:
            args["extra_body"] = {**self._extra_body, **(args.get("extra_body") or {})}
        return args

    def _structured(
        self, json_output: bool | type[BaseModel] | None, args: dict[str, Any]
    ) -> bool | type[BaseModel] | None:
        """A model class as `json_output` becomes a plain `response_format: json_schema` (what vLLM's server
        reads); AutoGen would take the openai SDK's beta parse path, whose result AutoGen logs with a
        pydantic serializer warning on every call."""
        if isinstance(json_output, type) and issubclass(json_output, BaseModel):
            schema = {"name": json_output.__name__, "schema": json_output.model_json_schema(), "strict": True}
            args["response_format"] = {"type": "json_schema", "json_schema": schema}
            return None
        return json_output

    def _decided(
        self,
        messages: Sequence[LLMMessage],
        tools: Sequence[Tool | ToolSchema],
        choice: Tool | Literal["auto", "required", "none"],
        args: dict[str, Any],
    ) -> tuple[Sequence[Tool | ToolSchema], Tool | Literal["auto", "required", "none"]]:
        """The call's tools and tool choice: "required", with every schema strict (vLLM constrains a
        required call's arguments only for strict tools), where `forces_tool_choice` says so.

        A long list of allowed values (models/_shown_tools.py) is said, not sent, unless the call is
        forced on an endpoint with `template_tools` (vLLM's server): there `tools` keeps the whole list
        for the grammar and `chat_template_kwargs.tools` (in `args`) gives the prompt the short form."""
        forced = forces_tool_choice(self._capabilities, self._force_tool_choice, messages, tools, choice)
        schemas = [t.schema if isinstance(t, Tool) else t for t in tools]
        if forced and self._capabilities.template_tools:
            body = args.get("extra_body") or {}
            entries = [{"type": "function", "function": {**s, "strict": True}} for s in schemas]
            if (kwargs := template_kwargs(entries, body.get("chat_template_kwargs"))) is not None:
                args["extra_body"] = {**body, "chat_template_kwargs": kwargs}
        else:
            shown = [shown_tool(s) for s in schemas]
            if any(a is not b for a, b in zip(shown, schemas, strict=True)):
                tools = schemas = shown
        if not forced:
            return tools, choice
        strict = [{**s, "strict": True} for s in schemas]
        return cast("list[ToolSchema]", strict), "required"

    def _translate(self, e: BaseException) -> ModelCallError:
        return translate_error(
            e,
            url=safe_url(self._base_url),
            secret=self._secret,
            key_env=self._api_key_env,
            retries=self._retries,
            timeout_s=self._timeout_s,
        )

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = (),
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] | None = None,
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        check_endpoint(self._base_url)
        await self.ensure_model()
        args = self._with_extra_body(extra_create_args)
        json_output = self._structured(json_output, args)
        tools, tool_choice = self._decided(messages, tools, tool_choice, args)
        try:
            result = await super().create(
                messages,
                tools=tools,
                tool_choice=tool_choice,
                json_output=json_output,
                extra_create_args=args,
                cancellation_token=cancellation_token,
            )
            return _counted(result, messages, 0)
        except openai.OpenAIError as e:
            raise self._translate(e) from None

    async def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = (),
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] | None = None,
        cancellation_token: CancellationToken | None = None,
        max_consecutive_empty_chunk_tolerance: int = 0,
        include_usage: bool | None = None,
    ) -> AsyncGenerator[str | CreateResult, None]:
        check_endpoint(self._base_url)
        await self.ensure_model()
        args = self._with_extra_body(extra_create_args)
        json_output = self._structured(json_output, args)
        tools, tool_choice = self._decided(messages, tools, tool_choice, args)
        if (
            include_usage is None
            and "stream_options" not in args
            and self._capabilities.stream_usage is not False
        ):
            include_usage = True  # 0.7.5 sends no stream_options: usage would come back as 0/0
        elif include_usage is False:
            include_usage = None  # 0.7.5 turns any non-None value into include_usage: true
        reasoning: list[str] = []
        pieces = 0  # streamed text pieces: about a token each, when the server counts none
        token = _stream_reasoning.set(reasoning)
        try:
            async for item in super().create_stream(
                messages,
                tools=tools,
                tool_choice=tool_choice,
                json_output=json_output,
                extra_create_args=args,
                cancellation_token=cancellation_token,
                max_consecutive_empty_chunk_tolerance=max_consecutive_empty_chunk_tolerance,
                include_usage=include_usage,
            ):
                if isinstance(item, CreateResult):
                    item = _counted(item, messages, pieces)
                    if reasoning:
                        item = _with_reasoning(item, "".join(reasoning))
                else:
                    pieces += 1
                yield item
        except openai.OpenAIError as e:
            raise self._translate(e) from None
        finally:
            _stream_reasoning.reset(token)

    async def _create_stream_chunks(self, *args: Any, **kwargs: Any) -> AsyncGenerator[Any, None]:
        seen = _stream_reasoning.get()
        async for chunk in super()._create_stream_chunks(*args, **kwargs):
            if seen is not None and chunk.choices:
                extra = chunk.choices[0].delta.model_extra or {}
                if isinstance(extra.get("reasoning_content"), str):
                    seen.append(extra["reasoning_content"])
            yield chunk

    # ------------------------------------------------------------------ config and pickling

    def _to_config(self) -> TroupeOpenAIConfig:
        cfg = dict(self._raw_config)
        cfg.pop("api_key", None)
        cfg.pop("http_client", None)
        if cfg.get("default_headers"):
            cfg["default_headers"] = {
                k: "***" if is_secret_header(k) else v for k, v in cfg["default_headers"].items()
            }
        return TroupeOpenAIConfig(
            **cfg,
            api_key_env=self._api_key_env,
            extra_body=self._extra_body or None,
            discover=True if self._discover else None,
            capabilities=self._capabilities.model_dump(exclude_none=True) or None,
            force_tool_choice=self._force_tool_choice,
        )

    @classmethod
    def _from_config(cls, config: OpenAIClientConfigurationConfigModel) -> Self:
        data = config.model_dump(exclude_none=True)
        key_env = data.pop("api_key_env", None)
        extra_body = data.pop("extra_body", None)
        discover = bool(data.pop("discover", False))
        caps = data.pop("capabilities", None)
        force = data.pop("force_tool_choice", None)
        key = config.api_key.get_secret_value() if isinstance(config.api_key, SecretStr) else None
        if not key or set(key) == {"*"}:
            key = os.environ.get(key_env, "").strip() if key_env else ""
        data["api_key"] = key or PLACEHOLDER_API_KEY
        if data.get("default_headers"):
            data["default_headers"] = {k: v for k, v in data["default_headers"].items() if v != "***"}
        return cls(
            extra_body=extra_body,
            api_key_env=key_env,
            discover=discover,
            capabilities=Capabilities.model_validate(caps) if caps else None,
            force_tool_choice=force,
            **data,
        )

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        config = {k: v for k, v in self._raw_config.items() if k != "http_client"}
        config["http_client"] = http_client(config.get("timeout"))
        self._client = private("_openai_client_from_config")(config)
        self._discovery_lock = None


def _counted(result: CreateResult, messages: Sequence[LLMMessage], pieces: int) -> CreateResult:
    """`result` with its usage estimated when the server reported none (0/0): a stream without a usage
    chunk though we asked for one, or a server that never counts. High estimates (`_text.estimate_tokens`),
    so a token budget fires early rather than never."""
    if result.usage.prompt_tokens or result.usage.completion_tokens:
        return result
    prompt = 0
    for m in messages:
        content = getattr(m, "content", "")
        text = content if isinstance(content, str) else json.dumps(content, default=str, ensure_ascii=False)
        prompt += 8 + estimate_tokens(text)  # 8: the role markers a chat template adds
    answer = result.content
    said = (
        answer
        if isinstance(answer, str)
        else json.dumps([[c.name, c.arguments] for c in answer], ensure_ascii=False)
    )
    completion = max(pieces, estimate_tokens(said) if said else 0)
    return result.model_copy(
        update={"usage": RequestUsage(prompt_tokens=prompt, completion_tokens=completion)}
    )


def _with_reasoning(result: CreateResult, reasoning: str) -> CreateResult:
    """Keep the exact reasoning text: 0.7.5 drops it beside tool calls and strips letters off its ends."""
    if isinstance(result.content, list):
        thought = f"{reasoning}\n\n{result.thought}" if result.thought else reasoning
    else:
        thought = reasoning
    return result.model_copy(update={"thought": thought})


# --------------------------------------------------------------------------- factory


def create_client(spec: OpenAIModel | Any) -> TroupeOpenAIClient:
    """An AutoGen client for a resolved endpoint model; does no I/O (discovery waits for use)."""
    spec = as_resolved(spec)
    if not isinstance(spec, OpenAIModel):
        raise ProfileError(f"this provider takes OpenAIModel models, not {spec.provider!r} ones")
    if not spec.base_url:
        raise ProfileError(
            f"model profile {spec.profile or 'inline'!r} uses provider 'openai' but has no base_url"
        )
    check_endpoint(spec.base_url)
    request = spec.settings.as_dict()
    extra_body = request.pop("extra_body", {})
    kwargs: dict[str, Any] = {
        "model": spec.model or _UNDISCOVERED,
        "base_url": normalize_base_url(spec.base_url),
        "api_key": key_for(spec) or PLACEHOLDER_API_KEY,
        "model_info": PROVIDER.model_info(spec.model, given=spec.model_info),
        **request,
    }
    if spec.headers:
        kwargs["default_headers"] = dict(spec.headers)
    if spec.max_retries is not None:
        kwargs["max_retries"] = spec.max_retries
    if spec.timeout_s is not None:
        kwargs["timeout"] = spec.timeout_s
    return TroupeOpenAIClient(
        extra_body=extra_body,
        api_key_env=spec.api_key_env,
        discover=spec.model is None,
        given_model_info=spec.model_info,
        capabilities=PROVIDER.capabilities(spec),
        force_tool_choice=spec.force_tool_choice,
        **kwargs,
    )
