"""The `expect` block: what a correct run must show (stop reason, speakers, tool calls, counts, tokens)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ._base import Frozen
from ._fields import CountOrZero, Tokens, _fail, _Shorthand
from ._output_schema import check_expected_outputs

__all__ = [
    "AgentExpectation",
    "ApprovalExpectation",
    "CallExpectation",
    "CountRange",
    "Expect",
    "FieldExpectation",
    "PathExpectation",
    "SpeakersExpectation",
    "TextExpectation",
    "ToolCallsExpectation",
    "check_expected_names",
]


class TextExpectation(Frozen):
    equals: str | None = None
    contains: str | None = None
    regex: str | None = None

    @model_validator(mode="after")
    def _one(self) -> TextExpectation:
        if sum(x is not None for x in (self.equals, self.contains, self.regex)) == 0:
            raise ValueError("give one of equals, contains or regex")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as e:
                raise ValueError(f"regex {self.regex!r} does not compile: {e}") from None
        return self


class SpeakersExpectation(_Shorthand):
    """Who spoke, by the source of each chat message (the task counts as `user`). A list means `exact`."""

    @classmethod
    def _short_schema(cls, full: dict[str, Any]) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "string"}}

    exact: tuple[str, ...] | None = Field(None, description="Exactly these speakers, in this order.")
    first: str | None = None
    last: str | None = None
    set: tuple[str, ...] | None = Field(None, description="Exactly these speakers, in any order and number.")
    includes: tuple[str, ...] | None = Field(None, description="At least these speakers.")

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, v: Any) -> Any:
        return {"exact": v} if isinstance(v, list | tuple) else v

    @model_validator(mode="after")
    def _some(self) -> SpeakersExpectation:
        if all(getattr(self, k) is None for k in ("exact", "first", "last", "set", "includes")):
            raise ValueError("give at least one of exact, first, last, set or includes")
        return self


class PathExpectation(_Shorthand):
    """The nodes a graph team ran, in the order they started. A list means `exact`."""

    @classmethod
    def _short_schema(cls, full: dict[str, Any]) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "string"}}

    exact: tuple[str, ...] | None = Field(None, description="Exactly this path.")
    subsequence: tuple[str, ...] | None = Field(
        None, description="These nodes in this order, others allowed between them."
    )

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, v: Any) -> Any:
        return {"exact": v} if isinstance(v, list | tuple) else v

    @model_validator(mode="after")
    def _some(self) -> PathExpectation:
        if self.exact is None and self.subsequence is None:
            raise ValueError("give exact or subsequence")
        return self


class CountRange(Frozen):
    min: CountOrZero | None = None
    max: CountOrZero | None = None

    @model_validator(mode="after")
    def _ordered(self) -> CountRange:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class CallExpectation(_Shorthand):
    name: str
    arguments: dict[str, Any] = Field(
        default_factory=dict, description="A subset the call's arguments must hold."
    )
    agent: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, v: Any) -> Any:
        return {"name": v} if isinstance(v, str) else v


class ToolCallsExpectation(_Shorthand):
    """Tool calls the run made. A list means `calls` with order `subset`."""

    @classmethod
    def _short_schema(cls, full: dict[str, Any]) -> dict[str, Any]:
        return {"type": "array", "items": full["properties"]["calls"]["items"]}

    calls: tuple[CallExpectation, ...] = ()
    order: Literal["strict", "unordered", "subset", "superset"] = Field(
        "subset",
        description="strict: exactly these calls in this order; unordered: exactly these in any order; "
        "subset: at least these (others allowed); superset: none but these, each any number of times "
        "(some may not happen).",
    )

    count: CountRange | None = Field(
        None, description="How many tool calls in all (e.g. `{max: 5}`: at most five)."
    )
    per_tool: dict[str, CountRange] = Field(
        default_factory=dict, description="How many calls of each named tool (e.g. `{search: {max: 2}}`)."
    )

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, v: Any) -> Any:
        return {"calls": v} if isinstance(v, list | tuple) else v


class FieldExpectation(Frozen):
    """One field of an agent's structured answer (its last one), named by a dotted path (`days.0.city`)."""

    equals: Any = Field(None, description="The field's value is exactly this (JSON equality).")
    contains: Any = Field(
        None, description="Text: holds this substring; a list: holds an item equal to this."
    )
    regex: str | None = Field(None, description="Text that matches this (re.search).")
    min_items: CountOrZero | None = Field(None, description="A list (or text, or object) at least this long.")
    max_items: CountOrZero | None = Field(None, description="A list (or text, or object) at most this long.")
    present: bool | None = Field(None, description="true: the field is there (not null); false: it is not.")

    @model_validator(mode="after")
    def _some(self) -> FieldExpectation:
        keys = ("equals", "contains", "regex", "min_items", "max_items", "present")
        if not any(k in self.model_fields_set for k in keys):
            raise ValueError("give at least one of " + ", ".join(keys))
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as e:
                raise ValueError(f"regex {self.regex!r} does not compile: {e}") from None
        return self


