"""Every run writes its tape into its transcript as it goes: a `troupe run` killed with SIGKILL mid-run
leaves every model call, tool call and message it had, each line whole and parsing; a torn last line is
dropped on reading with nothing before it lost; a finished run's tape replays as a cassette."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, Reply
from helpers import BUDGET_REPLIES, BUDGET_SCENARIO, wait_for, write

from autogen_troupe import RunOptions, load_scenario, run_scenario
from autogen_troupe.errors import ScenarioError
from autogen_troupe.models._endpoints import Overrides
from autogen_troupe.runtime._tape_runs import replay_scenario
from autogen_troupe.tapes import cassette_from_tape, read_tape
from autogen_troupe.tapes._records import Text, ToolResult
from autogen_troupe.tapes._tape import (
    ModelsRecord,
    RunHeader,
    TapeModelCall,
    TapeToolCall,
    ToolStart,
)

WAIT_S = 60.0  # bounds a hang; nothing here is timed
REPLIES = BUDGET_REPLIES[:3]
"""The writer calls its tool and sums up, the critic answers: three model calls, one tool call."""


def _killed_run(srv: FakeOpenAI, tmp_path: Path) -> Path:
    """`troupe run` killed with SIGKILL while its fourth model call waits on the endpoint."""
    srv.script([*REPLIES, Reply(text="never sent", delay_s=WAIT_S)])
    path = write(tmp_path, BUDGET_SCENARIO, "budget.yaml")
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "autogen_troupe.cli", "run", str(path), "--out", str(out)]
    proc = subprocess.Popen(
        [*cmd, "--base-url", srv.base_url, "--model", "fake-model"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    try:
        wait_for(lambda: len(srv.chat_requests) >= 4 or proc.poll() is not None, "the fourth model call")
        assert proc.poll() is None, "the run ended before the fourth call"
        proc.send_signal(signal.SIGKILL)
        proc.wait(WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    (transcript,) = out.glob("budget-*.jsonl")
    return transcript


def test_a_run_killed_mid_way_keeps_every_call_it_made(srv: FakeOpenAI, tmp_path: Path) -> None:
    transcript = _killed_run(srv, tmp_path)
    raw = transcript.read_bytes()
    assert raw.endswith(b"\n")  # every record is flushed whole before the next call goes out
    lines = [json.loads(line) for line in raw.splitlines()]  # each line parses on its own
    assert lines[-1]["record"] != "result"  # the process died: no result
    tape = read_tape(transcript)
    assert not tape.torn and len(tape.records) == len(lines)
    assert isinstance(tape.header, RunHeader) and tape.header.task == "Budget a 3 day trip."
    assert tape.header.source_text == (tmp_path / "budget.yaml").read_text()
    assert isinstance(tape.records[1], ModelsRecord) and set(tape.records[1].agents) == {"writer", "critic"}
    calls = tape.of(TapeModelCall)
    assert [c.agent for c in calls] == ["writer", "writer", "critic"]
    assert [
        c.response.tool_calls[0].name if c.response.tool_calls else c.response.content for c in calls
    ] == [
        "trip_budget",
        "About $330 in all.",
        "Add a margin for trains.",
    ]
    # each model call's answer as the endpoint sent it, keyed by what was asked
    assert all(c.fingerprint.startswith("sha256:") and c.request["messages"] for c in calls)
    (start,) = tape.of(ToolStart)
    (done,) = tape.of(TapeToolCall)
    assert start.call_id == done.call_id == calls[0].response.tool_calls[0].id
    assert done.tool == "trip_budget" and "330" in done.result and not done.is_error
    # the tool's start comes before its result, and the result before the call that read it
    order = [
        type(r).__name__ for r in tape.records if isinstance(r, TapeModelCall | ToolStart | TapeToolCall)
    ]
    assert order == ["TapeModelCall", "ToolStart", "TapeToolCall", "TapeModelCall", "TapeModelCall"]
    cassette = cassette_from_tape(tape)  # a partial cassette: what a resume replays
    assert len(cassette.model_calls) == 3 and len(cassette.tool_calls) == 1
    assert cassette.agents["writer"].model == "fake-model"


def test_a_torn_last_line_is_dropped_and_nothing_before_it_is_lost(srv: FakeOpenAI, tmp_path: Path) -> None:
    transcript = _killed_run(srv, tmp_path)
    whole = read_tape(transcript)
    line = json.dumps(
        whole.records and {"record": "model_call", "agent": "critic", "fingerprint": "sha256:1"}
    )
    for cut in (1, len(line) // 2, len(line)):  # a write cut anywhere before its newline
        torn = tmp_path / f"torn{cut}.jsonl"
        torn.write_bytes(transcript.read_bytes() + line[:cut].encode())
        again = read_tape(torn)
        assert again.torn and again.records == whole.records
    # a line broken in the middle of the file is not a kill: it is named, never skipped
    lines = transcript.read_bytes().splitlines(keepends=True)
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b"".join([*lines[:2], b'{"record": "entry", \n', *lines[2:]]))
    with pytest.raises(ScenarioError) as e:
        read_tape(broken)
    assert f"{broken}:3:" in str(e.value)


async def test_a_finished_runs_tape_is_a_cassette_that_replays_it(srv: FakeOpenAI, tmp_path: Path) -> None:
    srv.script([*REPLIES, Reply(text="Fine. TERMINATE")])
    path = write(tmp_path, BUDGET_SCENARIO, "budget.yaml")
    scenario = load_scenario(path)
    options = RunOptions(
        overrides=Overrides(base_url=srv.base_url, model="fake-model"),
        env=dict(os.environ),
        out_dir=tmp_path / "runs",
    )
    live = await run_scenario(scenario, options=options)
    assert live.stopped_by == "rule" and live.transcript_path is not None
    tape = read_tape(live.transcript_path)
    assert tape.result is not None and tape.result.stop_reason == live.stop_reason
    entries = [r for r in tape.records if isinstance(r, Text | ToolResult)]
    assert entries == [e for e in live.transcript if isinstance(e, Text | ToolResult)]
    cassette = cassette_from_tape(tape).save(tmp_path / "budget.cassette.json")
    asked = len(srv.chat_requests)
    replayed = await replay_scenario(scenario, cassette)
    assert len(srv.chat_requests) == asked  # the endpoint saw nothing
    assert replayed.complete
    assert [(m.source, m.content) for m in replayed.result.messages] == [
        (m.source, m.content) for m in live.messages
    ]
