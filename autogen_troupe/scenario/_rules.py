"""Termination rules: one key names the rule (`text_mention`, `max_messages`, ...), `any`/`all` nest them."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Discriminator, Field, Tag

from ._base import Frozen, key_present
from ._fields import MAX_RULE_DEPTH, Count, Seconds, Tokens, _fail
from ._guards import MaxToolCalls, RepeatedMessage, RepeatedToolCall

__all__ = [
    "AllOf",
    "AnyOf",
    "HandoffRule",
    "MaxMessages",
    "MaxToolCalls",
    "RepeatedMessage",
    "RepeatedToolCall",
    "SourceMatch",
    "TermRule",
    "TextMention",
    "Timeout",
    "TokenUsage",
    "iter_rules",
]


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
    "repeated_tool_call": "repeated_tool_call",
    "repeated_message": "repeated_message",
    "max_tool_calls": "max_tool_calls",
    "any": "any",
    "all": "all",
}


_rule_kind = key_present(_RULE_KEYS)


TermRule = Annotated[
    Annotated[TextMention, Tag("text_mention")]
    | Annotated[MaxMessages, Tag("max_messages")]
    | Annotated[TokenUsage, Tag("token_usage")]
    | Annotated[Timeout, Tag("timeout_s")]
    | Annotated[HandoffRule, Tag("handoff")]
    | Annotated[SourceMatch, Tag("source_match")]
    | Annotated[RepeatedToolCall, Tag("repeated_tool_call")]
    | Annotated[RepeatedMessage, Tag("repeated_message")]
    | Annotated[MaxToolCalls, Tag("max_tool_calls")]
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
