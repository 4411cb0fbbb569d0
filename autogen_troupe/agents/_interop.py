"""What the AutoGen component export and import share: the notes they give about parts they could not
carry over exactly, the label that marks the run's caps, and the providers a plain AutoGen loads.

AutoGen's unreleased provider allow-list (microsoft/autogen #7463) makes `load_component` refuse a
provider module outside `autogen_core`, `autogen_agentchat`, `autogen_ext` and `autogenstudio` unless
`AUTOGEN_ALLOWED_PROVIDER_NAMESPACES` names it; an export uses only the first three, so it stays loadable.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .._redact import is_secret_name, redact_argv, redact_text

__all__ = [
    "ALLOWED_NAMESPACES",
    "LIMITS_LABEL",
    "MODEL_CLIENT",
    "Note",
    "components",
    "keys_masked",
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


_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")  # `${VAR}`: names a key, holds none
_VARIABLE = re.compile(r"[A-Z_][A-Z0-9_]*")  # an environment variable's name (an MCP server's env)


def keys_masked(data: Any, at: tuple[str | int, ...] = ()) -> tuple[Any, list[tuple[str | int, ...]]]:
    """A copy of `data` with every key written in it masked, and where each was: a value under a
    secret-looking name (`GITHUB_TOKEN`, `api_key`) that is not a `${VAR}` reference, a key by shape in a
    string (`https://user:pass@host`, `?api_key=`), a command line's `--token X`. Neither direction
    copies a key from one file into the other: it stays in the environment."""
    found: list[tuple[str | int, ...]] = []

    def walk(v: Any, here: tuple[str | int, ...]) -> Any:
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                named = isinstance(k, str) and is_secret_name(k) and isinstance(x, str) and x
                if named and not _REFERENCE.fullmatch(x.strip()):
                    found.append((*here, k))
                    out[k] = "${" + k + "}" if _VARIABLE.fullmatch(k) else "***"  # env: read it there
                else:
                    out[k] = walk(x, (*here, k))
            return out
        if isinstance(v, list):
            items = [walk(x, (*here, i)) for i, x in enumerate(v)]
            if all(isinstance(x, str) for x in items):
                argv = redact_argv(items)
                found.extend((*here, i) for i, (a, b) in enumerate(zip(items, argv, strict=True)) if a != b)
                return argv
            return items
        if isinstance(v, str):
            masked = redact_text(v)
            if masked != v:
                found.append(here)
            return masked
        return v

    return walk(data, at), found
