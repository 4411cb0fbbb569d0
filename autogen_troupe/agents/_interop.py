"""What the AutoGen component export and import share: the notes they give about parts they could not
carry over exactly, the label that marks the run's caps, and the providers a plain AutoGen loads.

AutoGen's unreleased provider allow-list (microsoft/autogen #7463) makes `load_component` refuse a
provider module outside `autogen_core`, `autogen_agentchat`, `autogen_ext` and `autogenstudio` unless
`AUTOGEN_ALLOWED_PROVIDER_NAMESPACES` names it; an export uses only the first three, so it stays loadable.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ALLOWED_NAMESPACES",
    "LIMITS_LABEL",
    "MODEL_CLIENT",
    "Note",
    "components",
    "provider_class",
]

ALLOWED_NAMESPACES = ("autogen_core.", "autogen_agentchat.", "autogen_ext.")
LIMITS_LABEL = "troupe limits"
"""The label of the condition that holds the scenario's `limits` (max_messages | timeout), so an import
reads them back as limits and not as the team's own rule."""
MODEL_CLIENT = "autogen_ext.models.openai.OpenAIChatCompletionClient"


@dataclass(frozen=True)
class Note:
    """A part carried over to its nearest equivalent, or not at all: `where` is its place in the scenario
    (`team.agents[1].answer_timeout_s`) or in the component file (`config.participants[0]...`); `lost`
    says the field's value does not come back on a round trip."""

    where: str
    message: str
    lost: bool = False

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def provider_class(provider: str) -> str:
    """`autogen_agentchat.teams.RoundRobinGroupChat` (or AutoGen's short alias) → `RoundRobinGroupChat`."""
    return provider.rsplit(".", 1)[-1]


def components(
    data: Any, at: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """Every component (a dict with a `provider`) in a dumped tree, with its path."""
    if isinstance(data, dict):
        if isinstance(data.get("provider"), str):
            yield at, data
        for k, v in data.items():
            yield from components(v, (*at, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from components(v, (*at, i))
