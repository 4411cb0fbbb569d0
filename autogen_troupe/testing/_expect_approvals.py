"""`expect: approvals:` — the decisions on tool calls that needed approval, by the tool's name as the agent
sees it: every noted decision on that tool (the `approval` notes of the transcript) must be the expected
one, from the expected decider. A name no call was noted for fails saying which tools were noted, so a
misspelt name is plain where the scenario could not name its tools at load time. Imports no AutoGen code."""

from __future__ import annotations

from ..runtime._transcript import RunResult
from ..scenario._expectations import ApprovalExpectation
from ..tapes._records import McpEvent

__all__ = ["approval_failures"]


def _said(decision: str, by: str | None) -> str:
    return f"{decision} by {by}" if by else decision


def approval_failures(
    want: dict[str, ApprovalExpectation], result: RunResult
) -> list[tuple[str, str, str, list[int]]]:
    """(expectation path, expected, got, transcript indexes that show it) for each tool whose noted
    decisions are not the expected ones."""
    noted = [
        (i, e)
        for i, e in enumerate(result.transcript)
        if isinstance(e, McpEvent) and e.what == "approval" and e.tool is not None
    ]
    out = []
    for tool, expected in want.items():
        mine = [(i, e) for i, e in noted if e.tool == tool]
        got = [(str(e.data.get("decision")), str(e.data.get("by"))) for _, e in mine]
        path, wanted = f"approvals.{tool}", _said(expected.decision, expected.by)
        if expected.decision == "none":
            if got:
                said = ", ".join(_said(d, b) for d, b in got)
                out.append((path, "no call of it needing a decision", said, [i for i, _ in mine]))
            continue
        if not got:
            names = sorted({str(e.tool) for _, e in noted})
            seen = "tools with a decision: " + ", ".join(names) if names else "no decision in the run"
            out.append(
                (path, wanted, f"no call of {tool!r} needed a decision ({seen})", [i for i, _ in noted])
            )
            continue
        wrong = [(d, b) for d, b in got if d != expected.decision or (expected.by and b != expected.by)]
        if wrong:
            said = ", ".join(_said(d, b) for d, b in got)
            out.append((path, f"every call {wanted}", said, [i for i, _ in mine]))
    return out
