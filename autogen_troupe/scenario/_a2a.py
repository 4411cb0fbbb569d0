"""A team member that is another team or agent somewhere else, reached over A2A (Agent2Agent): an agent of
`kind: a2a` with the `url` its agent card is found under (`URL/.well-known/agent-card.json`, as a
`troupe serve` gives at `/a2a/SCENARIO`), the headers it needs (`${VAR}` from the environment, as for
HTTP MCP servers) and how long one answer may take."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field, field_validator

from ._base import Frozen
from ._fields import HeaderValue, Seconds, _fail

__all__ = ["A2A_ONLY", "DEFAULT_A2A_TIMEOUT_S", "RemoteAgentSettings", "check_kind_fields"]

DEFAULT_A2A_TIMEOUT_S = 300.0
A2A_ONLY = ("url", "headers", "timeout_s")


class RemoteAgentSettings(Frozen):
    """The settings of a remote A2A agent (`kind: a2a`); a base of the scenario's `Agent`."""

    url: str | None = Field(
        None,
        description="kind a2a: the remote agent's URL; its card is at URL/.well-known/agent-card.json.",
    )
    headers: dict[str, HeaderValue] = Field(
        default_factory=dict,
        description="kind a2a: headers sent with every request, e.g. Authorization: Bearer ${REMOTE_TOKEN}.",
    )
    timeout_s: Seconds | None = Field(
        None,
        description=f"kind a2a: how long one answer may take (default {DEFAULT_A2A_TIMEOUT_S:g}); the "
        "connection itself gets at most 30 s.",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("must be an http:// or https:// URL")
        return v

    @property
    def answer_within(self) -> float:
        return self.timeout_s if self.timeout_s is not None else DEFAULT_A2A_TIMEOUT_S


_KINDS = {"assistant": "an assistant", "user": "a user agent (kind: user)", "a2a": "kind: a2a"}


def check_kind_fields(agent: Any, only: Mapping[str, Sequence[str]]) -> None:
    """Refuse a key set on an agent of a kind it does not apply to (`only`: kind → its own keys, this
    module's added), and a `kind: a2a` agent without its `url`."""
    for kind, keys in {**only, "a2a": A2A_ONLY}.items():
        for key in keys if kind != agent.kind else ():
            if key in agent.model_fields_set:
                where = f"{agent.name!r} is kind {agent.kind!r}"
                raise _fail(f"{key} only applies to {_KINDS[kind]}, and {where}", key)
    if agent.kind == "a2a" and agent.url is None:
        raise _fail(f"agent {agent.name!r} is kind a2a and needs the `url` of the remote agent", "url")
