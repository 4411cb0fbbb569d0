"""A served run's events as AG-UI events (`ag-ui-protocol`'s own pydantic types), for the AG-UI endpoint.

The run's events come from `ServedRun.watch`, already masked (streamed text through one StreamRedactor
per speaker), so nothing here masks again. Each agent message is a TEXT_MESSAGE_START / CONTENT... / END
with the agent in `name`; its tool calls are TOOL_CALL_START / ARGS / END, their results TOOL_CALL_RESULT;
a model's reasoning is a REASONING_START / REASONING_MESSAGE_... / REASONING_END; a STATE_SNAPSHOT follows
every message with who spoke, the graph path and the tokens so far. A question
for the person ends the AG-UI run with an interrupt (see `_agui`).
"""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timezone
from typing import Any, Literal

from ag_ui.core import (
    BaseEvent,
    CustomEvent,
    Interrupt,
    ReasoningEndEvent,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ReasoningStartEvent,
    RunErrorEvent,
    RunFinishedEvent,
    RunFinishedInterruptOutcome,
    RunStartedEvent,
    StateSnapshotEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    TokenUsage,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
)
from ag_ui.core.events import RunFinishedCancelledOutcome

from ._runs import ServedRun

__all__ = ["AguiEvents", "interrupt_of"]

_TAGS = ("<think>", "</think>")  # how AutoGen streams a model's reasoning among the text


class _ThinkSplit:
    """A speaker's streamed text split into its reasoning (between `<think>` and `</think>`) and its
    message; a tag cut across chunks is held back until it is whole."""

    def __init__(self) -> None:
        self.thinking = False
        self.held = ""

    def feed(self, text: str) -> list[tuple[bool, str]]:
        text, self.held = self.held + text, ""
        out: list[tuple[bool, str]] = []
        while text:
            tag = _TAGS[1] if self.thinking else _TAGS[0]
            at = text.find(tag)
            if at >= 0:
                if at:
                    out.append((self.thinking, text[:at]))
                self.thinking, text = not self.thinking, text[at + len(tag) :]
                continue
            keep = next(
                (k for k in range(min(len(tag) - 1, len(text)), 0, -1) if tag.startswith(text[-k:])), 0
            )
            if keep:
                text, self.held = text[:-keep], text[-keep:]
            if text:
                out.append((self.thinking, text))
            break
        return out

    def end(self) -> list[tuple[bool, str]]:
        held, self.held = self.held, ""
        return [(self.thinking, held)] if held else []


def _now_ms() -> int:
    return int(time.time() * 1000)


def interrupt_of(pending: dict[str, Any]) -> Interrupt:
    """A question the team waits on (`Pending.as_json()`) as an AG-UI interrupt: a user agent's question
    takes a string, a tool approval a string too (yes or no; `metadata.approval` names the tool and its
    arguments), an MCP server's `{"action", "content"}` as the runs API does."""
    expires = datetime.fromtimestamp(pending["asked_at"] + pending["timeout_s"], tz=timezone.utc)
    meta = {"agent": pending["agent"], "default_answer": pending["default_answer"], "kind": pending["kind"]}
    if pending["kind"] == "mcp":
        mcp = pending.get("mcp") or {}
        content = mcp.get("schema") or {"type": "object"}
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {"action": {"enum": ["accept", "decline", "cancel"]}, "content": content},
            "required": ["action"],
        }
        meta["mcp"] = mcp
        reason = "mcp_elicitation"
    elif pending["kind"] == "approval":  # a tool call waiting for a yes: which tool, with what
        schema = {
            "type": "string",
            "examples": ["yes", "no"],
            "description": "yes allows the call, no refuses it",
        }
        meta["approval"] = pending.get("approval") or {}
        reason = "tool_approval"
    else:
        schema, reason = {"type": "string"}, "input_required"
    return Interrupt(
        id=pending["id"],
        reason=reason,
        message=pending["prompt"],
        response_schema=schema,
        expires_at=expires.isoformat(),
        metadata=meta,
    )


