"""What a run keeps as it goes: its entries and usage, and its transcript (the tape), opened with a header
naming the scenario file as it was, written record by record, closed with the result."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._redact import redact_text
from ..models._engine_time import EngineMeter
from ..scenario._schema import Scenario
from ..tapes._records import ENTRY_TYPES, Chunk, Entry, McpEvent, RunResult, StopReason, ToolResult, Usage
from ..tapes._tape import ModelsRecord, ResultRecord, Resumed, RunHeader, TapeWriter

if TYPE_CHECKING:
    from ..tapes._record import Recorder
    from ._resume import Continuation
    from ._runner import RunOptions

__all__ = ["RunRecord"]

EventHook = Callable[["Entry | Chunk"], None]


class RunRecord:
    """What a run keeps as it goes: its entries and usage, the JSONL transcript (written line by line, so
    an interrupted run keeps what it had) and where the engine's log goes."""

    def __init__(
        self,
        scenario: Scenario,
        task: str,
        options: RunOptions,
        on_event: EventHook | None,
        wanted: Any,
        continuation: Continuation | None = None,
    ) -> None:
        self.scenario, self.task, self.options, self.on_event = scenario, task, options, on_event
        self.started = time.monotonic()
        self.entries: list[Entry] = []
        self.notes: list[McpEvent] = []  # MCP notes not yet kept (see `note`)
        self.usage = Usage()
        self.meter = EngineMeter()  # the in-process engine's time spent on this run's requests
        self.skip = 0  # entries a resumed run replays that its transcript already holds
        if continuation is None or continuation.fork_at is not None:
            self.writer = _open_writer(
                scenario, options, wanted if isinstance(wanted, str) else None, continuation
            )
        else:
            self.writer = self._continue(continuation)
        self.log_path = self.writer.path.with_suffix(".log") if self.writer is not None else None
        self.telemetry = _run_telemetry(scenario, task, options)

    def _continue(self, continuation: Continuation) -> TapeWriter:
        """Append to the cut run's transcript (its torn last line dropped) after a `resume` record; the
        clock goes on from the time the run had spent."""
        tape = continuation.tape
        self.started -= continuation.spent_s
        self.skip = sum(1 for r in tape.records if isinstance(r, ENTRY_TYPES))
        writer = TapeWriter(tape.path, append_at=tape.size)
        writer.write(
            Resumed(
                at=dt.datetime.now(dt.timezone.utc),
                entries=self.skip,
                spent_s=round(continuation.spent_s, 3),
                forced=continuation.forced,
                reissued=continuation.reissued,
            )
        )
        return writer

    def traced(self) -> contextlib.AbstractContextManager[Any]:
        """The run's span is the current one inside the block (nothing when telemetry is off)."""
        return self.telemetry.active() if self.telemetry is not None else contextlib.nullcontext()

    def engine_logs(self) -> contextlib.AbstractContextManager[Any]:
        if not self.options.capture_engine_logs or self.log_path is None:
            return contextlib.nullcontext()
        from ._logs import engine_logs_to

        return engine_logs_to(self.log_path, console=self.options.show_engine_logs)

    def models(self, specs: Mapping[str, Any], recorder: Recorder | None) -> None:
        """The models record, then the tape: what the recorder noted so far and each call from now on."""
        if self.writer is None:
            return
        from ..models._resolved import redacted

        models = {a: redacted(s) for a, s in specs.items()}
        if recorder is None:
            self.writer.write(ModelsRecord(models=models))
            return
        self.writer.secrets |= recorder.secrets
        self.writer.write(ModelsRecord(models=models, agents=recorder.agents, overrides=recorder.overrides))
        recorder.attach(self.writer.write)

    def emit(self, item: Entry | Chunk) -> None:
        if isinstance(item, ToolResult):
            self._flush_notes({r.call_id for r in item.results})
        if not isinstance(item, Chunk):
            self._keep(item)
        if self.on_event is not None:
            self.on_event(item)

    def note(self, item: McpEvent) -> None:
        """An MCP server's note: shown at once, kept just before the result of the tool call it belongs to
        (a note of no known call: before the next result), so the transcript's order does not depend on
        timing."""
        self.notes.append(item)
        if self.on_event is not None:
            self.on_event(item)

    def _flush_notes(self, calls: set[str] | None = None) -> None:
        """Keep the pending notes of these calls and of no known call (all of them with None)."""
        keep = [n for n in self.notes if calls is None or n.call_id is None or n.call_id in calls]
        self.notes = [n for n in self.notes if n not in keep]
        for n in keep:
            self._keep(n)

    def _keep(self, item: Entry) -> None:
        self.entries.append(item)
        if item.usage is not None:
            self.usage = self.usage + item.usage
        if self.skip > 0:  # replayed: already on the transcript
            self.skip -= 1
        elif self.writer is not None:
            self.writer.write(item)

    def finish(self, stop: StopReason, error: str | None, *, error_type: str | None = None) -> RunResult:
        """The result, also written as the transcript's last record (and the run's span ended)."""
        self._flush_notes()
        log = self.log_path
        result = RunResult(
            scenario=self.scenario.name,
            task=self.task,
            stop=stop,
            transcript=tuple(self.entries),
            usage=self.usage,
            duration_s=round(time.monotonic() - self.started, 3),
            transcript_path=self.writer.path if self.writer else None,
            log_path=log if log is not None and log.exists() else None,
            error=error,
            engine_s=round(self.meter.seconds, 3) if self.meter.requests else None,
        )
        if self.writer is not None:
            trace_id = self.telemetry.trace_id if self.telemetry is not None else None
            summary = ResultRecord(
                **result.model_dump(exclude={"transcript", "stop_reason", "stopped_by"}),
                total_tokens=self.usage.total_tokens,
                trace_id=trace_id or None,  # the run in the tracing backend
            )
            self.writer.write(summary)
            self.writer.close()
        if self.telemetry is not None:
            self.telemetry.finish(
                stop_reason=redact_text(stop.text),
                stopped_by=stop.kind,
                messages=len(self.entries),
                input_tokens=self.usage.prompt_tokens,
                output_tokens=self.usage.completion_tokens,
                error_type=error_type,
                error_message=error,
            )
        return result


