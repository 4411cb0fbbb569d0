"""The scenario file format: pydantic models are its only definition. This module holds the models, model
contexts, MCP servers and tools, the team and the scenario; `_fields` the limits and bounded types,
`_rules` the termination rules, `_expectations` the `expect` block, `_contexts` the model contexts,
`_graph` the edges of a graph team (all re-exported here).

Imports no autogen, openai, mcp or vllm code, so `troupe check` and `troupe schema` stay fast.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    field_validator,
    model_validator,
)

from ._a2a import RemoteAgentSettings, check_kind_fields
from ._base import Frozen
from ._contexts import (
    BufferedContext,
    HeadAndTailContext,
    ModelContext,
    TokenLimitedContext,
    UnboundedContext,
)
from ._expectations import (
    AgentExpectation,
    CallExpectation,
    CountRange,
    Expect,
    SpeakersExpectation,
    TextExpectation,
    ToolCallsExpectation,
    _expected_speakers,
    check_expected_names,
)
from ._fields import (
    _IDENT,
    _IMPORT_REF,
    _SAFE_NAME,
    DEFAULT_MAX_MESSAGES,
    DEFAULT_TIMEOUT_S,
    MAX_MESSAGES,
    MAX_NAME_LENGTH,
    MAX_RULE_DEPTH,
    MAX_TIMEOUT_S,
    Count,
    HeaderValue,
    Seconds,
    ToolIterations,
    _fail,
    _Shorthand,
    scenario_name_from,
)
from ._graph import Edge, GraphNode, check_graph, shallow_conditions
from ._guards import Limits
from ._judge import Judge
from ._mcp import (
    ApprovePolicy,
    McpClientSettings,
    McpPrompt,
    PromptPart,
    PromptText,
    SamplingSettings,
    prompt_parts,
)
from ._mcp_auth import HttpAuthSettings
from ._model_spec import ModelInfoSpec, ModelRef, ModelSpec
from ._output_schema import OutputSchemaSpec
from ._rules import (
    AllOf,
    AnyOf,
    HandoffRule,
    MaxMessages,
    SourceMatch,
    TermRule,
    TextMention,
    Timeout,
    TokenUsage,
    _shallow_rules,
    _walk_rules,
    iter_rules,
)

__all__ = [
    "DEFAULT_ANSWER",
    "DEFAULT_ANSWER_TIMEOUT_S",
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
    "BufferedContext",
    "CallExpectation",
    "CountRange",
    "Edge",
    "Expect",
    "GraphNode",
    "HandoffRule",
    "HeadAndTailContext",
    "HttpServer",
    "Limits",
    "MaxMessages",
    "McpClientSettings",
    "McpPrompt",
    "McpServer",
    "McpUse",
    "ModelContext",
    "ModelInfoSpec",
    "ModelRef",
    "ModelSpec",
    "PromptPart",
    "PromptText",
    "PythonToolUse",
    "SamplingSettings",
    "Scenario",
    "SourceMatch",
    "SpeakersExpectation",
    "StdioServer",
    "Team",
    "TermRule",
    "TextExpectation",
    "TextMention",
    "Timeout",
    "TokenLimitedContext",
    "TokenUsage",
    "ToolCallsExpectation",
    "UnboundedContext",
    "iter_rules",
    "prompt_parts",
    "scenario_name_from",
]

Judge.model_rebuild(_types_namespace={"ModelRef": ModelRef})  # defined apart (scenario/_judge.py)


# --------------------------------------------------------------------------- MCP servers


class StdioServer(McpClientSettings):
    """An MCP server started as a child process speaking over stdin/stdout."""

    kind: Literal["stdio"] = "stdio"
    command: str = Field(min_length=1)
    args: tuple[str, ...] = ()
    env: dict[str, str] = Field(default_factory=dict, description="Variables set for the child.")
    pass_env: tuple[str, ...] = Field((), description="Names of our environment variables the child may see.")
    cwd: str | None = None
    startup_timeout_s: Seconds = 30.0
    call_timeout_s: Seconds = 60.0


class HttpServer(McpClientSettings, HttpAuthSettings):
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
    resources: bool = Field(
        False,
        description="Also give the agent a read_resource tool for the server's resources and templates.",
    )
    approve: ApprovePolicy | None = Field(None, description="This agent's calls: as for the server's.")

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


# --------------------------------------------------------------------------- team


DEFAULT_ANSWER_TIMEOUT_S = 300.0
DEFAULT_ANSWER = "TERMINATE"
_ASSISTANT_ONLY = (
    "system_message", "model", "tools", "mcp", "reflect_on_tool_use", "max_tool_iterations", "handoffs",
    "stream", "model_context", "output_schema",
)  # fmt: skip
_USER_ONLY = ("answer_timeout_s", "default_answer")


class Agent(RemoteAgentSettings):
    """An agent of the team: an assistant (a model, its tools), the person (`kind: user`), asked for an
    answer whenever it is their turn, or a remote A2A agent (`kind: a2a`, scenario/_a2a.py)."""

    name: str
    kind: Literal["assistant", "user", "a2a"] = Field(
        "assistant",
        description="`user`: the person answers this agent's turns (AutoGen's UserProxyAgent); `a2a`: a "
        "remote A2A agent at `url` answers them.",
    )
    description: str = "An agent that provides assistance with ability to use tools."
    system_message: PromptText | None = Field(
        None,
        description="Text, an MCP server's prompt ({mcp_prompt: ...}) or a list of both; left out: "
        "AutoGen's default assistant prompt.",
    )
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
    answer_timeout_s: Seconds | None = Field(
        None,
        description=f"User agents: how long to wait for the person (default {DEFAULT_ANSWER_TIMEOUT_S:g}).",
    )
    default_answer: str | None = Field(
        None, description=f"User agents: the answer when none comes in time (default {DEFAULT_ANSWER!r})."
    )
    output_schema: OutputSchemaSpec | None = None

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

    @model_validator(mode="before")
    @classmethod
    def _user_description(cls, v: Any) -> Any:
        if isinstance(v, dict) and v.get("kind") == "user" and "description" not in v:
            return {**v, "description": "A human user."}  # AutoGen's own words for its UserProxyAgent
        if isinstance(v, dict) and v.get("kind") == "a2a" and "description" not in v:
            return {**v, "description": "A remote agent, reached over A2A."}  # not one that uses tools
        return v

    @model_validator(mode="after")
    def _fields_of_its_kind(self) -> Agent:
        check_kind_fields(self, {"assistant": _ASSISTANT_ONLY, "user": _USER_ONLY})
        return self

    @property
    def answer_timeout(self) -> float:
        return self.answer_timeout_s if self.answer_timeout_s is not None else DEFAULT_ANSWER_TIMEOUT_S

    @property
    def answer_default(self) -> str:
        return self.default_answer if self.default_answer is not None else DEFAULT_ANSWER

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
    kind: Literal["round_robin", "selector", "swarm", "single", "graph"]
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
    edges: tuple[Annotated[Edge, BeforeValidator(shallow_conditions)], ...] = Field(
        (), description="Graph only: who hands over to whom, and when."
    )
    entry: tuple[str, ...] | None = Field(
        None, description="Graph only: the agents that start (default: those no edge leads to)."
    )
    nodes: dict[str, GraphNode] = Field(
        default_factory=dict, description="Graph only: per agent, its activation and max_visits."
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
        if self.kind == "graph":
            check_graph(self.agents, self.edges, self.entry, self.nodes)
        else:
            for key in ("edges", "entry", "nodes"):
                if key in self.model_fields_set:
                    raise _fail(f"{key} only applies to kind 'graph', not {self.kind!r}", key)
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


# --------------------------------------------------------------------------- scenario


class Scenario(Frozen):
    """A whole scenario file."""

    name: str = Field(
        description=f"Letters, digits and _.- (at most {MAX_NAME_LENGTH}); it names the transcript file.",
        json_schema_extra={"pattern": _SAFE_NAME.pattern, "maxLength": MAX_NAME_LENGTH},
    )
    description: str = ""
    task: PromptText | None = Field(None, description="Text, an MCP server's prompt or a list of both.")
    model: ModelRef = "default"
    team: Team
    mcp_servers: dict[str, McpServer] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)
    expect: Expect | None = None
    judge: Judge | None = Field(None, description="An LLM judge that scores runs under `troupe eval`.")
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
        texts: list[tuple[PromptText | None, tuple[str | int, ...]]] = [(self.task, ("task",))]
        texts += [
            (a.system_message, ("team", "agents", i, "system_message"))
            for i, a in enumerate(self.team.agents)
        ]
        for text, at in texts:
            for p in prompt_parts(text):
                if p.server not in self.mcp_servers:
                    known = sorted(self.mcp_servers) or "none defined"
                    raise _fail(
                        f"mcp_prompt names server {p.server!r}, which is not defined in mcp_servers "
                        f"(defined: {known})",
                        *at,
                    )
        if self.expect is not None:
            names = [a.name for a in self.team.agents]
            for n in self.expect.agents:
                if n not in names:
                    raise _fail(
                        f"{n!r} is not an agent of this team (agents: {names})", "expect", "agents", n
                    )
            if self.expect.path is not None and self.team.kind != "graph":
                raise _fail(f"path only applies to graph teams, not {self.team.kind!r}", "expect", "path")
            for at, n in _expected_speakers(self.expect):
                if n not in names and n != "user":
                    raise _fail(f"{n!r} is not an agent of this team (agents: {names}, or 'user')", *at)
            check_expected_names(self.expect, self.team.agents)
        return self
