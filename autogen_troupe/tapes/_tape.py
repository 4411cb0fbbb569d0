"""A run's tape: the records of its transcript and what is needed to continue it, one JSON object a line.

Every run that writes a transcript writes its tape into that same file (`troupe-runs/NAME-TIME.jsonl`): the
header (`run`), the models (`models`), each message (`entry`), and, as they happen, each model call with
its request fingerprint and answer (`model_call`), each tool call as it starts (`tool_start`) and with its
result (`tool_call`), each answer of a person (`user_answer`), each MCP prompt fetched (`prompt`) and each
MCP server's tool list (`mcp_tools`); `result` is last (missing when the process died). One file, so the
order between messages and calls is the order they happened, and one record a write: a `kill -9` loses at
most the record being written, which the reader drops as a torn last line.

The records are one tagged union (`Record`, told apart by the `record` field); `line_of` and `parse_line`
are the only ways to and from a line, and `TapeWriter` and `read_tape` the only writer and reader.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from .._redact import redact_data
from ..errors import Issue, ScenarioError
from ..scenario._base import Frozen
from ..scenario._files import CASSETTE_MAX_BYTES
from ._cassette import (
    SCRUBBED,
    AgentRecord,
    Cassette,
    ModelCall,
    PromptRecord,
    ToolRecord,
    UserAnswer,
)
from ._records import ENTRY_TYPES, Entry, RunResult, StopFields, Usage

__all__ = [
    "McpTools",
    "ModelsRecord",
    "Record",
    "ResultRecord",
    "Resumed",
    "RunHeader",
    "Tape",
    "TapeAnswer",
    "TapeModelCall",
    "TapePrompt",
    "TapeToolCall",
    "TapeWriter",
    "ToolStart",
    "cassette_from_tape",
    "line_of",
    "parse_line",
    "read_tape",
]


class RunHeader(Frozen):
    """The first line: which scenario, when, and what a resume checks (the scenario file as it was)."""

    record: Literal["run"] = "run"
    scenario: str
    started_at: dt.datetime
    run_id: str | None = None
    task: str | None = Field(None, description="The task as given, when it is text.")
    source: str | None = Field(None, description="The scenario file's path, when it came from one.")
    source_sha256: str | None = None
    source_text: str | None = Field(None, description="The scenario file's text (a resume diffs it).")
    forked_from: str | None = Field(None, description="The transcript this run was forked from.")
    fork_at: int | None = Field(None, description="Messages replayed from it before going on live.")
    changes: dict[str, str] = Field(
        default_factory=dict,
        description="A fork's `--set` changes to the scenario file (a resume makes them again).",
    )


class ModelsRecord(Frozen):
    """Each agent's resolved model (masked) and what AutoGen was told about it (a cassette's `agents`)."""

    record: Literal["models"] = "models"
    models: dict[str, Any] = Field(default_factory=dict)
    agents: dict[str, AgentRecord] = Field(default_factory=dict)
    overrides: dict[str, str] = Field(
        default_factory=dict, description="As a cassette's: replay applies them."
    )


class TapeModelCall(ModelCall):
    record: Literal["model_call"] = "model_call"


class ToolStart(Frozen):
    """A tool call that began; with no `tool_call` of the same `call_id` after it, it was in flight."""

    record: Literal["tool_start"] = "tool_start"
    agent: str
    server: str | None = None
    tool: str
    arguments: Any
    call_id: str | None = None
    idempotent: bool = Field(False, description="The server marks the tool read-only or idempotent.")


class TapeToolCall(ToolRecord):
    record: Literal["tool_call"] = "tool_call"
    call_id: str | None = None


class TapeAnswer(UserAnswer):
    record: Literal["user_answer"] = "user_answer"


class TapePrompt(PromptRecord):
    record: Literal["prompt"] = "prompt"


class McpTools(Frozen):
    """The tools an MCP server listed (its own names), as first seen."""

    record: Literal["mcp_tools"] = "mcp_tools"
    server: str
    tools: tuple[dict[str, Any], ...]


class Resumed(Frozen):
    """Where a resumed run went on: what was on the tape before this line was replayed, not re-run."""

    record: Literal["resume"] = "resume"
    at: dt.datetime
    entries: int = Field(description="Entries on the transcript before the resume point.")
    spent_s: float = Field(description="Seconds the run had spent running before it was cut.")
    forced: bool = Field(False, description="The scenario file had changed and the resume was forced.")
    reissued: tuple[str, ...] = Field((), description="Tool calls cut in flight and made again.")


class ResultRecord(StopFields):
    """The last line: how the run ended (the run's `RunResult` without its entries); `stop` is typed, with
    `stop_reason` and `stopped_by` beside it (a transcript older than `stop` has only those two)."""

    record: Literal["result"] = "result"
    scenario: str
    task: str
    usage: Usage
    duration_s: float
    transcript_path: Path | None = None
    log_path: Path | None = None
    error: str | None = None
    engine_s: float | None = None
    total_tokens: int = 0
    trace_id: str | None = None


Record = (
    RunHeader
    | ModelsRecord
    | Entry
    | TapeModelCall
    | ToolStart
    | TapeToolCall
    | TapeAnswer
    | TapePrompt
    | McpTools
    | Resumed
    | ResultRecord
)
"""Every line of a transcript; an entry is written flat with `record: entry` beside its own `kind`."""

_ENTRY: TypeAdapter[Any] = TypeAdapter(Entry)
_KINDS: dict[str, type[BaseModel]] = {
    "run": RunHeader,
    "models": ModelsRecord,
    "model_call": TapeModelCall,
    "tool_start": ToolStart,
    "tool_call": TapeToolCall,
    "user_answer": TapeAnswer,
    "prompt": TapePrompt,
    "mcp_tools": McpTools,
    "resume": Resumed,
    "result": ResultRecord,
}


def line_of(record: Record) -> dict[str, Any]:
    """The JSON object of one record (an entry gains `record: entry`)."""
    data = record.model_dump(mode="json")
    if "record" not in data:
        data = {"record": "entry", **data}
    return data


def parse_line(data: Mapping[str, Any]) -> Record | None:
    """The record of one line's object; None for a kind this version does not know (a newer writer's).
    A known kind that does not fit raises ValidationError."""
    kind = data.get("record")
    if kind == "entry":
        entry: Record = _ENTRY.validate_python({k: v for k, v in data.items() if k != "record"})
        return entry
    cls = _KINDS.get(str(kind))
    return None if cls is None else cls.model_validate(data)  # type: ignore[return-value]


class TapeWriter:
    """Appends one record a line and flushes each, so a killed run keeps everything it wrote before.

    Every record is redacted first (also against `secrets`, the run's keys): no credential reaches the file,
    whoever wrote it into a message. Lines are never rewritten; `close` syncs the file to disk.
    """

    def __init__(self, path: Path, *, append_at: int | None = None) -> None:
        """A new file at `path`; with `append_at`, the existing file cut to that many bytes (its torn
        last line dropped) and appended to."""
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if append_at is not None:
            os.truncate(path, append_at)
        self._fh: IO[str] | None = path.open("a" if append_at is not None else "w", encoding="utf-8")
        self.secrets: set[str] = set()

    def write(self, record: Record | Mapping[str, Any]) -> None:
        if self._fh is None:
            return
        data = dict(record) if isinstance(record, Mapping) else line_of(record)
        masked = redact_data(data, extra=self.secrets, mask=SCRUBBED if _is_tape(data) else "***")
        self._fh.write(json.dumps(masked, default=str, ensure_ascii=False) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None


def _is_tape(data: Mapping[str, Any]) -> bool:
    """Tape records are masked as cassettes are (`<scrubbed>`, which a replay's argument match accepts)."""
    return data.get("record") in ("model_call", "tool_start", "tool_call", "user_answer", "prompt")


class Tape(Frozen):
    """A transcript read back: its records in order, and whether a torn last line was dropped."""

    path: Path
    records: tuple[Record, ...]
    torn: bool = False
    size: int = Field(0, description="Bytes up to the end of the last whole line.")

    @property
    def header(self) -> RunHeader | None:
        first = self.records[0] if self.records else None
        return first if isinstance(first, RunHeader) else None

    @property
    def result(self) -> ResultRecord | None:
        last = self.records[-1] if self.records else None
        return last if isinstance(last, ResultRecord) else None

    def of(self, kind: Any) -> list[Any]:
        """The records of one kind (a class, or a tuple of them)."""
        return [r for r in self.records if isinstance(r, kind)]

    def run_result(self) -> RunResult | None:
        """The run's result with its entries, as the run returned it (None when the run did not end)."""
        result = self.result
        if result is None:
            return None
        summary = result.model_dump(exclude={"record", "total_tokens", "trace_id"})
        return RunResult(**summary, transcript=tuple(self.of(ENTRY_TYPES)))


def read_tape(path: str | os.PathLike[str]) -> Tape:
    """Read a transcript's records. What follows the last newline is a record cut by a kill: dropped
    (`torn`). Every complete line must be a record: one that is not raises ScenarioError at its line."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > CASSETTE_MAX_BYTES:
            raise ScenarioError([Issue(path, 1, 1, f"the transcript is over {CASSETTE_MAX_BYTES} bytes")])
        raw = path.read_bytes()
    except OSError as e:
        raise ScenarioError([Issue(path, 1, 1, f"cannot read the transcript: {e.strerror or e}")]) from None
    lines = raw.split(b"\n")
    piece = lines.pop()  # after the last newline: empty when the file ends cleanly
    torn = piece != b""
    records: list[Record] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            record = parse_line(data)
        except (ValueError, ValidationError) as e:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ScenarioError([Issue(path, n, 1, f"not a transcript record: {msg}")]) from None
        if record is not None:
            records.append(record)
    return Tape(path=path, records=tuple(records), torn=torn, size=len(raw) - len(piece))


def cassette_from_tape(tape: Tape, *, upto: int | None = None) -> Cassette:
    """The cassette of what the tape recorded (a partial one for a cut run). With `upto`, only what came
    before the tape's `upto`-th record."""
    records = tape.records[:upto]
    header = tape.header
    agents: dict[str, AgentRecord] = {}
    overrides: dict[str, str] = {}
    for m in (r for r in records if isinstance(r, ModelsRecord)):
        agents.update(m.agents)
        overrides.update(m.overrides)
    tools: dict[str, dict[str, dict[str, Any]]] = {}
    for t in (r for r in records if isinstance(r, McpTools)):
        seen = tools.setdefault(t.server, {})
        for schema in t.tools:
            seen.setdefault(str(schema.get("name")), schema)

    def plain(cls: type[BaseModel], items: Iterable[BaseModel]) -> tuple[Any, ...]:
        return tuple(cls.model_validate(i.model_dump(exclude={"record", "call_id"})) for i in items)

    return Cassette(
        scenario=header.scenario if header else (tape.result.scenario if tape.result else "?"),
        task=header.task if header else None,
        agents=dict(sorted(agents.items())),
        overrides=overrides,
        mcp_tools={s: tuple(t.values()) for s, t in sorted(tools.items())},
        model_calls=plain(ModelCall, (r for r in records if isinstance(r, TapeModelCall))),
        tool_calls=plain(ToolRecord, (r for r in records if isinstance(r, TapeToolCall))),
        mcp_prompts=plain(PromptRecord, (r for r in records if isinstance(r, TapePrompt))),
        user_answers=plain(UserAnswer, (r for r in records if isinstance(r, TapeAnswer))),
    )
