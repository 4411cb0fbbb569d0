"""Guards against a run that goes round in circles or spends too much: the loop breakers and tool-call
budgets as termination rules, and the run's `limits:` (the caps every run gets, loop breakers on by
default). `_rules` joins the rules into its union; `_schema` re-exports `Limits`."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from ._base import Frozen
from ._fields import (
    DEFAULT_MAX_MESSAGES,
    DEFAULT_TIMEOUT_S,
    MAX_MESSAGES,
    Count,
    Seconds,
    Tokens,
    _Bounded,
    _Shorthand,
)

__all__ = [
    "DEFAULT_REPEATED_MESSAGE",
    "DEFAULT_REPEATED_TOOL_CALL",
    "Limits",
    "MaxToolCalls",
    "MessageRepeat",
    "RepeatedMessage",
    "RepeatedToolCall",
]

Times = Annotated[int, _Bounded(int, 2, MAX_MESSAGES)]
"""How many in a row make a loop: at least two."""


class MessageRepeat(_Shorthand):
    """When an agent's messages count as one message said again: `times` in a row (its own messages;
    others may speak between), each at least `similarity` alike to its previous one (1.0: the same text
    once case, spacing and punctuation are set aside). A number alone is `times`."""

    times: Times = 3
    similarity: float = Field(
        0.95, gt=0, le=1, description="0-1: difflib's ratio of the two normalised texts (1.0: equal)."
    )

    @model_validator(mode="before")
    @classmethod
    def _from_times(cls, v: Any) -> Any:
        return {"times": v} if isinstance(v, int) and not isinstance(v, bool) else v

    @classmethod
    def _short_schema(cls, full: dict[str, Any]) -> dict[str, Any]:
        return {"type": "integer", "minimum": 2}


DEFAULT_REPEATED_TOOL_CALL = 3
DEFAULT_REPEATED_MESSAGE = MessageRepeat(times=5, similarity=0.95)  # fewer can be a refrain ("APPROVE")


class RepeatedToolCall(Frozen):
    repeated_tool_call: Times = Field(
        description="Stop once the same tool is called with the same arguments this many times in a row."
    )


class RepeatedMessage(Frozen):
    repeated_message: MessageRepeat = Field(
        description="Stop once an agent says (nearly) the same thing this many times in a row."
    )


class MaxToolCalls(Frozen):
    max_tool_calls: Count = Field(description="Stop once this many tool calls were made.")
    tool: str | None = Field(
        None, min_length=1, description="Count only this tool's calls (as the agent sees it)."
    )


class Limits(Frozen):
    """Caps that bound every run, whatever the termination rule says; `null` turns a loop breaker off."""

    max_messages: Count = DEFAULT_MAX_MESSAGES
    timeout_s: Seconds = DEFAULT_TIMEOUT_S
    max_total_tokens: Tokens | None = Field(
        None, description="Prompt plus completion tokens of the run (counted when a stream reports none)."
    )
    max_tool_calls: Count | None = Field(None, description="Tool calls of the whole run.")
    max_tool_calls_per_tool: dict[str, Count] = Field(
        default_factory=dict, description="Tool name (as the agents see it) -> most calls of it."
    )
    max_engine_seconds: Seconds | None = Field(
        None, description="Seconds the in-process engine spent on the run's requests (GPU seconds on a GPU)."
    )
    repeated_tool_call: Times | None = Field(
        DEFAULT_REPEATED_TOOL_CALL,
        description="The same tool call with the same arguments this many times in a row stops the run.",
    )
    repeated_message: MessageRepeat | None = Field(
        DEFAULT_REPEATED_MESSAGE, description="An agent saying (nearly) the same thing again stops the run."
    )
