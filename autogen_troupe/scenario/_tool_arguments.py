"""Narrower argument schemas for an MCP server's tools, declared in the scenario (`arguments:`).

A server's schema often says only "a string" where it means one of a known set (a time zone, a currency,
a city code): a small model then invents values the server refuses ("UTC+8" for Asia/Kathmandu). Narrowing
the schema lets the in-process engine and vLLM decode only allowed values, and lets every other endpoint's
call be refused before it reaches the server, with the closest allowed values for the model to retry.

`enum_file` is read when the scenario loads (a missing file is an error at its line, not at the first
call): one value per line, blank lines and lines starting with `#` skipped, relative to the scenario's folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ._base import Frozen

__all__ = ["MAX_ENUM_FILE_BYTES", "MAX_ENUM_VALUES", "ArgumentRule", "ToolArguments", "read_enum_file"]

MAX_ENUM_VALUES = 10_000  # a list the grammar compiler and the refusal message both handle at once
MAX_ENUM_FILE_BYTES = 4_000_000

JsonScalar = str | int | float | bool


class ArgumentRule(Frozen):
    """What the model may pass for one argument, on top of what the server's schema says."""

    enum: tuple[JsonScalar, ...] | None = Field(
        None, description="The only values allowed.", min_length=1, max_length=MAX_ENUM_VALUES
    )
    enum_file: str | None = Field(
        None,
        description="A text file of allowed values, one per line (blank lines and lines starting with # "
        "skipped), relative to the scenario's folder; read when the scenario loads.",
    )
    pattern: str | None = Field(None, description="A regular expression every value must match.")
    minimum: float | None = Field(None, description="The least number allowed.")
    maximum: float | None = Field(None, description="The greatest number allowed.")
    description: str | None = Field(
        None, description="What the model reads about the argument, in place of the server's words."
    )

    @model_validator(mode="before")
    @classmethod
    def _read_enum_file(cls, v: Any, info: ValidationInfo) -> Any:
        if not isinstance(v, dict) or v.get("enum_file") is None:
            return v
        if v.get("enum") is not None:
            raise ValueError("give enum or enum_file, not both")
        if not isinstance(v["enum_file"], str):
            return v  # the field's own check says what is wrong
        folder = (info.context or {}).get("folder")
        return {**v, "enum": read_enum_file(v["enum_file"], Path(folder) if folder else Path.cwd())}

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"not a regular expression: {e}") from None
        return v

    @model_validator(mode="after")
    def _sensible(self) -> ArgumentRule:
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"minimum {self.minimum} is above maximum {self.maximum}")
        if self.enum is not None and self.pattern is not None:
            misfits = [x for x in self.enum if not (isinstance(x, str) and re.search(self.pattern, x))]
            if misfits:
                raise ValueError(f"enum value {misfits[0]!r} does not match the pattern")
        bounded = self.minimum is not None or self.maximum is not None
        if not (any((self.enum, self.pattern, self.description)) or bounded):
            raise ValueError("say what is allowed: enum, enum_file, pattern, minimum, maximum or description")
        return self

    def json_schema(self) -> dict[str, Any]:
        """The keywords this rule adds to the argument's JSON schema."""
        out: dict[str, Any] = {}
        if self.enum is not None:
            out["enum"] = list(self.enum)
        for key in ("pattern", "minimum", "maximum", "description"):
            if (value := getattr(self, key)) is not None:
                out[key] = value
        return out


ToolArguments = dict[str, dict[str, ArgumentRule]]
"""Tool name (the server's) -> argument name -> rule."""


def read_enum_file(name: str, folder: Path) -> tuple[str, ...]:
    """The values listed in a text file, in order, each once; raises ValueError saying what is wrong."""
    path = folder / name
    try:
        if not path.is_file():  # a folder, a FIFO or a device would fail late or block the load
            there = "no file" if not path.exists() else "not a regular file:"
            raise ValueError(f"{there} {name!r} in {folder}")
        if path.stat().st_size > MAX_ENUM_FILE_BYTES:
            raise ValueError(
                f"{name!r} is over {MAX_ENUM_FILE_BYTES // 1_000_000} MB; a list of values is smaller"
            )
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read {name!r}: {e}") from None
    values = dict.fromkeys(s for line in text.splitlines() if (s := line.strip()) and not s.startswith("#"))
    if not values:
        raise ValueError(f"{name!r} lists no values")
    if len(values) > MAX_ENUM_VALUES:
        raise ValueError(f"{name!r} lists {len(values)} values; at most {MAX_ENUM_VALUES}")
    return tuple(values)
