"""The one base of every pydantic model in the package: frozen, and strict about keys.

It lives in the bottom room so that every room (and our own MCP servers) may build on it. A misspelled key
is an error, never dropped (STYLE.md §2), and a model once built is a value nobody changes under a run.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Frozen"]


class Frozen(BaseModel):
    """A pydantic model that is frozen and forbids unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")
