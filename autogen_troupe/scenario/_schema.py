"""The scenario file format: pydantic models are its only definition.

Imports no autogen, openai, mcp or vllm code, so `troupe check` and `troupe schema` stay fast.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Discriminator,
    Field,
    GetJsonSchemaHandler,
    PrivateAttr,
    SecretStr,
    Tag,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ._base import Frozen

__all__ = [
    "DEFAULT_MAX_MESSAGES",
    "DEFAULT_TIMEOUT_S",
    "MAX_MESSAGES",
    "MAX_NAME_LENGTH",
    "MAX_RULE_DEPTH",
    "MAX_TIMEOUT_S",
    "Agent",
    "AgentExpectation",
    "AllOf",
    "AnyOf",
    "CallExpectation",
    "CountRange",
    "Expect",
    "HandoffRule",
    "HttpServer",
    "Limits",
    "MaxMessages",
    "McpServer",
    "McpUse",
    "ModelContext",
    "ModelInfoSpec",
    "ModelRef",
    "ModelSpec",
    "PythonToolUse",
    "Scenario",
    "SourceMatch",
    "SpeakersExpectation",
    "StdioServer",
    "Team",
    "TermRule",
    "TextExpectation",
    "TextMention",
    "Timeout",
    "TokenUsage",
    "ToolCallsExpectation",
    "iter_rules",
    "scenario_name_from",
]

DEFAULT_MAX_MESSAGES = 40
DEFAULT_TIMEOUT_S = 600.0
MAX_MESSAGES = 10_000  # documented maxima (README): a cap must be finite and worth having
MAX_TIMEOUT_S = 86_400.0  # one day
MAX_TOKENS = 1_000_000_000  # a run's token budget
MAX_COMPLETION_TOKENS = 10_000_000  # one model answer
MAX_NAME_LENGTH = 64  # scenario names become file names; agent names go to the API's `name` (64 at most)
MAX_RULE_DEPTH = 10  # any/all rules nested in each other

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IMPORT_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _bounded(kind: type, low: float, high: float, *, low_open: bool = False, unit: str = "") -> Any:
    """A number type with finite bounds whose every error states the allowed range.

    `true`/`false` are refused (pydantic would read them as 1/0), as are inf, nan and overflowing values.
    """
    noun = ("a valid integer" if kind is int else "a number") + (f" of {unit}" if unit else "")
    span = (
        f"greater than {_num(low)} and at most {_num(high)}"
        if low_open
        else f"from {_num(low)} to {_num(high)}"
    )
    message = f"must be {noun} {span}"

    def check(v: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if isinstance(v, bool):
            raise PydanticCustomError("out_of_range", message + ", not {got}", {"got": str(v).lower()})
        try:
            return handler(v)
        except ValidationError:
            raise PydanticCustomError(
                "out_of_range", message + " (got {got})", {"got": repr(v)[:40]}
            ) from None

    low_bound = Field(gt=low) if low_open else Field(ge=low)
    extra = (Field(allow_inf_nan=False),) if kind is float else ()
    return Annotated[(kind, low_bound, Field(le=high), *extra, WrapValidator(check))]


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _not_bool(v: Any) -> Any:
    if isinstance(v, bool):
        raise PydanticCustomError("not_a_number", "must be a number, not {got}", {"got": str(v).lower()})
    return v


Count = _bounded(int, 1, MAX_MESSAGES)  # messages, turns
CountOrZero = _bounded(int, 0, MAX_MESSAGES)
Seconds = _bounded(float, 0, MAX_TIMEOUT_S, low_open=True, unit="seconds")
Tokens = _bounded(int, 1, MAX_TOKENS)
CompletionTokens = _bounded(int, 1, MAX_COMPLETION_TOKENS)
Seed = _bounded(int, -(2**63), 2**63 - 1)
Retries = _bounded(int, 0, 100)
ToolIterations = _bounded(int, 1, 1000)
Finite = Annotated[float, BeforeValidator(_not_bool), Field(allow_inf_nan=False)]
ContextTokens = _bounded(int, 1, MAX_TOKENS)
ContextMessages = _bounded(int, 1, MAX_MESSAGES)  # messages a model context keeps


def scenario_name_from(stem: str) -> str:
    """A valid scenario name from a file name: other characters become `_`, cut to the length cap."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", stem)
    return (name if _SAFE_NAME.match(name) else "_" + name)[:MAX_NAME_LENGTH]


