"""Model clients: the provider registry and the pool a run takes its clients from.

A provider is a `Provider` object (models/_provider.py) named here by import string and imported on first
use; its client's libraries load only when a client is made, so `openai` (0.3 s) or vLLM (6 s) load only
for runs that need them. Adding a provider: a module with a `Provider` subclass, and `register_provider`.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..errors import ProfileError, UsageError
from ..scenario._schema import ModelSpec
from ._provider import Provider
from ._resolved import ResolvedModel, as_resolved

if TYPE_CHECKING:
    from autogen_core.models import ChatCompletionClient

__all__ = [
    "PROVIDERS",
    "ClientFactory",
    "ClientPool",
    "create_model_client",
    "get_provider",
    "list_models",
    "register_provider",
]

log = logging.getLogger(__name__)

# Each provider's `Provider` object ("module:NAME"), imported on first use. `replay` answers from a cassette;
# it lives with the rest of replay in the tape room, which this room must not import, so it is named here
# and imported only when asked for.
PROVIDERS = {
    "openai": "autogen_troupe.models.openai._provider:PROVIDER",
    "vllm": "autogen_troupe.models.vllm._provider:PROVIDER",
    "replay": "autogen_troupe.tapes._replay_provider:PROVIDER",
}

ClientFactory = Callable[[ResolvedModel, str], "ChatCompletionClient"]


def register_provider(name: str, target: str) -> None:
    """Make provider `name` the `Provider` object at `target` ("package.module:NAME"), imported on first
    use. A scenario's `model: {provider: NAME}` then reaches it."""
    if ":" not in target:
        raise UsageError(f"a provider is registered as 'module:NAME', not {target!r}")
    PROVIDERS[name] = target


def get_provider(name: str) -> Provider:
    """Provider `name`, imported on first use. (Calling it, `get_provider(name)(spec)`, makes a client.)"""
    if name not in PROVIDERS:
        raise ProfileError(f"unknown model provider {name!r}; known: {', '.join(sorted(PROVIDERS))}")
    qualified, attribute = PROVIDERS[name].split(":")
    try:
        module = importlib.import_module(qualified)
    except ModuleNotFoundError as e:
        if e.name != qualified:
            raise  # the provider's own dependency is missing; it explains how to install it
        raise ProfileError(f"model provider {name!r} is not available in this installation") from None
    provider = getattr(module, attribute)
    if not isinstance(provider, Provider):
        raise UsageError(f"{PROVIDERS[name]} is a {type(provider).__name__}, not a Provider")
    return provider


def create_model_client(spec: ResolvedModel | ModelSpec) -> ChatCompletionClient:
    """A new client for a resolved model (see `resolve_model`). Does no network I/O: an endpoint model
    without a model id discovers it on first use, or in `ClientPool.prepare()`."""
    model = as_resolved(spec)
    return get_provider(model.provider).create_client(model)


async def list_models(spec: ResolvedModel | ModelSpec) -> list[str]:
    """The model ids a resolved model can use: the endpoint's `GET /models` list, or its model."""
    spec = as_resolved(spec)
    _remember(spec)
    return await get_provider(spec.provider).list_models(spec)


def _remember(spec: ResolvedModel) -> None:
    """Mask this spec's credentials in everything we print or write from now on."""
    from .._redact import remember_secrets
    from ._resolved import spec_secrets

    remember_secrets(spec_secrets(spec))


def _spec_key(spec: ResolvedModel) -> str:
    """Equal for specs that would build the same client (the key's value counts, hashed)."""
    data = spec.model_dump(mode="json", exclude={"api_key"})
    key = getattr(spec, "api_key", None)  # an endpoint's; other providers have none
    if key is not None:
        data["api_key"] = hashlib.sha256(key.get_secret_value().encode()).hexdigest()
    return json.dumps(data, sort_keys=True, default=str)


@runtime_checkable
class _Preparable(Protocol):
    """A client of ours with set-up to finish before the first message (an engine, a model id)."""

    async def ensure_model(self) -> None: ...


class ClientPool:
    """The model clients of one run: one per distinct resolved spec, so agents on one model share it.

    `factory(spec, agent_name)` replaces `create_model_client`; it is the seam for tests and replay.
    With a factory, or for `replay` specs, each agent gets its own client (scripted and recorded
    answers belong to one agent); `per_agent` forces either way.
    """

    def __init__(self, factory: ClientFactory | None = None, *, per_agent: bool | None = None) -> None:
        self._factory = factory
        self._per_agent = per_agent
        self._clients: dict[tuple[str, str], ChatCompletionClient] = {}
        self._closed = False

    def _key(self, spec: ResolvedModel, agent: str) -> tuple[str, str]:
        per_agent = self._per_agent
        if per_agent is None:
            per_agent = self._factory is not None or not get_provider(spec.provider).shares_clients
        return _spec_key(spec), agent if per_agent else ""

    def spec_for(self, agent: str, resolve: Callable[..., ResolvedModel]) -> ResolvedModel:
        """The agent's model as the scenario and the run's settings say (a `ClientSource` method)."""
        return resolve()

    def get(self, spec: ResolvedModel | None, agent_name: str) -> ChatCompletionClient:
        """The client for `agent_name` using `spec`, made on first request."""
        if self._closed:
            raise RuntimeError("this ClientPool is closed")
        if spec is None:  # a ClientSource may be asked with None; this pool's own spec_for never gives it
            raise UsageError("a ClientPool makes clients for a resolved model, and none was given")
        key = self._key(spec, agent_name)
        _remember(spec)
        client = self._clients.get(key)
        if client is None:
            client = self._factory(spec, agent_name) if self._factory else create_model_client(spec)
            self._clients[key] = client
        return client

    @property
    def clients(self) -> list[ChatCompletionClient]:
        return list(dict.fromkeys(self._clients.values()))

    async def prepare(self) -> None:
        """Finish setting clients up before the first message (discover model ids from /models), so a
        wrong endpoint fails before the run starts rather than at the first agent's turn."""
        waits = [c.ensure_model() for c in self.clients if isinstance(c, _Preparable)]
        if waits:
            await asyncio.gather(*waits)

    async def aclose(self) -> None:
        """Close every client once; a failure to close is logged, not raised."""
        self._closed = True
        clients, self._clients = self.clients, {}
        for client in clients:
            try:
                await client.close()
            except Exception as e:  # closing must not hide the run's own outcome
                log.debug("closing model client %r failed: %s", type(client).__name__, e)

    async def __aenter__(self) -> ClientPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
