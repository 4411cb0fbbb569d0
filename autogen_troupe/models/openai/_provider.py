"""The `openai` provider: any OpenAI-compatible endpoint, as a `Provider` (see models/_provider.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from ..._redact import is_secret_name, secrets_in_text
from ...telemetry._facts import ChatFacts, host_port
from .._provider import Provider
from .._resolved import OpenAIModel, ResolvedModel

if TYPE_CHECKING:
    from ._client import TroupeOpenAIClient

__all__ = ["PROVIDER", "OpenAIProvider"]


class OpenAIProvider(Provider):
    """An endpoint reached over HTTP: its models listed by `GET /models`, its credentials its key, secret
    headers and URL tokens, its spans CLIENT spans naming the server."""

    name: ClassVar[str] = "openai"

    def create_client(self, spec: ResolvedModel, agent: str | None = None) -> TroupeOpenAIClient:
        from ._client import create_client

        return create_client(spec)

    async def list_models(self, spec: ResolvedModel) -> list[str]:
        from ._discovery import list_models

        assert isinstance(spec, OpenAIModel)  # the registry hands each provider its own kind
        return await list_models(spec)

    def secrets(self, spec: ResolvedModel, env: Mapping[str, str]) -> set[str]:
        if not isinstance(spec, OpenAIModel):
            return set()
        out: set[str] = set()
        if spec.api_key is not None:
            out.add(spec.api_key.get_secret_value())
        if spec.api_key_env and env.get(spec.api_key_env):
            out.add(env[spec.api_key_env])
        for k, v in spec.headers.items():
            if is_secret_name(k):
                out.update((v, v.split(" ", 1)[-1]))
            out.update(secrets_in_text(f"{k}: {v}"))
        if spec.base_url:
            out.update(secrets_in_text(spec.base_url))
        return {s.strip() for s in out if s and s.strip()}

    def chat_facts(self, spec: ResolvedModel) -> ChatFacts:
        host, port = (
            host_port(spec.base_url) if isinstance(spec, OpenAIModel) and spec.base_url else (None, None)
        )
        return ChatFacts(self.name, spec.model, host, port, settings=spec.settings.as_dict())


PROVIDER = OpenAIProvider()