# Header values: numbers are written unquoted in vendors' guides (GenOS `x-genos-user-id: 653`).
HeaderValue = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int | float) else v)]


class _Shorthand(Frozen):
    """A model that also accepts a short form (a name, a list); its JSON Schema says so, so that editors
    using `troupe schema` accept the short forms the bundled scenarios use."""

    @classmethod
    def _short_schema(cls, full: dict[str, Any]) -> dict[str, Any]:
        return {"type": "string"}

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: GetJsonSchemaHandler) -> Any:
        ref = handler(core_schema)
        full = handler.resolve_ref_schema(ref)
        if "anyOf" not in full:
            body = dict(full)
            full.clear()
            full["anyOf"] = [cls._short_schema(body), body]
        return ref


def _fail(message: str, *at: str | int) -> PydanticCustomError:
    """An error for a rule spanning fields; `at` is the path (below the model) of the offending value."""
    return PydanticCustomError("invalid_reference", message.replace("{", "(").replace("}", ")"), {"at": at})


# --------------------------------------------------------------------------- models


class ModelInfoSpec(Frozen):
    """AutoGen `ModelInfo` fields; any left out are inferred from the model id."""

    vision: bool | None = None
    function_calling: bool | None = None
    json_output: bool | None = None
    structured_output: bool | None = None
    family: str | None = None


class ModelSpec(Frozen):
    """A model to use: a provider, how to reach it and request settings.

    `profile` names a profile (built-in preset or the user's file) to start from; every other field set
    here overrides it.
    """

    profile: str | None = None
    provider: Literal["openai", "vllm", "replay"] | None = None
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = Field(None, description="Name of the environment variable holding the API key.")
    api_key: SecretStr | None = Field(None, description="Only for the user's profile file; never ship keys.")
    headers: dict[str, HeaderValue] = Field(default_factory=dict)
    extra_body: dict[str, Any] = Field(default_factory=dict)
    temperature: Finite | None = None
    top_p: Finite | None = None
    max_tokens: CompletionTokens | None = None
    seed: Seed | None = None
    stop: tuple[str, ...] | None = None
    frequency_penalty: Finite | None = None
    presence_penalty: Finite | None = None
    context_length: ContextTokens | None = Field(
        None, description="Tokens the model takes (prompt plus answer); sizes every agent's context."
    )
    timeout_s: Seconds | None = None
    max_retries: Retries | None = None
    model_info: ModelInfoSpec | None = None
    # In-process vLLM only.
    tool_parser: str | None = None
    reasoning_parser: str | None = None
    chat_template: str | None = None
    force_tool_choice: bool | None = Field(
        None, description="Turn tool_choice 'auto' into 'required' for models too small to decide."
    )
    engine_args: dict[str, Any] = Field(default_factory=dict)
    # Replay only.
    cassette: str | None = None


ModelRef = Annotated[str | ModelSpec, Field(union_mode="left_to_right")]


# --------------------------------------------------------------------------- model contexts


class TokenLimitedContext(Frozen):
    """The task and the newest messages that fit in `max_tokens` (estimated)."""

    kind: Literal["token_limited"] = "token_limited"
    max_tokens: ContextTokens | None = Field(
        None, description="Default: the model's context length minus its answer, system message and tools."
    )


class BufferedContext(Frozen):
    """The last `last` messages."""

    kind: Literal["buffered"] = "buffered"
    last: ContextMessages


class HeadAndTailContext(Frozen):
    """The first `head` and the last `tail` messages."""

    kind: Literal["head_and_tail"] = "head_and_tail"
    head: CountOrZero
    tail: ContextMessages


class UnboundedContext(Frozen):
    """Every message, even past the model's context length."""

    kind: Literal["unbounded"] = "unbounded"


ModelContext = Annotated[
    TokenLimitedContext | BufferedContext | HeadAndTailContext | UnboundedContext,
    Field(discriminator="kind"),
]


# --------------------------------------------------------------------------- MCP servers


class StdioServer(Frozen):
    """An MCP server started as a child process speaking over stdin/stdout."""

    kind: Literal["stdio"] = "stdio"
    command: str = Field(min_length=1)
    args: tuple[str, ...] = ()
    env: dict[str, str] = Field(default_factory=dict, description="Variables set for the child.")
    pass_env: tuple[str, ...] = Field((), description="Names of our environment variables the child may see.")
    cwd: str | None = None
    startup_timeout_s: Seconds = 30.0
    call_timeout_s: Seconds = 60.0