def _run_telemetry(scenario: Scenario, task: str, options: RunOptions) -> Any:
    """The run's telemetry with its span started, or None when telemetry is off (imports nothing then)."""
    from .. import telemetry

    if not telemetry.enabled():
        return None
    run = telemetry.RunTelemetry(env=options.env)
    run.start(scenario=scenario.name, team_kind=scenario.team.kind, task_length=len(task))
    return run


def _open_writer(
    scenario: Scenario, options: RunOptions, task: str | None, fork: Continuation | None = None
) -> TapeWriter | None:
    """The transcript, opened with its header: the scenario file as it is now (a resume compares it)."""
    if options.out_dir is None:
        return None
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    if options.run_id is not None:  # also in the name: a server's runs started at once stay apart
        stamp += f"-{options.run_id}"
    writer = TapeWriter(Path(options.out_dir) / f"{scenario.name}-{stamp}.jsonl")
    text = _source_text(scenario.source)
    writer.write(
        RunHeader(
            scenario=scenario.name,
            started_at=dt.datetime.now(dt.timezone.utc),
            run_id=options.run_id,
            task=task,
            source=str(scenario.source) if scenario.source else None,
            source_sha256=hashlib.sha256(text.encode()).hexdigest() if text is not None else None,
            source_text=text,
            forked_from=str(fork.tape.path) if fork is not None else None,
            fork_at=fork.fork_at if fork is not None else None,
            changes=fork.changes if fork is not None else {},
        )
    )
    return writer


def _source_text(path: Path | None) -> str | None:
    """The scenario file's text, when the scenario came from a file that is still readable."""
    if path is None:
        return None
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeError):
        return None
