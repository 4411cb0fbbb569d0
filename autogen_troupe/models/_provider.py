"""What a provider is: everything troupe knows about one way of reaching a model, in one object.

A provider (the OpenAI-compatible endpoint, the in-process vLLM engine, a recorded cassette) builds its
AutoGen client, lists the models it can use, says what AutoGen is told about a model (`ModelInfo`), how
long a context the model takes, which secrets a resolved spec carries, and what a model call's trace span
says. Before, each of these was a branch on the provider's name in a different module; now adding a
provider is one module with a `Provider` subclass and one line in `_registry.PROVIDERS`.

Provider modules import only this base and cheap model facts at module level: the provider object is
looked up on every run, but its client's libraries (openai, vLLM) load only when a client is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, cast

from ..telemetry._facts import ChatFacts
from ._facts import infer_model_info, model_info_keys
from ._resolved import ResolvedModel

if TYPE_CHECKING:
    from autogen_core.models import ChatCompletionClient, ModelInfo

    from ..scenario._capabilities import Capabilities

__all__ = ["Provider"]


class Provider:
    """One way of reaching a model. Subclasses set `name` and `create_client`; the rest has defaults that
    fit a provider which keeps its model in this process (a scripted or recorded one)."""

    name: ClassVar[str]
    # Whether agents on the same model share one client: a recorded or scripted client answers one agent.
    shares_clients: ClassVar[bool] = True

    def create_client(self, spec: ResolvedModel, agent: str | None = None) -> ChatCompletionClient:
        """A new AutoGen client for `spec`; no network I/O (a model id is discovered on first use)."""
        raise NotImplementedError

    def __call__(self, spec: ResolvedModel) -> ChatCompletionClient:
        """`get_provider(name)(spec)`, as `get_provider` returned a factory function before 0.2."""
        return self.create_client(spec)

    async def list_models(self, spec: ResolvedModel) -> list[str]:
        """The model ids this spec can use; by default the one it names."""
        return [spec.model] if spec.model else []

    def describe(self, spec: ResolvedModel) -> list[str]:
        """What this provider would choose for `spec` and why, one line each (`troupe models --verbose`)."""
        return []

    def model_info(
        self, model_id: str | None, *, tool_parser: str | None = None, given: Any = None
    ) -> ModelInfo:
        """What AutoGen is told about the model: inferred from its id, every field set in `given` (a
        `ModelInfoSpec` or a mapping) winning."""
        return self._with_given(infer_model_info(model_id), given)

    def context_length(self, spec: ResolvedModel) -> int | None:
        """Tokens the model takes (prompt plus answer), when known."""
        return spec.context_length

    def capabilities(self, spec: ResolvedModel) -> Capabilities:
        """What the model's endpoint can do (see `_capabilities`): what the spec pins, else nothing known."""
        from ._capabilities import UNKNOWN

        return spec.capabilities or UNKNOWN

    def secrets(self, spec: ResolvedModel, env: Mapping[str, str]) -> set[str]:
        """The credential strings `spec` carries (masked everywhere once a run uses it)."""
        return set()

    def chat_facts(self, spec: ResolvedModel) -> ChatFacts:
        """What a model call's span says before it starts. In this process by default: nothing leaves it."""
        return ChatFacts(self.name, spec.model, in_process=True, settings=spec.settings.as_dict())

    @staticmethod
    def _with_given(info: dict[str, Any], given: Any) -> ModelInfo:
        if isinstance(given, Mapping):
            info.update({k: v for k, v in given.items() if v is not None})
        elif given is not None:
            info.update({k: v for k in model_info_keys() if (v := getattr(given, k)) is not None})
        return cast("ModelInfo", info)  # built key by key, with ModelInfo's keys (as infer_model_info's)