class HttpServer(Frozen):
    """An MCP server reached over streamable HTTP."""

    kind: Literal["http"] = "http"
    url: str
    headers: dict[str, HeaderValue] = Field(default_factory=dict)
    startup_timeout_s: Seconds = 30.0
    call_timeout_s: Seconds = 60.0

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("must be an http:// or https:// URL")
        return v


def _server_kind(v: Any) -> str:
    if isinstance(v, dict):
        return v.get("kind") or ("http" if "url" in v else "stdio")
    return getattr(v, "kind", "stdio")


McpServer = Annotated[
    Annotated[StdioServer, Tag("stdio")] | Annotated[HttpServer, Tag("http")],
    Discriminator(_server_kind),
]


class McpUse(_Shorthand):
    """An agent's use of a named MCP server, with optional per-agent tool controls."""

    server: str
    allow: tuple[str, ...] | None = Field(None, description="Only these tools (names as the server says).")
    deny: tuple[str, ...] = ()
    rename: dict[str, str] = Field(
        default_factory=dict, description="Server tool name -> name the agent sees."
    )
    call_timeout_s: Seconds | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, v: Any) -> Any:
        return {"server": v} if isinstance(v, str) else v


class PythonToolUse(_Shorthand):
    """A plain Python function used as a tool, named by import path `package.module:function`."""

    ref: str
    name: str | None = None
    description: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_ref(cls, v: Any) -> Any:
        return {"ref": v} if isinstance(v, str) else v

    @field_validator("ref")
    @classmethod
    def _import_ref(cls, v: str) -> str:
        if not _IMPORT_REF.match(v):
            raise ValueError(f"{v!r} is not an import path of the form 'package.module:function'")
        return v


# --------------------------------------------------------------------------- termination rules


class TextMention(Frozen):
    text_mention: str = Field(min_length=1)
    sources: tuple[str, ...] | None = None


class MaxMessages(Frozen):
    max_messages: Count


class TokenUsage(Frozen):
    token_usage: Tokens = Field(description="Stop once this many tokens (prompt + completion) are used.")


class Timeout(Frozen):
    timeout_s: Seconds


class HandoffRule(Frozen):
    handoff: str = Field(min_length=1, description="Stop when an agent hands off to this target.")


class SourceMatch(Frozen):
    source_match: tuple[str, ...] = Field(min_length=1)


class AnyOf(Frozen):
    any: tuple[TermRule, ...] = Field(min_length=1)


class AllOf(Frozen):
    all: tuple[TermRule, ...] = Field(min_length=1)


_RULE_KEYS = {
    "text_mention": "text_mention",
    "max_messages": "max_messages",
    "token_usage": "token_usage",
    "timeout_s": "timeout_s",
    "handoff": "handoff",
    "source_match": "source_match",
    "any": "any",
    "all": "all",
}


def _rule_kind(v: Any) -> str | None:
    if isinstance(v, BaseModel):
        return next(k for k in _RULE_KEYS if k in type(v).model_fields)
    if isinstance(v, dict):
        return next((k for k in _RULE_KEYS if k in v), None)
    return None


