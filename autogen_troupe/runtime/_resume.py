"""`troupe resume`: continue a run that was cut (killed, interrupted, failed) from the tape in its transcript.

The team is built again from the scenario file, the recorded part is replayed from the tape (no model is
called, no tool runs again), and the run goes on live, appending to the same transcript after a `resume`
record, so the finished file reads as one run. Caps count the whole run: the replayed messages and tokens
count again as they are replayed, and the time cap is what is left of it after the time already spent.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Issue, ScenarioError, UsageError
from ..scenario._schema import Scenario
from ..tapes._cassette import SCRUBBED
from ..tapes._records import ENTRY_TYPES, RunResult
from ..tapes._resume import ResumeSession, in_flight
from ..tapes._tape import ResultRecord, Resumed, Tape, ToolStart, read_tape

__all__ = ["Continuation", "check_source", "find_run", "prepare_resume", "resume_run", "spent_running"]


@dataclass
class Continuation:
    """What a run continued from a tape carries into the runner."""

    tape: Tape
    session: ResumeSession
    spent_s: float
    forced: bool = False
    reissued: tuple[str, ...] = field(default_factory=tuple)
    fork_at: int | None = None  # a fork: a new run replaying the tape's first messages, in a new transcript
    changes: dict[str, str] = field(default_factory=dict)  # a fork's --set changes (kept in its header)


def find_run(run: str, out_dir: Path) -> Path:
    """The transcript of RUN: a path, or a run id (a transcript's stem) under `out_dir`."""
    path = Path(run)
    if path.is_file():
        return path
    for candidate in (out_dir / run, out_dir / f"{run}.jsonl"):
        if candidate.is_file():
            return candidate
    raise UsageError(f"no run {run!r}: give the transcript path the run printed, or a run id in {out_dir}")


def _describe(call: ToolStart) -> str:
    where = f"MCP server {call.server!r}" if call.server else "Python tool"
    return f"{call.tool}({_short(call.arguments)}) by agent {call.agent!r} ({where})"


def _short(value: Any, n: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= n else text[: n - 1] + "…"


def _idempotent(call: ToolStart, scenario: Scenario) -> bool:
    """Whether a cut tool call may be made again: the scenario says so (`idempotent: true` on its MCP
    server), or the server marked the tool read-only or idempotent (MCP annotations, as listed)."""
    if call.server is None:
        return False
    server = scenario.mcp_servers.get(call.server)
    return call.idempotent or (server is not None and server.idempotent)


def spent_running(tape: Tape) -> float:
    """Seconds the run spent running before it was cut, across every earlier resume: the latest time a
    record tells (an entry's `elapsed_s`, a cut's result `duration_s`, a resume's `spent_s`; the run's clock
    goes on from the time spent at each resume, so these are totals). The time between runs is not counted;
    what a killed process did after its last record is not known, so not counted either."""
    times = [r.elapsed_s for r in tape.of(ENTRY_TYPES)]
    times += [r.duration_s for r in tape.of(ResultRecord)] + [r.spent_s for r in tape.of(Resumed)]
    return max(times, default=0.0)


def check_source(transcript: Path, tape: Tape, *, force: bool) -> tuple[Path, bool]:
    """The run's scenario file and whether it changed since the run started; a change is refused with
    the diff unless `force`."""
    header = tape.header
    assert header is not None  # read_tape's caller checked
    if header.source is None or header.source_text is None:
        raise UsageError(f"{transcript}: the run did not come from a scenario file, so it cannot be rebuilt")
    source = Path(header.source)
    try:
        now = source.read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(
            f"{transcript}: its scenario file {source} cannot be read: {e.strerror or e}"
        ) from None
    changed = hashlib.sha256(now.encode()).hexdigest() != header.source_sha256
    if changed and not force:
        diff = difflib.unified_diff(
            header.source_text.splitlines(), now.splitlines(), "when the run started", "now", lineterm=""
        )
        raise UsageError(
            f"the scenario file {source} changed since the run started; the recorded part would be replayed "
            "against another team. What changed:\n" + "\n".join(diff) + "\nGo on anyway with --force."
        )
    return source, changed


def prepare_resume(
    transcript: Path, *, force: bool = False, reissue: bool = False, load: Callable[[Path], Scenario]
) -> tuple[Scenario, Continuation]:
    """The scenario and what the runner continues from; refuses a finished run, a changed scenario file
    (unless `force`), and a cut tool call that may not run twice (unless `reissue`)."""
    tape = read_tape(transcript)
    header = tape.header
    if header is None:
        raise ScenarioError([Issue(transcript, 1, 1, "not a run's transcript (no `run` header)")])
    if tape.result is not None and tape.result.stopped_by in ("rule", "limit"):
        raise UsageError(
            f"{transcript}: the run already finished ({tape.result.stop_reason}); nothing to resume"
        )
    source, changed = check_source(transcript, tape, force=force)
    scenario = _load_changed(source, header.changes) if header.changes else load(source)
    cut = in_flight(tape)
    masked = [c for c in cut if SCRUBBED in json.dumps(c.arguments)]
    if masked:
        raise UsageError(
            f"{transcript}: the run was cut while this tool call was running, and its arguments held a "
            "secret, which the transcript does not keep, so it cannot be made again:\n  "
            f"{_describe(masked[0])}\nStart the run again instead."
        )
    refused = [c for c in cut if not (reissue or _idempotent(c, scenario))]
    if refused:
        calls = "\n".join("  " + _describe(c) for c in refused)
        raise UsageError(
            f"{transcript}: the run was cut while these tool calls were running, and they may have done "
            f"their work already:\n{calls}\nCheck what they did; then `troupe resume {transcript} "
            "--reissue` makes them again. (Tools marked idempotent are made again without asking: "
            "`idempotent: true` on the MCP server, or the tool's readOnlyHint/idempotentHint.)"
        )
    spent = spent_running(tape)
    left = scenario.limits.timeout_s - spent
    if left <= 0:
        raise UsageError(
            f"{transcript}: the run already spent its time cap ({spent:g} s of "
            f"{scenario.limits.timeout_s:g} s); raise the scenario's limits.timeout_s to go on"
        )
    scenario = scenario.model_copy(update={"limits": scenario.limits.model_copy(update={"timeout_s": left})})
    session = ResumeSession(tape, scenario)
    return scenario, Continuation(
        tape=tape,
        session=session,
        spent_s=spent,
        forced=changed,
        reissued=tuple(_describe(c) for c in cut),
        changes=dict(header.changes),
    )


def _load_changed(source: Path, changes: dict[str, str]) -> Scenario:
    """The scenario file with a fork's `--set` changes made again."""
    from ..scenario import load_scenario

    return load_scenario(source, changes=changes)


async def resume_run(
    transcript: Path,
    *,
    options: Any = None,
    force: bool = False,
    reissue: bool = False,
    on_event: Callable[[Any], None] | None = None,
) -> RunResult:
    """Continue the run in `transcript` (see the module's docstring); its result covers the whole run."""
    from ..scenario import load_scenario
    from ._runner import RunOptions, run_scenario

    scenario, continuation = prepare_resume(transcript, force=force, reissue=reissue, load=load_scenario)
    header = continuation.tape.header
    assert header is not None  # checked by prepare_resume
    options = options or RunOptions()
    return await run_scenario(
        scenario,
        task=header.task,
        options=options,
        on_event=on_event,
        continuation=continuation,
    )
