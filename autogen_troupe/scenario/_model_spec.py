"""How a scenario names its model: a profile name, or a block of provider, endpoint and request settings
(the model spec); re-exported by `_schema`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr

from ._base import Frozen
from ._capabilities import Capabilities
from ._fields import CompletionTokens, ContextTokens, Finite, HeaderValue, Retries, Seconds, Seed

__all__ = ["ModelInfoSpec", "ModelRef", "ModelSpec"]


class ModelInfoSpec(Frozen):
    """AutoGen `ModelInfo` fields; any left out are inferred from the model id."""

    vision: bool | None = None
    function_calling: bool | None = None
    json_output: bool | None = None
    structured_output: bool | None = None
    family: str | None = None


class ModelSpec(Frozen):
    """A model to use: a provider, how to reach it and request settings.

    `profile` names a profile (built-in preset or the user's file) to start from; every other field set
    here overrides it.
    """

    profile: str | None = None
    provider: Literal["openai", "vllm", "replay"] | None = None
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = Field(None, description="Name of the environment variable holding the API key.")
    api_key: SecretStr | None = Field(None, description="Only for the user's profile file; never ship keys.")
    headers: dict[str, HeaderValue] = Field(default_factory=dict)
    extra_body: dict[str, Any] = Field(default_factory=dict)
    temperature: Finite | None = None
    top_p: Finite | None = None
    max_tokens: CompletionTokens | None = None
    seed: Seed | None = None
    stop: tuple[str, ...] | None = None
    frequency_penalty: Finite | None = None
    presence_penalty: Finite | None = None
    context_length: ContextTokens | None = Field(
        None, description="Tokens the model takes (prompt plus answer); sizes every agent's context."
    )
    timeout_s: Seconds | None = None
    max_retries: Retries | None = None
    model_info: ModelInfoSpec | None = None
    capabilities: Capabilities | None = Field(None, description="What the endpoint can do (troupe probe).")
    # In-process vLLM only.
    tool_parser: str | None = None
    reasoning_parser: str | None = None
    chat_template: str | None = None
    force_tool_choice: bool | None = Field(
        None, description="Turn tool_choice 'auto' into 'required' for models too small to decide."
    )  # also on an endpoint whose capabilities say it honours 'required'
    engine_args: dict[str, Any] = Field(default_factory=dict)
    # Replay only.
    cassette: str | None = None


ModelRef = Annotated[str | ModelSpec, Field(union_mode="left_to_right")]