TermRule = Annotated[
    Annotated[TextMention, Tag("text_mention")]
    | Annotated[MaxMessages, Tag("max_messages")]
    | Annotated[TokenUsage, Tag("token_usage")]
    | Annotated[Timeout, Tag("timeout_s")]
    | Annotated[HandoffRule, Tag("handoff")]
    | Annotated[SourceMatch, Tag("source_match")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[AllOf, Tag("all")],
    Discriminator(
        _rule_kind,
        custom_error_type="unknown_rule",
        custom_error_message="a termination rule needs one of: " + ", ".join(_RULE_KEYS),
    ),
]

AnyOf.model_rebuild()
AllOf.model_rebuild()


def iter_rules(rule: TermRule):
    """Yield a rule and every rule nested in it."""
    for _, r in _walk_rules(rule, ()):
        yield r


def _walk_rules(rule: TermRule, path: tuple[str | int, ...]):
    yield path, rule
    key = "any" if isinstance(rule, AnyOf) else "all" if isinstance(rule, AllOf) else None
    if key:
        for i, child in enumerate(getattr(rule, key)):
            yield from _walk_rules(child, (*path, key, i))


def _shallow_rules(v: Any) -> Any:
    """Refuse any/all rules nested more than MAX_RULE_DEPTH deep, before validation recurses into them."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(v, ())]
    while stack:
        rule, at = stack.pop()
        if not isinstance(rule, dict):
            continue
        for key in ("any", "all"):
            children = rule.get(key)
            if isinstance(children, list | tuple):
                if sum(1 for p in at if p in ("any", "all")) >= MAX_RULE_DEPTH:
                    raise _fail(f"termination rules nest more than {MAX_RULE_DEPTH} levels deep", *at, key)
                stack.extend((c, (*at, key, i)) for i, c in enumerate(children))
    return v


# --------------------------------------------------------------------------- team


class Agent(Frozen):
    name: str
    description: str = "An agent that provides assistance with ability to use tools."
    system_message: str | None = Field(None, description="Left out: AutoGen's default assistant prompt.")
    model: ModelRef | None = Field(None, description="Overrides the scenario's model for this agent.")
    tools: tuple[PythonToolUse, ...] = ()
    mcp: tuple[McpUse, ...] = ()
    reflect_on_tool_use: bool | None = None
    max_tool_iterations: ToolIterations = 1
    handoffs: tuple[str, ...] = Field(
        (), description="Swarm only: agents (or 'user') this one may hand off to."
    )
    stream: bool = Field(True, description="Stream tokens from the model as they come.")
    model_context: ModelContext | None = Field(
        None, description="What of the conversation this agent sends to its model (default: the team's)."
    )

    @field_validator("name")
    @classmethod
    def _identifier(cls, v: str) -> str:
        if not _IDENT.match(v) or keyword.iskeyword(v):
            raise ValueError(
                f"{v[:80]!r} is not a valid agent name (letters, digits and _, not starting with a digit)"
            )
        if len(v) > MAX_NAME_LENGTH:
            raise ValueError(f"an agent name has at most {MAX_NAME_LENGTH} characters, this one {len(v)}")
        return v

    @model_validator(mode="after")
    def _unique_tools(self) -> Agent:
        seen: dict[str, int] = {}
        for j, t in enumerate(self.tools):
            name = t.name or t.ref.rsplit(":", 1)[1]
            if name in seen:
                raise _fail(f"two tools are named {name!r} (tools {seen[name]} and {j})", "tools", j)
            seen[name] = j
        return self


class Team(Frozen):
    kind: Literal["round_robin", "selector", "swarm", "single"]
    agents: tuple[Agent, ...] = Field(min_length=1)
    termination: Annotated[TermRule | None, BeforeValidator(_shallow_rules)] = None
    max_turns: Count | None = None
    selector_prompt: str | None = None
    selector_model: ModelRef | None = None
    allow_repeated_speaker: bool = False
    model_context: ModelContext | None = Field(
        None,
        description="Every agent's model context unless it sets its own (default: token_limited, sized by "
        "the model's context length).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Team:
        names = [a.name for a in self.agents]
        seen: dict[str, int] = {}
        for i, n in enumerate(names):
            if n in seen:
                raise _fail(
                    f"two agents are named {n!r} (agents {seen[n]} and {i}); names must be unique",
                    "agents",
                    i,
                    "name",
                )
            seen[n] = i
        if self.kind == "single" and len(self.agents) != 1:
            raise _fail(f"kind 'single' takes exactly one agent, got {len(self.agents)}: {names}", "agents")
        if self.kind != "selector":
            for key in ("selector_prompt", "selector_model"):
                if getattr(self, key) is not None:
                    raise _fail(f"{key} only applies to kind 'selector', not {self.kind!r}", key)
        for i, a in enumerate(self.agents):
            if a.handoffs and self.kind != "swarm":
                raise _fail(
                    f"handoffs only apply to kind 'swarm', not {self.kind!r}", "agents", i, "handoffs"
                )
            for j, target in enumerate(a.handoffs):
                if target not in seen and target != "user":
                    raise _fail(
                        f"agent {a.name!r} hands off to {target!r}, which is not an agent of this team "
                        f"(agents: {names})",
                        "agents",
                        i,
                        "handoffs",
                        j,
                    )
        if self.termination is not None:
            for path, rule in _walk_rules(self.termination, ("termination",)):
                refs: tuple[tuple[str, tuple[str | int, ...]], ...] = ()
                if isinstance(rule, SourceMatch):
                    refs = tuple((r, (*path, "source_match", k)) for k, r in enumerate(rule.source_match))
                elif isinstance(rule, TextMention) and rule.sources:
                    refs = tuple((r, (*path, "sources", k)) for k, r in enumerate(rule.sources))
                elif isinstance(rule, HandoffRule):
                    refs = ((rule.handoff, (*path, "handoff")),)
                for r, at in refs:
                    if r not in seen and r != "user":
                        raise _fail(
                            f"termination rule refers to {r!r}, which is not an agent of this team "
                            f"(agents: {names})",
                            *at,
                        )
        return self


class Limits(Frozen):
    """Caps that bound every run, whatever the termination rule says."""

    max_messages: Count = DEFAULT_MAX_MESSAGES
    timeout_s: Seconds = DEFAULT_TIMEOUT_S


# --------------------------------------------------------------------------- expectations


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

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, v: Any) -> Any:
        return {"calls": v} if isinstance(v, list | tuple) else v


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


class AgentExpectation(Frozen):
    messages: CountRange | None = None
    contains: str | None = Field(None, description="One of the agent's messages contains this.")
    regex: str | None = Field(None, description="One of the agent's messages matches this (re.search).")
    tool_calls: ToolCallsExpectation | None = None

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"regex {v!r} does not compile: {e}") from None
        return v


class Expect(Frozen):
    """What a correct run must show; checked by `troupe test` and the pytest plugin."""

    stop_reason: TextExpectation | None = None
    speakers: SpeakersExpectation | None = None
    tool_calls: ToolCallsExpectation | None = None
    messages: CountRange | None = Field(None, description="Number of chat messages, the task included.")
    final_message: TextExpectation | None = None
    max_total_tokens: Tokens | None = Field(None, description="Prompt plus completion tokens of the run.")
    no_tool_errors: bool = False
    agents: dict[str, AgentExpectation] = Field(default_factory=dict)


# --------------------------------------------------------------------------- scenario


class Scenario(Frozen):
    """A whole scenario file."""

    name: str = Field(
        description=f"Letters, digits and _.- (at most {MAX_NAME_LENGTH}); it names the transcript file.",
        json_schema_extra={"pattern": _SAFE_NAME.pattern, "maxLength": MAX_NAME_LENGTH},
    )
    description: str = ""
    task: str | None = None
    model: ModelRef = "default"
    team: Team
    mcp_servers: dict[str, McpServer] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)
    expect: Expect | None = None
    _source: Path | None = PrivateAttr(None)  # the file it was loaded from, set by the loader

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        if not _SAFE_NAME.match(v) or len(v) > MAX_NAME_LENGTH:
            raise ValueError(
                f"{v[:80]!r} is not a valid scenario name: use letters, digits and _ . - (not starting "
                f"with . or -), at most {MAX_NAME_LENGTH} characters; it becomes part of file names"
            )
        return v

    @property
    def source(self) -> Path | None:
        """The file this scenario was loaded from (None when built in code)."""
        return self._source

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        for i, a in enumerate(self.team.agents):
            for j, use in enumerate(a.mcp):
                if use.server not in self.mcp_servers:
                    known = sorted(self.mcp_servers) or "none defined"
                    raise _fail(
                        f"agent {a.name!r} uses mcp server {use.server!r}, which is not defined in "
                        f"mcp_servers (defined: {known})",
                        "team",
                        "agents",
                        i,
                        "mcp",
                        j,
                    )
        if self.expect is not None:
            names = [a.name for a in self.team.agents]
            for n in self.expect.agents:
                if n not in names:
                    raise _fail(
                        f"{n!r} is not an agent of this team (agents: {names})", "expect", "agents", n
                    )
            for at, n in _expected_speakers(self.expect):
                if n not in names and n != "user":
                    raise _fail(f"{n!r} is not an agent of this team (agents: {names}, or 'user')", *at)
        return self


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
    groups = [(("expect", "tool_calls"), expect.tool_calls)] + [
        (("expect", "agents", a, "tool_calls"), e.tool_calls) for a, e in expect.agents.items()
    ]
    for base, tc in groups:
        for i, c in enumerate(tc.calls if tc is not None else ()):
            if c.agent is not None:
                yield (*base, "calls", i, "agent"), c.agent
