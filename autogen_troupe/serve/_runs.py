"""Runs a server is carrying: each one a task driving the one run call (`runtime.execute`), its events
kept in order and fanned out to whoever watches (the page, an SSE client, a chat completion).

Every run writes its JSONL transcript under the server's `--out` folder, as `troupe run` does; what is
kept here is for watching: the entries as they come (secrets masked; streamed text through one
`StreamRedactor` per speaker, so a secret cut across chunks is masked too), the question a user agent is
waiting on, and how the run ended. Each run's start and end is one line of the server's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .._redact import StreamRedactor, redact_data, redact_text
from .._text import terminal_safe
from ..errors import TroupeError, UsageError
from ..runtime._transcript import Chunk, RunResult, Usage
from ._catalog import Catalog
from ._config import ServeConfig
from ._http import one_paragraph

__all__ = ["RunManager", "ServedRun", "Status", "usage_json"]

Status = Literal["running", "waiting", "done", "failed", "stopped"]
MCP_ANSWER_S = 300.0  # how long an MCP server's question waits for the person before it is cancelled
_QUEUE_MAX = 10_000  # events a watcher may fall behind by before it is dropped (it can reconnect)
_CLOSE = {"event": "_close"}
_PASSING = ("chunk", "model")  # events passed on to whoever watches now, not kept
log = logging.getLogger("autogen_troupe.serve")
_VIA = {"openai": "the OpenAI-compatible API", "api": "the runs API", "a2a": "A2A"}


def usage_json(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


@dataclass
class Pending:
    """A question a user agent is waiting on; answered through `ServedRun.answer`."""

    id: str
    agent: str
    prompt: str
    timeout_s: float
    default_answer: str
    asked_at: float
    future: asyncio.Future[Any]  # the text (a user agent), or an MCP `Answer`
    mcp: dict[str, Any] | None = None  # an MCP server's question: server, message, schema or url
    # a tool call waiting for the person's yes: its server, tool and (masked) arguments
    approval: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "agent": self.agent,
            "prompt": self.prompt,
            "timeout_s": self.timeout_s,
            "default_answer": self.default_answer,
            "asked_at": self.asked_at,
            "kind": "mcp" if self.mcp is not None else "approval" if self.approval is not None else "user",
        }
        if self.mcp is not None:
            out["mcp"] = self.mcp
        if self.approval is not None:
            out["approval"] = self.approval
        return out


@dataclass
class ServedRun:
    """One run: its events (each with a sequence number; streamed chunks are passed on, not kept), its
    status, and how it ended."""

    id: str
    scenario: str
    task: str
    origin: str
    started_at: float = field(default_factory=time.time)
    status: Status = "running"
    events: list[dict[str, Any]] = field(default_factory=list)
    result: RunResult | None = None
    error: str | None = None
    transcript: Path | None = None
    pending: Pending | None = None
    tokens: dict[str, Usage] = field(default_factory=dict)
    ended_at: float | None = None
    model_note: dict[str, Any] | None = None  # what a model is doing now, until it answers
    _started: float = field(default_factory=time.monotonic)
    _watchers: set[asyncio.Queue[dict[str, Any]]] = field(default_factory=set)
    _task: asyncio.Task[None] | None = None
    _ended: asyncio.Event = field(default_factory=asyncio.Event)
    _one_question: asyncio.Lock = field(default_factory=asyncio.Lock)  # servers' questions wait their turn
    _streams: dict[str, StreamRedactor] = field(default_factory=dict)  # a speaker's text being streamed
    _stream_at: dict[str, float | None] = field(default_factory=dict)  # ...and its last chunk's time

    # ------------------------------------------------------------------ what it shows

    @property
    def usage(self) -> Usage:
        total = Usage()
        for u in self.tokens.values():
            total = total + u
        return total

    @property
    def done(self) -> bool:
        return self._ended.is_set()

    def summary(self) -> dict[str, Any]:
        """The run as the API lists it."""
        elapsed = (self.ended_at or time.time()) - self.started_at
        out: dict[str, Any] = {
            "id": self.id,
            "scenario": self.scenario,
            "task": self.task,
            "origin": self.origin,
            "status": self.status,
            "started_at": self.started_at,
            "elapsed_s": round(elapsed, 3),
            "usage": usage_json(self.usage),
            "tokens_by_agent": {a: usage_json(u) for a, u in self.tokens.items() if u.total_tokens},
            "messages": sum(1 for e in self.events if e["event"] == "entry" and e["data"]["kind"] == "text"),
            "pending": self.pending.as_json() if self.pending is not None else None,
            "transcript": self.transcript.name if self.transcript is not None else None,
            "live": not self.done,
            "run_id": self.id,
        }
        if self.result is not None:
            out.update(
                stop_reason=redact_text(self.result.stop_reason),
                stopped_by=self.result.stopped_by,
                stop=self.result.stop.model_dump(mode="json"),  # redacted with the rest below
                final_message=redact_text(self.result.final_message),
                guards=list(self.result.guards),
                engine_s=self.result.engine_s,
            )
        if self.error is not None:
            out["error"] = self.error
        return redact_data(out)  # the task and answers may quote a secret; none leaves the server

    # ------------------------------------------------------------------ what happens

    def publish(self, event: str, data: dict[str, Any], *, masked: dict[str, Any] | None = None) -> None:
        """Keep (unless it only passes: a chunk, a model status) and pass on one event, secrets masked
        (`masked`: fields already masked, added as they are)."""
        record: dict[str, Any] = {"event": event, "data": {**redact_data(data), **(masked or {})}}
        if event not in _PASSING:
            record["seq"] = len(self.events)
            self.events.append(record)
        for q in list(self._watchers):
            try:
                q.put_nowait(record)
            except asyncio.QueueFull:  # far behind: drop it; the client reconnects with Last-Event-ID
                self._watchers.discard(q)

    def on_event(self, item: Any) -> None:
        """The runner's `on_event`: each transcript entry (and streamed chunk) as it happens."""
        note = self.model_note
        if note is not None and note["agent"] in (None, item.source):
            self.model_note = None  # the model answered (the task, passed on meanwhile, is not an answer)
        if isinstance(item, Chunk):
            stream = self._streams.setdefault(item.source, StreamRedactor())
            self._stream_at[item.source] = item.elapsed_s
            self._chunk(item.source, stream.feed(item.content), item.elapsed_s)
            return
        self._end_stream(getattr(item, "source", None))
        if item.usage is not None:
            self.tokens[item.source] = self.tokens.get(item.source, Usage()) + item.usage
        self.publish("entry", item.model_dump(mode="json"))

    def on_model_status(self, status: Any) -> None:
        """The runner's `on_status`: what a model is doing before it answers (loading the engine, waiting
        for the first token), as a `model` event; passed on, not kept, but the latest is given to a
        watcher that comes meanwhile (a page opened while the engine loads)."""
        data = {"phase": status.phase, "message": status.message, "agent": status.agent}
        self.model_note = None if status.phase == "ready" else redact_data(data)
        self.publish("model", data)

    def _chunk(self, source: str, text: str, elapsed_s: float | None) -> None:
        if text:  # masked by the speaker's StreamRedactor: not masked again piece by piece
            self.publish("chunk", {"source": source, "elapsed_s": elapsed_s}, masked={"content": text})

    def _end_stream(self, source: str | None = None) -> None:
        """The speaker's message is complete (all speakers' with None): let out what its masker held."""
        for name in [source] if source is not None else list(self._streams):
            stream = self._streams.pop(name, None)
            if stream is not None:
                self._chunk(name, stream.end(), self._stream_at.pop(name, None))

    def end(self, status: Status, *, result: RunResult | None = None, error: str | None = None) -> None:
        """The run ended: clients are told one paragraph of `error`; its whole text (a traceback from
        inside AutoGen, say) goes to the server's log."""
        self._end_stream()
        self.status, self.result = status, result
        self.error = one_paragraph(error) if error is not None else None
        self.ended_at = time.time()
        if result is not None and result.transcript_path is not None:
            self.transcript = result.transcript_path
        s = self.summary()
        log.info(
            "run %s %s: %d messages, %d tokens, %.2f s%s",
            self.id,
            status,
            s["messages"],
            s["usage"]["total_tokens"],
            s["elapsed_s"],
            terminal_safe(f": {self.error}") if self.error else "",
        )
        if error is not None and error != self.error:
            log.error("run %s failed with:\n%s", self.id, terminal_safe(redact_text(error)))
        self.publish("done", s)
        self._ended.set()
        for q in list(self._watchers):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(_CLOSE)

    def set_status(self, status: Status) -> None:
        self.status = status
        self.publish(
            "status", {"status": status, "pending": self.pending.as_json() if self.pending else None}
        )

    async def wait(self) -> None:
        await self._ended.wait()

    def detail(self) -> dict[str, Any]:
        """The summary with every entry so far (what the page draws a run from)."""
        entries = [e["data"] for e in self.events if e["event"] == "entry"]
        return {**self.summary(), "entries": entries}

    def cancel(self) -> bool:
        """Stop the run (its MCP servers end, its transcript gets its result); False if it had ended."""
        if self.done or self._task is None:
            return False
        self._task.cancel()
        return True

    async def watch(self, after: int = -1) -> AsyncIterator[dict[str, Any]]:
        """The run's events with a sequence number above `after`, then live ones until it ends."""
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(_QUEUE_MAX)
        self._watchers.add(q)
        try:
            last = after
            for record in list(self.events):
                if record["seq"] > last:
                    last = record["seq"]
                    yield record
            if self.model_note is not None and not self.done:
                yield {"event": "model", "data": self.model_note}
            while not (self.done and q.empty()):
                record = await q.get()
                if record is _CLOSE:
                    break
                if record.get("seq", last + 1) > last or record["event"] == "chunk":
                    last = record.get("seq", last)
                    yield record
        finally:
            self._watchers.discard(q)

    # ------------------------------------------------------------------ a user agent's question

    async def ask(self, question: Any) -> str | None:
        """Wait for the person's answer to a user agent's question (the runner applies the timeout)."""
        answered: str | None = await self._wait(
            question.agent,
            question.prompt,
            question.timeout_s,
            question.default_answer,
            approval=dict(question.approval) if question.approval is not None else None,
        )
        return answered

    async def ask_mcp(self, question: Any) -> Any:
        """Wait for the person's answer to an MCP server's question (`tools._mcp_client.Question`);
        nobody within `MCP_ANSWER_S` cancels it, so the tool call goes on."""
        from ..tools._mcp_client import Answer

        mcp = {"server": question.server, "message": question.message}
        mcp.update({"schema": question.schema} if question.schema is not None else {"url": question.url})
        async with self._one_question:
            try:
                got = await asyncio.wait_for(
                    self._wait(f"mcp:{question.server}", question.message, MCP_ANSWER_S, "cancel", mcp),
                    MCP_ANSWER_S,
                )
            except asyncio.TimeoutError:
                got = None
        return got if got is not None else Answer("cancel")

    async def _wait(
        self,
        agent: str,
        prompt: str,
        timeout_s: float,
        default: str,
        mcp: dict[str, Any] | None = None,
        *,
        approval: dict[str, Any] | None = None,
    ) -> Any:
        loop = asyncio.get_running_loop()
        self.pending = pending = Pending(
            id=secrets.token_hex(6),
            agent=agent,
            prompt=prompt,
            timeout_s=timeout_s,
            default_answer=default,
            asked_at=time.time(),
            future=loop.create_future(),
            mcp=mcp,
            approval=approval,
        )
        self.publish("input", pending.as_json())
        self.set_status("waiting")
        answered: Any = None
        try:
            answered = await pending.future
            return answered
        finally:
            self.pending = None
            self.publish("input_closed", {"id": pending.id, "answered": answered is not None})
            if not self.done:
                self.set_status("running")

    def answer(self, text: Any, question_id: str | None = None) -> bool:
        """Give the waiting question its answer (text; an MCP `Answer` for a server's question); False when
        none is waiting (or another one is)."""
        p = self.pending
        if p is None or p.future.done() or (question_id is not None and question_id != p.id):
            return False
        p.future.set_result(text)
        return True


