"""A resolved model: how to reach it, by provider, and the request settings every call carries.

A scenario's `model:` block and a profile are flat and partial (`temperature` next to `base_url`), because
they layer on each other (scenario.ModelSpec). What `resolve_model` returns is whole and typed: one class
per provider, so an endpoint's key, a vLLM engine's parser and a cassette's path never sit on the wrong
kind, and the sampling settings in one typed field that record and replay compare.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, TypeAdapter, ValidationError

from .._redact import is_secret_name, redact_headers, redact_url
from ..errors import ProfileError
from ..scenario._base import Frozen
from ..scenario._capabilities import Capabilities
from ..scenario._schema import ModelInfoSpec

__all__ = [
    "OpenAIModel",
    "ReplayModel",
    "RequestSettings",
    "ResolvedModel",
    "VllmModel",
    "as_resolved",
    "flat",
    "is_secret_header",
    "redacted",
    "resolved_from",
    "spec_secrets",
]


class RequestSettings(Frozen):
    """What every request of a model carries besides its messages and tools (`extra_body`: vendor fields)."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: tuple[str, ...] | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    extra_body: dict[str, Any] = Field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The settings that are set, JSON-ready (stop as a list): what a cassette records and compares."""
        out = self.model_dump(exclude_none=True)
        if not out.get("extra_body"):
            out.pop("extra_body", None)
        if "stop" in out:
            out["stop"] = list(out["stop"])
        return out


class _Resolved(Frozen):
    profile: str | None = None  # the profile it started from, for messages
    model: str | None = None  # None: discovered from the endpoint's /models
    settings: RequestSettings = Field(default_factory=RequestSettings)
    context_length: int | None = None
    model_info: ModelInfoSpec | None = None
    capabilities: Capabilities | None = None  # pinned (a profile, a replay's live model); else the provider's


class OpenAIModel(_Resolved):
    """An OpenAI-compatible endpoint (vLLM's server, LMDeploy, AIOS, GenOS, GenStudio...)."""

    provider: Literal["openai"] = "openai"
    base_url: str = ""  # empty only when resolved offline for a replay
    api_key_env: str | None = None
    api_key: SecretStr | None = Field(None, repr=False)
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float | None = None
    max_retries: int | None = None
    force_tool_choice: bool | None = None  # used where `capabilities.tool_required` says it is honoured


class VllmModel(_Resolved):
    """The in-process vLLM engine."""

    provider: Literal["vllm"] = "vllm"
    tool_parser: str | None = None
    reasoning_parser: str | None = None
    chat_template: str | None = None
    force_tool_choice: bool | None = None
    engine_args: dict[str, Any] = Field(default_factory=dict)


class ReplayModel(_Resolved):
    """Answers from a recorded cassette."""

    provider: Literal["replay"] = "replay"
    cassette: str | None = None


ResolvedModel = Annotated[OpenAIModel | VllmModel | ReplayModel, Field(discriminator="provider")]

_ADAPTER: TypeAdapter[ResolvedModel] = TypeAdapter(ResolvedModel)
_SETTINGS = frozenset(RequestSettings.model_fields)
_FIELDS = {
    "openai": frozenset(OpenAIModel.model_fields),
    "vllm": frozenset(VllmModel.model_fields),
    "replay": frozenset(ReplayModel.model_fields),
}


def resolved_from(data: Mapping[str, Any]) -> ResolvedModel:
    """The typed model for flat, layered data whose `provider` is set.

    Keys of another provider are left out: a layer may carry them for the provider it was written for
    (the embedded default's engine settings under a `--base-url` override).
    """
    provider = data.get("provider")
    if provider not in _FIELDS:
        raise ValueError(f"unknown provider {provider!r}; known: {sorted(_FIELDS)}")
    fields = {k: v for k, v in data.items() if k in _FIELDS[provider] and k != "settings"}
    fields["settings"] = {k: v for k, v in data.items() if k in _SETTINGS}
    return _ADAPTER.validate_python(fields)


def as_resolved(spec: Any) -> ResolvedModel:
    """A resolved model from itself, or from a flat spec (a scenario `ModelSpec` or a mapping) that names
    its provider: what a program building a client by hand may pass."""
    if isinstance(spec, OpenAIModel | VllmModel | ReplayModel):
        return spec
    data = spec.model_dump(exclude_unset=True) if isinstance(spec, BaseModel) else dict(spec)
    if not data.get("provider"):
        raise ProfileError("the model spec names no provider; resolve it with resolve_model() first")
    try:
        return resolved_from(data)
    except ValidationError as e:
        raise ProfileError(f"the model spec is invalid: {e}") from None


def flat(model: ResolvedModel) -> dict[str, Any]:
    """The model as flat layer data again (settings beside the rest), keeping only what was set."""
    data = model.model_dump(exclude_unset=True, exclude={"settings"})
    data.update(model.settings.model_dump(exclude_unset=True))
    data["provider"] = model.provider
    return data


# --------------------------------------------------------------------------- redaction


def is_secret_header(name: str) -> bool:
    """Whether a header's value is likely a credential (Authorization, api-key, X-Auth-Token, Cookie, ...)."""
    return is_secret_name(name)


def spec_secrets(spec: ResolvedModel, env: Mapping[str, str] | None = None) -> set[str]:
    """The credential strings a resolved spec carries, as its provider knows them (an endpoint's key or
    its variable's value, secret header values and the token of "Bearer <token>", URL credentials)."""
    from ._registry import get_provider

    return get_provider(spec.provider).secrets(spec, os.environ if env is None else env)


def redacted(spec: ResolvedModel) -> dict[str, Any]:
    """The spec as plain JSON data for transcripts and exported configs, without secrets.

    The API key is dropped (its variable's name, `api_key_env`, stays), header values whose names look
    secret become "***", and credentials in the base URL (user info, secret query parameters) are masked.
    """
    data = spec.model_dump(mode="json", exclude={"api_key"}, exclude_none=True)
    data["settings"] = spec.settings.as_dict()
    if data.get("headers"):
        data["headers"] = redact_headers(data["headers"])
    if isinstance(data.get("base_url"), str):
        data["base_url"] = redact_url(data["base_url"])
    for k in ("headers", "settings", "engine_args"):
        if not data.get(k):
            data.pop(k, None)
    return data
