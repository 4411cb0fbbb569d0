"""More points to kill a real `troupe run` at with SIGKILL, then `troupe resume`: in the middle of a streamed
answer, while a (read-only) MCP tool call runs, and in the middle of writing a record of the tape. Each
time the resumed run ends with the messages of the run made in one go, the endpoint is asked nothing the
tape holds, and no tool that may not run twice ran twice. (Between model calls, during a Python tool
call, while waiting on a person, and tapes cut at any byte: tests/test_resume.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, Reply
from helpers import BUDGET_REPLIES, BUDGET_SCENARIO, TESTS, troupe, wait_for, write
from test_resume import WAIT_S, _kill_when, _messages, _start

from autogen_troupe.tapes import read_tape
from autogen_troupe.tapes._tape import TapeModelCall, TapeToolCall

ROOT = TESTS.parent


def _whole(
    srv: FakeOpenAI, folder: Path, scenario: str, name: str, replies: list[Reply]
) -> list[tuple[str, str]]:
    """The messages of the run made in one go."""
    srv.reset()
    srv.script(replies)
    path = write(folder, scenario, f"{name}.yaml")
    out = folder / "whole"
    done = troupe("run", str(path), "--base-url", srv.base_url, "--model", "m", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    (transcript,) = out.glob(f"{name}-*.jsonl")
    srv.reset()
    return _messages(transcript)


def test_a_run_killed_in_the_middle_of_a_streamed_answer(srv: FakeOpenAI, tmp_path: Path) -> None:
    whole = _whole(srv, tmp_path, BUDGET_SCENARIO, "budget", BUDGET_REPLIES)
    srv.script([*BUDGET_REPLIES[:3], Reply(text="With trains: about $400.", stall_after=3)])
    path = write(tmp_path, BUDGET_SCENARIO, "budget.yaml")
    out, shown = tmp_path / "runs", tmp_path / "shown.txt"
    cmd = [sys.executable, "-m", "autogen_troupe.cli", "run", str(path), "--base-url", srv.base_url]
    with shown.open("w") as sink:
        proc = subprocess.Popen(
            [*cmd, "--model", "m", "--out", str(out)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:  # "With trains:" streamed and shown, the rest of the answer not yet sent
            wait_for(lambda: "With trains:" in shown.read_text() or proc.poll() is not None, "the stream")
            assert proc.poll() is None and "$400" not in shown.read_text()
            proc.send_signal(signal.SIGKILL)
            proc.wait(WAIT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
    (transcript,) = out.glob("budget-*.jsonl")
    assert len(read_tape(transcript).of(TapeModelCall)) == 3  # the cut answer is not on the tape
    srv.reset()
    srv.script(BUDGET_REPLIES[3:])
    done = troupe("resume", str(transcript))
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(srv.chat_requests) == 2  # the cut call again, and the last one
    assert _messages(transcript) == whole
    assert len(read_tape(transcript).of(TapeToolCall)) == 1


GATE = TESTS / "mcp_fixtures" / "gate.py"


def test_a_run_killed_during_an_mcp_tool_call(srv: FakeOpenAI, tmp_path: Path) -> None:
    """`charge` (may not run twice) is done before the cut, `lookup` (read-only) is cut while it runs: the
    resume answers `charge` from the tape, makes `lookup` again, and goes on."""
    log, gate = tmp_path / "ledger.log", tmp_path / "gate"
    scenario = (
        "name: shop\ntask: Charge 5, then look the receipt up.\n"
        "team: {kind: single, agents: [{name: a, mcp: [gate], reflect_on_tool_use: true, "
        "max_tool_iterations: 3}]}\n"
        f"mcp_servers:\n  gate:\n    command: {sys.executable}\n"
        f"    args: [{str(GATE)!r}, {str(log)!r}, {str(gate)!r}]\n"
    )
    replies = [
        Reply(tool_calls=[("charge", {"amount": 5})]),
        Reply(tool_calls=[("lookup", {"item": "receipt"})]),
        Reply(text="Charged 5; the receipt is 42."),
    ]
    whole = _whole(srv, tmp_path, scenario, "shop", replies)
    assert log.read_text() == "charge 5\nlookup receipt\n"
    log.unlink()
    gate.touch()
    srv.script(replies)
    path = write(tmp_path, scenario, "shop.yaml")
    out = tmp_path / "runs"
    proc = _start("run", str(path), "--base-url", srv.base_url, "--model", "m", "--out", str(out))
    _kill_when(proc, lambda: log.exists() and "lookup" in log.read_text(), "the lookup call to start")
    gate.unlink()
    (transcript,) = out.glob("shop-*.jsonl")
    srv.reset()
    srv.script(replies[2:])
    done = troupe("resume", str(transcript))
    assert done.returncode == 0, done.stdout + done.stderr
    assert log.read_text() == "charge 5\nlookup receipt\nlookup receipt\n"  # charge once; lookup again
    assert len(srv.chat_requests) == 1  # the answer after the tool; both calls that asked are replayed
    assert _messages(transcript) == whole


def test_a_run_killed_in_the_middle_of_writing_its_tape(srv: FakeOpenAI, tmp_path: Path) -> None:
    """The third model call's record is half written when the process is killed: the resume drops the torn
    line and asks the endpoint for that call again (and only for what follows)."""
    whole = _whole(srv, tmp_path, BUDGET_SCENARIO, "budget", BUDGET_REPLIES)
    srv.script(BUDGET_REPLIES)
    path = write(tmp_path, BUDGET_SCENARIO, "budget.yaml")
    out, marker = tmp_path / "runs", tmp_path / "torn"
    flags = ["--base-url", srv.base_url, "--model", "m", "--out", str(out)]
    proc = subprocess.Popen(
        [sys.executable, str(TESTS / "torn_write.py"), str(marker), "3", "run", str(path), *flags],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        wait_for(lambda: marker.exists() or proc.poll() is not None, "the torn write")
        assert proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    (transcript,) = out.glob("budget-*.jsonl")
    assert not transcript.read_bytes().endswith(b"\n")  # the last line is torn
    tape = read_tape(transcript)
    assert tape.torn and len(tape.of(TapeModelCall)) == 2
    srv.reset()
    srv.script(BUDGET_REPLIES[2:])
    done = troupe("resume", str(transcript))
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(srv.chat_requests) == 3
    assert _messages(transcript) == whole
    tape = read_tape(transcript)
    assert not tape.torn and len(tape.of(TapeModelCall)) == len(BUDGET_REPLIES)
    assert len(tape.of(TapeToolCall)) == 1  # the tool ran once


def test_the_time_cap_counts_the_time_spent_across_every_resume(srv: FakeOpenAI, tmp_path: Path) -> None:
    """Stopped (SIGTERM, as by Ctrl-C) while model call 3 waits (its result says how long the run had run),
    resumed, then killed right after the resume mark: a second resume counts the time of the first part,
    not only up to its last message, and nothing of the time between the runs."""
    from autogen_troupe import load_scenario
    from autogen_troupe.runtime._resume import prepare_resume
    from autogen_troupe.tapes._records import ENTRY_TYPES
    from autogen_troupe.tapes._tape import Resumed

    srv.script([*BUDGET_REPLIES[:2], Reply(text="never sent", delay_s=WAIT_S)])
    path = write(tmp_path, BUDGET_SCENARIO + "limits: {timeout_s: 300}\n", "budget.yaml")
    out = tmp_path / "runs"
    proc = _start("run", str(path), "--base-url", srv.base_url, "--model", "m", "--out", str(out))
    _kill_when(proc, lambda: len(srv.chat_requests) >= 3, "model call 3", signal.SIGTERM)
    (transcript,) = out.glob("budget-*.jsonl")
    cut = read_tape(transcript)
    assert cut.result is not None and cut.result.stopped_by == "interrupted"
    first = cut.result.duration_s
    assert first > max(r.elapsed_s for r in cut.of(ENTRY_TYPES))  # it waited on call 3 after message 3
    srv.reset()
    srv.script([Reply(text="never sent", delay_s=WAIT_S)])
    proc = _start("resume", str(transcript))
    _kill_when(proc, lambda: bool(srv.chat_requests), "the resumed call")
    (mark,) = read_tape(transcript).of(Resumed)
    assert mark.spent_s == first
    scenario, continuation = prepare_resume(transcript, load=load_scenario)
    assert continuation.spent_s >= first
    assert scenario.limits.timeout_s == pytest.approx(300 - continuation.spent_s)