class RunManager:
    """Starts runs, finds them, stops them; at most `config.max_runs` at once."""

    def __init__(self, catalog: Catalog, config: ServeConfig, *, clients: Any = None) -> None:
        self.catalog = catalog
        self.config = config
        self._clients = clients  # tests and benchmarks only: a client source instead of live models
        self.runs: OrderedDict[str, ServedRun] = OrderedDict()

    @property
    def active(self) -> int:
        return sum(1 for r in self.runs.values() if not r.done)

    @property
    def full(self) -> bool:
        return self.active >= self.config.max_runs

    def get(self, run_id: str) -> ServedRun | None:
        return self.runs.get(run_id)

    def start(
        self,
        scenario: str,
        task: str | None,
        *,
        origin: str,
        overrides: Any = None,
        run_id: str | None = None,
    ) -> ServedRun:
        """Start a run of a served scenario; raises ScenarioError when its file no longer loads or there
        is no task. The caller checks `full` first. `run_id`: an id of the caller's (an A2A task's)."""
        from ..errors import Issue, ScenarioError
        from ..runtime._mcp import text_preview
        from ..runtime._runner import RunOptions
        from ..scenario._template import template_task_issue

        sc = self.catalog.load(scenario)
        given = task if task is not None and task.strip() else None  # else the scenario's (perhaps an MCP
        task = given or text_preview(sc.task)  # prompt, fetched when the run starts: shown by its name here)
        template = None if given else template_task_issue(sc)
        if template is not None:  # an eval template's task: `{{name}}`s only `troupe eval` fills
            raise ScenarioError([template])
        if not task:
            where = sc.source or sc.name
            raise ScenarioError([Issue(where, 1, 1, "the scenario has no task: give one")])
        run = ServedRun(id=run_id or secrets.token_hex(6), scenario=sc.name, task=task, origin=origin)
        base = self.config.overrides
        if overrides is not None:
            base = overrides if base is None else base.under(overrides)
        options = RunOptions(
            overrides=base,
            env=self.config.env,
            out_dir=self.config.out_dir,
            run_id=run.id,
            ask_human=run.ask,
            ask_mcp=run.ask_mcp,
            on_status=run.on_model_status,
        )
        self.runs[run.id] = run
        self._forget_old()
        via = _VIA.get(origin, origin)
        log.info("run %s started: scenario %s, from %s", run.id, terminal_safe(run.scenario), via)
        run._task = asyncio.get_running_loop().create_task(self._drive(run, sc, given, options))
        return run

    def resume(self, past_id: str) -> ServedRun:
        """Continue a cut run of a served scenario from the tape in its transcript (`troupe resume`); it
        keeps its id and its transcript. Raises UsageError when there is no such run, its scenario is not
        served from the file it ran from, or the resume is refused (see `runtime._resume`)."""
        from ..runtime._mcp import text_preview
        from ..runtime._resume import prepare_resume
        from ..runtime._runner import RunOptions
        from ..tapes._tape import read_tape

        path = self._past_path(past_id)
        header = read_tape(path).header
        offered = self.catalog.offered.get(header.scenario) if header is not None else None
        if header is None or offered is None or str(offered.path) != header.source:
            raise UsageError(f"run {past_id!r} is not of a scenario this server serves from its file")
        run_id = header.run_id or secrets.token_hex(6)
        if run_id in self.runs and not self.runs[run_id].done:
            raise UsageError(f"run {past_id!r} is going")
        prepare_resume(path, load=lambda p: self.catalog.load(header.scenario))  # refused before it starts
        task = header.task or text_preview(offered.scenario.task)
        run = ServedRun(id=run_id, scenario=header.scenario, task=task, origin="resume")
        run.transcript = path
        options = RunOptions(
            overrides=self.config.overrides,
            env=self.config.env,
            out_dir=self.config.out_dir,
            run_id=run.id,
            ask_human=run.ask,
            ask_mcp=run.ask_mcp,
        )
        self.runs[run.id] = run
        self.runs.move_to_end(run.id)
        self._forget_old()
        drive = self._drive(run, None, None, options, mode="resume", transcript=path)
        run._task = asyncio.get_running_loop().create_task(drive)
        return run

    def _past_path(self, past_id: str) -> Path:
        out = self.config.out_dir
        path = out / f"{past_id}.jsonl"
        inside = path.resolve().parent == out.resolve() and not past_id.startswith(".")
        if not inside or not path.is_file():
            raise UsageError(f"no run {past_id!r} in {out}")
        return path

    async def _drive(
        self, run: ServedRun, scenario: Any, task: str | None, options: Any, mode: Any = "live", **tape: Any
    ) -> None:
        from ..runtime._modes import execute

        try:
            done = await execute(
                scenario,
                mode,
                task=task,
                options=options,
                clients=self._clients if mode == "live" else None,
                on_event=run.on_event,
                **tape,
            )
        except asyncio.CancelledError as e:  # stopped: the runner wrote the transcript's result first
            run.transcript = getattr(e, "transcript_path", None)
            run.end("stopped", error="stopped before the team finished")
            return
        except TroupeError as e:
            run.transcript = getattr(e, "transcript_path", None)
            run.end("failed", error=redact_text(f"{type(e).__name__}: {e}"))
            return
        except Exception as e:  # a failure the runner did not type: still one line, never a traceback
            run.end("failed", error=redact_text(f"The run failed: {type(e).__name__}: {e}"))
            return
        run.end("done" if done.ok else "failed", result=done.result, error=done.problem)

    def _forget_old(self) -> None:
        """Keep at most `keep_finished` ended runs in memory (their transcripts stay on disk)."""
        ended = [k for k, r in self.runs.items() if r.done]
        for k in ended[: max(0, len(ended) - self.config.keep_finished)]:
            del self.runs[k]

    async def aclose(self) -> None:
        """Stop every run still going and wait (bounded) for their transcripts to be closed."""
        going = [r for r in self.runs.values() if not r.done]
        for r in going:
            r.cancel()
        tasks = [r._task for r in going if r._task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=15)