class AgentExpectation(Frozen):
    messages: CountRange | None = None
    contains: str | None = Field(None, description="One of the agent's messages contains this.")
    regex: str | None = Field(None, description="One of the agent's messages matches this (re.search).")
    tool_calls: ToolCallsExpectation | None = None
    output: dict[str, FieldExpectation] | None = Field(
        None,
        description="Fields of the agent's last structured answer (output_schema), by dotted path "
        "(`days`, `days.0.city`).",
    )

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"regex {v!r} does not compile: {e}") from None
        return v


GuardName = Literal[
    "repeated_tool_call",
    "repeated_message",
    "max_tool_calls",
    "max_tool_calls_per_tool",
    "max_engine_seconds",
    "max_total_tokens",
]
"""The stable names of the guards (`agents._guards`), as `guard` entries of a transcript carry them."""


class ApprovalExpectation(_Shorthand):
    """The person's (or the scenario's) decision on every call of one tool that needed approval (`approve:
    ask` or `deny`). A word means `decision`."""

    @classmethod
    def _short_schema(cls, full: dict[str, Any]) -> dict[str, Any]:
        return {"enum": ["allowed", "denied", "none"]}

    decision: Literal["allowed", "denied", "none"] = Field(
        description="allowed: every such call was allowed (at least one); denied: every one refused; none: "
        "no call of the tool needed a decision."
    )
    by: Literal["person", "scenario", "nobody"] | None = Field(
        None,
        description="Who decided: the person; the scenario (approve: deny); nobody (no answer in time, or "
        "nobody to ask). Unset: anyone.",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_word(cls, v: Any) -> Any:
        return {"decision": v} if isinstance(v, str) else v

    @model_validator(mode="after")
    def _fits(self) -> ApprovalExpectation:
        if self.decision == "none" and self.by is not None:
            raise ValueError("`by` names who decided; with decision none nobody did")
        if self.decision == "allowed" and self.by not in (None, "person"):
            raise ValueError(f"only the person allows a call that asks, not {self.by!r}")
        return self


class Expect(Frozen):
    """What a correct run must show; checked by `troupe test` and the pytest plugin."""

    stop_reason: TextExpectation | None = None
    speakers: SpeakersExpectation | None = None
    path: PathExpectation | None = Field(None, description="Graph teams: the nodes run, in order.")
    tool_calls: ToolCallsExpectation | None = None
    messages: CountRange | None = Field(None, description="Number of chat messages, the task included.")
    final_message: TextExpectation | None = None
    max_total_tokens: Tokens | None = Field(None, description="Prompt plus completion tokens of the run.")
    no_tool_errors: bool = False
    guards: tuple[GuardName, ...] | None = Field(
        None, description="Exactly these guards stopped the run, in any order ([]: none did)."
    )
    approvals: dict[str, ApprovalExpectation] | None = Field(
        None,
        description="Tool approvals, by the tool's name as the agent sees it: `{shred: denied}`, "
        "`{shred: {decision: denied, by: person}}`.",
    )
    agents: dict[str, AgentExpectation] = Field(default_factory=dict)


def _expected_speakers(expect: Expect):
    """(path, name) of every agent name an `expect` block mentions outside `agents`."""
    sp = expect.speakers
    if sp is not None:
        for key in ("exact", "set", "includes"):
            for i, n in enumerate(getattr(sp, key) or ()):
                yield ("expect", "speakers", key, i), n
        for key in ("first", "last"):
            if getattr(sp, key) is not None:
                yield ("expect", "speakers", key), getattr(sp, key)
    if expect.path is not None:
        for key in ("exact", "subsequence"):
            for i, n in enumerate(getattr(expect.path, key) or ()):
                yield ("expect", "path", key, i), n
    groups = [(("expect", "tool_calls"), expect.tool_calls)] + [
        (("expect", "agents", a, "tool_calls"), e.tool_calls) for a, e in expect.agents.items()
    ]
    for base, tc in groups:
        for i, c in enumerate(tc.calls if tc is not None else ()):
            if c.agent is not None:
                yield (*base, "calls", i, "agent"), c.agent


def check_expected_names(expect: Expect | None, agents: Any) -> None:
    """What `expect` names that the team must have: output fields (`check_expected_outputs`), and tools
    under `approvals` the team can call: a located error for a name
    none of them has, where the scenario names its tools (every MCP use lists them in `allow`, or no agent
    uses an MCP server); otherwise only the run can tell (`testing._expect_approvals`)."""
    check_expected_outputs(expect, agents)
    if expect is None or not expect.approvals:
        return
    uses = [u for a in agents for u in a.mcp]
    if any(u.allow is None for u in uses):
        return
    names = sorted({u.rename.get(n, n) for u in uses for n in u.allow or ()})
    for tool in expect.approvals:
        if tool not in names:
            offered = ", ".join(names) if names else "none: no agent uses an MCP server"
            raise _fail(
                f"approvals names tool {tool!r}, which no agent can call (MCP tools: {offered})",
                "expect",
                "approvals",
                tool,
            )