class AguiEvents:
    """Turns one served run's records into AG-UI events for one AG-UI run (`thread_id`, `run_id`)."""

    def __init__(self, run: ServedRun, thread_id: str, run_id: str) -> None:
        self.run = run
        self.thread_id, self.run_id = thread_id, run_id
        self.open: dict[str, str] = {}  # speaker → id of its message being streamed
        self.thinking: dict[str, str] = {}  # speaker → id of its reasoning being streamed
        self.splits: dict[str, _ThinkSplit] = {}  # speaker → its stream, split into reasoning and text
        self.streamed: set[str] = set()  # speakers whose message text went out chunk by chunk
        self.reasoned: set[str] = set()  # ...and whose reasoning did
        self.speakers: list[str] = []
        self.path: list[str] = []
        self._ids = itertools.count(1)
        self.interrupted: dict[str, Any] | None = None  # the question that ended this AG-UI run

    def _id(self, what: str) -> str:
        return f"{self.run.id}-{self.run_id}-{what}{next(self._ids)}"

    # ------------------------------------------------------------------ the run's ends

    def started(self) -> list[BaseEvent]:
        meta = {"troupe_run_id": self.run.id, "scenario": self.run.scenario}
        start = RunStartedEvent(
            thread_id=self.thread_id, run_id=self.run_id, protocol_version="1.0", metadata=meta
        )
        return [start, self.state()]

    def state(self) -> StateSnapshotEvent:
        """The team so far: the run, its status, who spoke (in order), the graph path, the question
        it waits on, tokens."""
        s = self.run.summary()
        snapshot = {
            "troupe_run_id": self.run.id,
            "scenario": self.run.scenario,
            "status": s["status"],
            "speakers": list(self.speakers),
            "path": list(self.path),
            "waiting_on": s["pending"],
            "usage": s["usage"],
        }
        return StateSnapshotEvent(snapshot=snapshot, timestamp=_now_ms())

    def finished(self) -> list[BaseEvent]:
        """The end of this AG-UI run: the team's end (RUN_FINISHED, or RUN_ERROR with one paragraph), or
        the question it waits on (RUN_FINISHED with an interrupt)."""
        out: list[BaseEvent] = [*self._close_all(), self.state()]
        if self.interrupted is not None:
            outcome = RunFinishedInterruptOutcome(interrupts=[interrupt_of(self.interrupted)])
            out.append(RunFinishedEvent(thread_id=self.thread_id, run_id=self.run_id, outcome=outcome))
            return out
        s = self.run.summary()
        usage = [
            TokenUsage(
                input_tokens=s["usage"]["prompt_tokens"],
                output_tokens=s["usage"]["completion_tokens"],
                total_tokens=s["usage"]["total_tokens"],
            )
        ]
        if self.run.status == "failed":
            message = s.get("error") or "the run failed"
            out.append(RunErrorEvent(message=message, code="run_failed", usage=usage))
            return out
        keys = ("final_message", "stop_reason", "stopped_by", "transcript", "status")
        result = {"troupe_run_id": self.run.id, **{k: s.get(k) for k in keys}}
        fin = RunFinishedEvent(thread_id=self.thread_id, run_id=self.run_id, result=result, usage=usage)
        if self.run.status == "stopped":
            fin.outcome = RunFinishedCancelledOutcome()
        out.append(fin)
        return out

    # ------------------------------------------------------------------ what happens in between

    def of(self, record: dict[str, Any]) -> list[BaseEvent]:
        """The AG-UI events for one run event (`ServedRun.watch`'s records)."""
        event, data = record["event"], record["data"]
        if event == "chunk":
            return self._chunk(data["source"], data["content"])
        if event == "input":
            self.interrupted = data
            question = self._message(data["agent"], data["prompt"])
            return [*self._close_all(), *question]
        if event == "entry":
            return self._entry(data)
        return []

    def _chunk(self, source: str, text: str) -> list[BaseEvent]:
        out = self._close_all(but=source)
        for thinking, piece in self.splits.setdefault(source, _ThinkSplit()).feed(text):
            out += self._piece(source, thinking, piece)
        return out

    def _piece(self, source: str, thinking: bool, piece: str) -> list[BaseEvent]:
        """One piece of a speaker's stream: its reasoning, or its message's text."""
        out: list[BaseEvent] = []
        if thinking:
            if source not in self.thinking:
                self.thinking[source] = rid = self._id("r")
                self.reasoned.add(source)
                out += [
                    ReasoningStartEvent(message_id=rid),
                    ReasoningMessageStartEvent(message_id=rid, role="reasoning"),
                ]
            out.append(ReasoningMessageContentEvent(message_id=self.thinking[source], delta=piece))
            return out
        out += self._end_reasoning(source)
        if source not in self.open:
            self.open[source] = mid = self._id("m")
            self.streamed.add(source)
            out.append(TextMessageStartEvent(message_id=mid, role="assistant", name=source))
        out.append(TextMessageContentEvent(message_id=self.open[source], delta=piece))
        return out

    def _end_reasoning(self, source: str) -> list[BaseEvent]:
        rid = self.thinking.pop(source, None)
        return (
            []
            if rid is None
            else [ReasoningMessageEndEvent(message_id=rid), ReasoningEndEvent(message_id=rid)]
        )

    def _close(self, source: str) -> list[BaseEvent]:
        """The speaker's stream ends: what its splitter held goes out, its reasoning and message close."""
        out: list[BaseEvent] = []
        split = self.splits.pop(source, None)
        for thinking, piece in split.end() if split is not None else []:
            out += self._piece(source, thinking, piece)
        out += self._end_reasoning(source)
        if source in self.open:
            out.append(TextMessageEndEvent(message_id=self.open.pop(source)))
        return out

    def _close_all(self, but: str | None = None) -> list[BaseEvent]:
        out: list[BaseEvent] = []
        for source in [s for s in {**self.splits, **self.thinking, **self.open} if s != but]:
            out += self._close(source)
        return out

    def _message(self, source: str, text: str) -> list[BaseEvent]:
        """A whole message at once (not streamed): start, its text, end."""
        mid = self._id("m")
        role: Literal["user", "assistant"] = "user" if source == "user" else "assistant"
        out: list[BaseEvent] = [TextMessageStartEvent(message_id=mid, role=role, name=source)]
        if text:
            out.append(TextMessageContentEvent(message_id=mid, delta=text))
        out.append(TextMessageEndEvent(message_id=mid))
        return out

    def _spoke(self, source: str) -> StateSnapshotEvent:
        self.speakers.append(source)
        return self.state()

    def _entry(self, e: dict[str, Any]) -> list[BaseEvent]:
        source, kind = e["source"], e["kind"]
        if kind == "thought" and source in self.reasoned:  # streamed: it went out already
            self.reasoned.discard(source)
            return []
        out = self._close_all()
        self.reasoned.discard(source)
        if kind == "text":
            if source in self.streamed:  # its text went out chunk by chunk
                self.streamed.discard(source)
            elif not (source == "user" and not self.speakers and e["content"] == self.run.task):
                out += self._message(source, e["content"])  # (the task itself: the client sent it)
            return [*out, self._spoke(source)]
        self.streamed.discard(source)
        if kind == "handoff":
            return [*out, *self._message(source, e["content"]), self._spoke(source)]
        if kind == "tool_call":
            return out + self._tool_calls(e["calls"])
        if kind == "tool_result":
            for r in e["results"]:
                out.append(
                    ToolCallResultEvent(
                        message_id=self._id("t"),
                        tool_call_id=r["call_id"] or self._id("c"),
                        content=r["content"],
                        role="tool",
                    )
                )
            return out
        if kind == "route":
            self.path.append(e["node"])
            return [*out, self.state()]
        if kind == "thought":  # the model's reasoning, as AG-UI's reasoning message
            mid = self._id("r")
            return [
                *out,
                ReasoningStartEvent(message_id=mid),
                ReasoningMessageStartEvent(message_id=mid, role="reasoning"),
                ReasoningMessageContentEvent(message_id=mid, delta=e["content"]),
                ReasoningMessageEndEvent(message_id=mid),
                ReasoningEndEvent(message_id=mid),
            ]
        if kind in ("mcp", "event"):
            return [*out, CustomEvent(name=f"troupe.{kind}", value=e)]
        return out

    def _tool_calls(self, calls: list[dict[str, Any]]) -> list[BaseEvent]:
        """Each call whole: start, its arguments, end (the model's call is not streamed piece by piece;
        no parent message: AutoGen's tool call is a turn of its own)."""
        out: list[BaseEvent] = []
        for c in calls:
            cid = c["id"] or self._id("c")
            out.append(ToolCallStartEvent(tool_call_id=cid, tool_call_name=c["name"]))
            if c["arguments"]:
                out.append(ToolCallArgsEvent(tool_call_id=cid, delta=c["arguments"]))
            out.append(ToolCallEndEvent(tool_call_id=cid))
        return out
