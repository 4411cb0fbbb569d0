"""The one base of every pydantic model in the package: frozen, and strict about keys.

It lives in the bottom room so that every room (and our own MCP servers) may build on it. A misspelled key
is an error, never dropped (STYLE.md §2), and a model once built is a value nobody changes under a run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["Frozen", "key_present"]


class Frozen(BaseModel):
    """A pydantic model that is frozen and forbids unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def key_present(keys: Iterable[str]) -> Callable[[Any], str | None]:
    """A tagged union's discriminator for blocks told apart by the key they hold (`{any: [...]}`,
    `{max_messages: 12}`): the first of `keys` the value has, as a built model's field or a mapping's key."""
    order = tuple(keys)

    def kind(value: Any) -> str | None:
        if isinstance(value, BaseModel):
            return next((k for k in order if k in type(value).model_fields), None)
        if isinstance(value, dict):
            return next((k for k in order if k in value), None)
        return None

    return kind
