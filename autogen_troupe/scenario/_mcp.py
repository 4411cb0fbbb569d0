"""The scenario's MCP client settings (what our client offers a server besides calling its tools) and
MCP prompts used as text (system messages, the task); re-exported by `_schema`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from ._base import Frozen
from ._fields import CompletionTokens, Count, HeaderValue, Tokens, _Shorthand
from ._tool_arguments import ToolArguments

__all__ = [
    "APPROVALS",
    "Approval",
    "ApprovePolicy",
    "McpClientSettings",
    "McpPrompt",
    "PromptPart",
    "PromptText",
    "SamplingSettings",
    "prompt_parts",
]


Approval = Literal["allow", "ask", "deny"]
APPROVALS: tuple[str, ...] = ("allow", "ask", "deny")
ApprovePolicy = Annotated[
    Approval | dict[str, Approval],
    Field(
        union_mode="left_to_right",
        description="Whether a tool call needs the person's yes: allow, ask or deny for every tool, or per "
        "tool (the server's own names) a mapping. Unset: ask for tools the server marks destructive "
        "(destructiveHint), allow the rest.",
    ),
]


class SamplingSettings(_Shorthand):
    """Bounds on a server's sampling (its requests that our model write something) over one run."""

    max_calls: Count = Field(5, description="Sampling requests answered per run; later ones are refused.")
    max_tokens: Tokens = Field(
        4000, description="Tokens (prompt and answer) all its sampling may use per run."
    )
    max_tokens_per_call: CompletionTokens = Field(
        512, description="Longest answer per request (the server's own maxTokens when smaller)."
    )

    @model_validator(mode="before")
    @classmethod
    def _from_true(cls, v: Any) -> Any:
        return {} if v is True else v

    @classmethod
    def _short_schema(cls, full: dict[str, Any]) -> dict[str, Any]:
        return {"type": "boolean"}


def _no_sampling(v: Any) -> Any:
    return None if v is False else v


class McpClientSettings(Frozen):
    """What our client offers a server besides calling its tools (both transports)."""

    elicitation: Literal["ask", "decline", "accept_defaults"] | None = Field(
        None,
        description="How the server's questions are answered: ask the person (default on a terminal), "
        "decline (default when nobody can answer), or accept the form's defaults.",
    )
    sampling: Annotated[SamplingSettings | None, BeforeValidator(_no_sampling)] = Field(
        None,
        description="Let the server ask the calling agent's model to write (true, or limits); default off.",
    )
    roots: tuple[str, ...] = Field(
        (),
        description="Directories the server may work in (paths relative to the scenario file, file:// URIs).",
    )
    log_level: Literal["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"] = (
        Field("info", description="The least severe log notification shown and kept.")
    )
    approve: ApprovePolicy | None = None
    arguments: ToolArguments = Field(
        default_factory=dict,
        description="Narrower argument schemas per tool (the server's names): tool -> argument -> "
        "enum, enum_file, pattern, minimum, maximum or description. The model decodes only allowed values "
        "where the endpoint constrains tool calls; elsewhere a call outside them is refused before the "
        "server sees it, naming the closest allowed values.",
    )
    idempotent: bool = Field(
        False,
        description="Calling its tools again with the same arguments does no harm: `troupe resume` makes "
        "a call cut in flight again without asking (as for tools the server marks read-only or idempotent).",
    )

    @field_validator("roots")
    @classmethod
    def _roots(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for r in v:
            if not r.strip():
                raise ValueError("a root must not be empty")
            if "://" in r and not r.startswith("file://"):
                raise ValueError(f"a root is a directory or a file:// URI, not {r[:80]!r}")
        return v


class McpPrompt(Frozen):
    """A prompt of an MCP server, fetched when the run starts (`prompts/get`)."""

    server: str
    name: str = Field(min_length=1)
    arguments: dict[str, HeaderValue] = Field(default_factory=dict, description="The prompt's arguments.")


class PromptPart(Frozen):
    """Text taken from an MCP server's prompt: `{mcp_prompt: {server: s, name: p, arguments: {...}}}`."""

    mcp_prompt: McpPrompt


PromptText = Annotated[str | PromptPart | tuple[str | PromptPart, ...], Field(union_mode="left_to_right")]
"""Plain text, a server's prompt, or a list of both joined by blank lines (system messages and the task)."""


def prompt_parts(text: PromptText | None) -> tuple[McpPrompt, ...]:
    """The MCP prompts a text names, in order."""
    if text is None or isinstance(text, str):
        return ()
    parts = (text,) if isinstance(text, PromptPart) else text
    return tuple(p.mcp_prompt for p in parts if isinstance(p, PromptPart))
