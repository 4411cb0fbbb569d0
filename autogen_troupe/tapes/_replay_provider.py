"""The `replay` provider: a recorded cassette, as a `Provider` (see models/_provider.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ..models._provider import Provider
from ..models._resolved import ReplayModel, ResolvedModel
from ..telemetry._facts import ChatFacts

if TYPE_CHECKING:
    from autogen_core.models import ChatCompletionClient

__all__ = ["PROVIDER", "ReplayProvider"]


class ReplayProvider(Provider):
    """Answers recorded per agent, so agents do not share a client; nothing leaves the process, and the
    provider that was recorded is named on the span when the cassette answers."""

    name: ClassVar[str] = "replay"
    shares_clients: ClassVar[bool] = False

    def create_client(self, spec: ResolvedModel, agent: str | None = None) -> ChatCompletionClient:
        from ._replay import create_client

        assert isinstance(spec, ReplayModel)  # the registry hands each provider its own kind
        client: Any = create_client(spec, agent)
        return client  # a ReplayClient: a ChatCompletionClient in all but its base class

    def chat_facts(self, spec: ResolvedModel) -> ChatFacts:
        return ChatFacts(None, spec.model, in_process=True, settings=spec.settings.as_dict())


PROVIDER = ReplayProvider()
