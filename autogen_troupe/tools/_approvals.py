"""Tool approvals: whether an MCP tool call may run (`approve: allow | ask | deny`), and asking the person.

The policy of a call is the agent's (`mcp: [{server, approve}]`), else the server's (`mcp_servers.X.approve`),
each either one word for every tool or a mapping per tool (the server's own names); unset, a tool the
server marks destructive (`destructiveHint: true` in its MCP annotations) is `ask` and every other `allow`.
`ask` goes to the person through `McpClientOptions.confirm` (the run wires it to the same paths as a user
agent: the console, the serve page, the runs API); nobody to ask, or no answer in time, is a no. A refused
call is never made: the model reads a tool error saying why. Each decision but a plain allow is noted
(`approval`) with the call, so it is in the transcript and the cassette, and a replay shows it again
without asking anyone.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .._redact import redact_data, redact_text
from ..scenario._mcp import Approval, ApprovePolicy

__all__ = ["Confirm", "ToolApproval", "approval_for", "decide"]


@dataclass(frozen=True)
class ToolApproval:
    """A tool call waiting for the person's yes: which agent calls which tool of which server, with what."""

    server: str
    tool: str
    arguments: Mapping[str, Any]
    agent: str | None = None

    @property
    def prompt(self) -> str:
        """The question as the person reads it."""
        args = json.dumps(dict(self.arguments), ensure_ascii=False, default=str)
        if len(args) > 500:
            args = args[:500] + "..."
        who = self.agent or "an agent"
        asked = f"{who} wants to call {self.tool}({args}) on MCP server {self.server!r}. Allow it? (yes/no)"
        return redact_text(asked)  # a model may have put a credential it saw into the arguments

    @property
    def detail(self) -> dict[str, Any]:
        """The call as data, for a front end that shows it its own way (A2A, AG-UI, the page); redacted
        as the prompt is."""
        arguments = json.loads(json.dumps(dict(self.arguments), default=str))
        return {"server": self.server, "tool": self.tool, "arguments": redact_data(arguments)}


Confirm = Callable[[ToolApproval], Awaitable["bool | None"]]
"""Asks the person: True yes, False no, None nobody answered (a no)."""


def approval_for(
    tool: str, *, agent: ApprovePolicy | None, server: ApprovePolicy | None, destructive: bool
) -> Approval:
    """The policy of one tool (the server's name for it): the agent's word, else the server's, else by
    its annotations."""
    for policy in (agent, server):
        if isinstance(policy, str):
            return policy
        if isinstance(policy, dict) and tool in policy:
            return policy[tool]
    return "ask" if destructive else "allow"


async def decide(
    call: ToolApproval, policy: Approval, confirm: Confirm | None, note: Callable[..., None]
) -> str | None:
    """None when the call may run; else the error the model reads. `note(text, data)` records every
    decision but a plain allow."""
    if policy == "allow":
        return None
    if policy == "deny":
        note(f"{call.tool}: denied by the scenario (approve: deny)", {"decision": "denied", "by": "scenario"})
        return f"Tool call {call.tool!r} denied by the scenario (approve: deny); it was not run."
    answer = await confirm(call) if confirm is not None else None
    if answer:
        note(f"{call.tool}: allowed by the person", {"decision": "allowed", "by": "person"})
        return None
    if answer is None:
        why = "nobody answered" if confirm is not None else "nobody can be asked in this run"
        note(f"{call.tool}: not approved ({why})", {"decision": "denied", "by": "nobody"})
        return f"Tool call {call.tool!r} needs the person's approval, and {why}; it was not run."
    note(f"{call.tool}: denied by the person", {"decision": "denied", "by": "person"})
    return f"Tool call {call.tool!r} denied by the person; it was not run."
