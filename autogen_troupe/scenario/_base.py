"""The frozen pydantic base every model of the package's records and results builds on."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Frozen"]


class Frozen(BaseModel):
    """Immutable, and a misspelled field is an error, never dropped."""

    model_config = ConfigDict(frozen=True, extra="forbid")
