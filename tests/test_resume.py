"""`troupe resume`: a `troupe run` killed with SIGKILL at several points and resumed ends with the messages an
uninterrupted run has, the endpoint sees no request for the replayed part, the transcript reads as one run
with a marked resume point; a changed scenario file and a tool call cut in flight are refused until the
user says so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAI, Reply
from helpers import BUDGET_REPLIES, BUDGET_SCENARIO, troupe, wait_for, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autogen_troupe.tapes import read_tape
from autogen_troupe.tapes._records import ENTRY_TYPES
from autogen_troupe.tapes._tape import Resumed, TapeModelCall, TapeToolCall

ROOT = Path(__file__).resolve().parent.parent
WAIT_S = 60.0  # bounds a hang; nothing here is timed


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "autogen_troupe.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _kill_when(
    proc: subprocess.Popen[str], ready: Any, what: str, sig: signal.Signals = signal.SIGKILL
) -> None:
    """Send `sig` (SIGKILL: a crash) once `ready()` holds, and wait for the process to end."""
    try:
        wait_for(lambda: ready() or proc.poll() is not None, what)
        assert proc.poll() is None, f"the run ended before {what}"
        proc.send_signal(sig)
        proc.wait(WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
        if proc.stdout is not None:
            proc.stdout.close()


def _messages(transcript: Path) -> list[tuple[str, str]]:
    result = read_tape(transcript).run_result()
    assert result is not None, "the run did not finish"
    return [(m.source, m.content) for m in result.messages]


@pytest.fixture
def uninterrupted(srv: FakeOpenAI, tmp_path: Path) -> list[tuple[str, str]]:
    """The messages of the same run made in one go."""
    srv.script(BUDGET_REPLIES)
    path = (
        write(tmp_path / "whole", BUDGET_SCENARIO, "budget.yaml")
        if (tmp_path / "whole").mkdir() is None
        else None
    )
    assert path is not None
    done = troupe("run", str(path), "--base-url", srv.base_url, "--model", "m", "--out", str(tmp_path / "w"))
    assert done.returncode == 0, done.stdout + done.stderr
    (transcript,) = (tmp_path / "w").glob("budget-*.jsonl")
    srv.reset()
    return _messages(transcript)


@pytest.mark.parametrize("cut_at", [1, 2, 3, 5])
def test_a_run_killed_at_a_model_call_resumes_to_the_same_end(
    srv: FakeOpenAI, tmp_path: Path, uninterrupted: list[tuple[str, str]], cut_at: int
) -> None:
    """Killed while model call `cut_at` waits on the endpoint (after the tool ran, for 2 and up)."""
    srv.script([*BUDGET_REPLIES[: cut_at - 1], Reply(text="never sent", delay_s=WAIT_S)])
    path = write(tmp_path, BUDGET_SCENARIO, "budget.yaml")
    out = tmp_path / "runs"
    proc = _start("run", str(path), "--base-url", srv.base_url, "--model", "m", "--out", str(out))
    _kill_when(proc, lambda: len(srv.chat_requests) >= cut_at, f"model call {cut_at}")
    (transcript,) = out.glob("budget-*.jsonl")
    recorded = len(read_tape(transcript).of(TapeModelCall))
    assert recorded == cut_at - 1
    srv.reset()
    srv.script(BUDGET_REPLIES[cut_at - 1 :])
    # by run id under --out; the model settings are the run's own (recorded), none given again
    done = troupe("resume", transcript.stem, "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert len(srv.chat_requests) == len(BUDGET_REPLIES) - recorded  # nothing asked again
    assert _messages(transcript) == uninterrupted
    tape = read_tape(transcript)
    (mark,) = tape.of(Resumed)
    entries_before = sum(isinstance(r, ENTRY_TYPES) for r in tape.records[: tape.records.index(mark)])
    assert mark.entries == entries_before and not mark.forced and mark.reissued == ()
    assert len(tape.of(TapeModelCall)) == len(BUDGET_REPLIES)  # each call on the tape once
    assert len(tape.of(TapeToolCall)) == 1  # the tool ran once, before the cut
    assert tape.result is not None and tape.result.stopped_by == "rule"


def test_a_finished_run_is_not_resumed(srv: FakeOpenAI, tmp_path: Path) -> None:
    srv.script(BUDGET_REPLIES)
    path = write(tmp_path, BUDGET_SCENARIO, "budget.yaml")
    done = troupe("run", str(path), "--base-url", srv.base_url, "--model", "m", "--out", str(tmp_path / "o"))
    assert done.returncode == 0
    (transcript,) = (tmp_path / "o").glob("budget-*.jsonl")
    again = troupe("resume", str(transcript))
    assert again.returncode == 2 and "already finished" in again.stderr, again.stderr


def _logged(log: Path) -> bool:
    """The tool wrote its line (the file exists a moment before: a kill then would leave it empty)."""
    return log.exists() and log.read_text().endswith("\n")


TOOLS = '''\
import os, time
from pathlib import Path

LOG = Path(__file__).with_name("calls.log")


def book(seat: str) -> str:
    """Book a seat (slow the first time)."""
    with LOG.open("a") as f:
        f.write(seat + "\\n")
    if LOG.read_text().count("\\n") == 1:
        time.sleep(120)
    return f"booked {seat}"
'''


def test_a_tool_call_cut_in_flight_is_made_again_only_when_told(srv: FakeOpenAI, tmp_path: Path) -> None:
    write(tmp_path, TOOLS, "seats.py")
    scenario = textwrap.dedent(
        """\
        name: seats
        task: Book a seat.
        team: {kind: single, agents: [{name: a, tools: ['seats:book'], reflect_on_tool_use: true}]}
        """
    )
    path = write(tmp_path, scenario, "seats.yaml")
    srv.script([Reply(tool_calls=[("book", {"seat": "12A"})])])
    out = tmp_path / "runs"
    proc = _start("run", str(path), "--base-url", srv.base_url, "--model", "m", "--out", str(out))
    log = tmp_path / "calls.log"
    _kill_when(proc, lambda: _logged(log), "the tool call to start")
    (transcript,) = out.glob("seats-*.jsonl")
    srv.reset()
    srv.script([Reply(text="Booked 12A.")])
    refused = troupe("resume", str(transcript))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "book(" in refused.stderr and '"seat": "12A"' in refused.stderr and "--reissue" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert log.read_text() == "12A\n" and not srv.chat_requests  # nothing ran, nothing was asked
    done = troupe("resume", str(transcript), "--reissue")
    assert done.returncode == 0, done.stdout + done.stderr
    assert log.read_text() == "12A\n12A\n"  # made again, once
    assert len(srv.chat_requests) == 1  # only the answer after the tool; the call that asked is replayed
    (mark,) = read_tape(transcript).of(Resumed)
    assert len(mark.reissued) == 1 and "book(" in mark.reissued[0]
    assert _messages(transcript)[-1] == ("a", "Booked 12A.")


def test_a_changed_scenario_is_refused_with_what_changed_unless_forced(
    srv: FakeOpenAI, tmp_path: Path
) -> None:
    srv.script([*BUDGET_REPLIES[:2], Reply(text="never sent", delay_s=WAIT_S)])
    path = write(tmp_path, BUDGET_SCENARIO, "budget.yaml")
    out = tmp_path / "runs"
    proc = _start("run", str(path), "--base-url", srv.base_url, "--model", "m", "--out", str(out))
    _kill_when(proc, lambda: len(srv.chat_requests) >= 3, "model call 3")
    (transcript,) = out.glob("budget-*.jsonl")
    path.write_text(BUDGET_SCENARIO.replace("Criticise it.", "Criticise it harshly."))
    srv.reset()
    srv.script(BUDGET_REPLIES[2:])
    refused = troupe("resume", str(transcript))
    assert refused.returncode == 2
    assert "-      system_message: Criticise it." in refused.stderr
    assert "+      system_message: Criticise it harshly." in refused.stderr and "--force" in refused.stderr
    assert not srv.chat_requests
    done = troupe("resume", str(transcript), "--force")
    assert done.returncode == 0, done.stdout + done.stderr
    assert read_tape(transcript).of(Resumed)[0].forced


LEDGER = Path(__file__).resolve().parent / "mcp_fixtures" / "ledger.py"


@pytest.mark.parametrize(
    ("tool", "args", "flag", "again"),
    [
        ("lookup", {"item": "k"}, False, True),  # the server marks it read-only
        ("charge", {"amount": 5}, False, False),  # no hint: the user decides
        ("charge", {"amount": 5}, True, True),  # the scenario marks the server idempotent
    ],
    ids=["read-only-hint", "no-hint", "idempotent-server"],
)
def test_an_mcp_call_cut_in_flight_is_made_again_when_idempotent(
    srv: FakeOpenAI, tmp_path: Path, tool: str, args: dict[str, Any], flag: bool, again: bool
) -> None:
    log = tmp_path / "ledger.log"
    extra = "    idempotent: true\n" if flag else ""
    scenario = (
        "name: ledger\ntask: Do it.\n"
        "team: {kind: single, agents: [{name: a, mcp: [ledger], reflect_on_tool_use: true}]}\n"
        f"mcp_servers:\n  ledger:\n    command: {sys.executable}\n    args: [{str(LEDGER)!r}, {str(log)!r}]\n"
        + extra
    )
    path = write(tmp_path, scenario, "ledger.yaml")
    srv.script([Reply(tool_calls=[(tool, args)])])
    out = tmp_path / "runs"
    proc = _start("run", str(path), "--base-url", srv.base_url, "--model", "m", "--out", str(out))
    _kill_when(proc, lambda: _logged(log), "the tool call to start")
    (transcript,) = out.glob("ledger-*.jsonl")
    srv.reset()
    srv.script([Reply(text="Done.")])
    done = troupe("resume", str(transcript))
    line = f"{tool} {next(iter(args.values()))}\n"
    if again:
        assert done.returncode == 0, done.stdout + done.stderr
        assert log.read_text() == line * 2  # made again, once
        assert len(srv.chat_requests) == 1 and _messages(transcript)[-1] == ("a", "Done.")
    else:
        assert done.returncode == 2, done.stdout + done.stderr
        assert (
            f"{tool}(" in done.stderr and "MCP server 'ledger'" in done.stderr and "--reissue" in done.stderr
        )
        assert log.read_text() == line and not srv.chat_requests


def test_the_message_cap_counts_the_whole_run(srv: FakeOpenAI, tmp_path: Path) -> None:
    """A cap of 4 messages stops the resumed run where it stops the run made in one go."""
    capped = BUDGET_SCENARIO + "limits: {max_messages: 4}\n"
    srv.script(BUDGET_REPLIES)
    whole = write(tmp_path, capped, "whole.yaml")
    done = troupe("run", str(whole), "--base-url", srv.base_url, "--model", "m", "--out", str(tmp_path / "w"))
    assert done.returncode == 0, done.stdout + done.stderr
    (first,) = (tmp_path / "w").glob("budget-*.jsonl")
    in_one_go = read_tape(first).run_result()
    assert in_one_go is not None and "Maximum number of messages 4" in in_one_go.stop_reason
    srv.reset()
    srv.script([*BUDGET_REPLIES[:2], Reply(text="never sent", delay_s=WAIT_S)])
    path = write(tmp_path, capped, "budget.yaml")
    out = tmp_path / "runs"
    proc = _start("run", str(path), "--base-url", srv.base_url, "--model", "m", "--out", str(out))
    _kill_when(proc, lambda: len(srv.chat_requests) >= 3, "model call 3")
    (transcript,) = out.glob("budget-*.jsonl")
    srv.reset()
    srv.script(BUDGET_REPLIES[2:])
    done = troupe("resume", str(transcript))
    assert done.returncode == 0, done.stdout + done.stderr
    resumed = read_tape(transcript).run_result()
    assert resumed is not None and resumed.stop_reason == in_one_go.stop_reason
    assert _messages(transcript) == _messages(first)
    assert resumed.usage == in_one_go.usage  # tokens count the replayed calls too


def test_a_question_left_unanswered_is_asked_again_on_resume(srv: FakeOpenAI, tmp_path: Path) -> None:
    """Killed while the person's second answer is awaited; the resume gives the first answer again from
    the tape, asks the second one on the terminal, and no model call is made twice."""
    from fake_openai import by_system
    from helpers import approval_scenario

    srv.responder = by_system(
        {
            "Plan.": ["Morning: Fushimi Inari.", "Morning: Fushimi Inari. Evening: Gion."],
            "Sum up.": ["Add an evening.", "Final: Fushimi Inari, Gion. TERMINATE"],
        }
    )
    path = write(tmp_path, approval_scenario(timeout_s=120, extra="model_context: {kind: unbounded}\n"))
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "autogen_troupe.cli", "run", str(path), "--base-url", srv.base_url]
    proc = subprocess.Popen(
        [*cmd, "--model", "m", "--out", str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdin is not None
    proc.stdin.write("Add an evening, please.\n")
    proc.stdin.flush()

    def waiting() -> bool:  # the planner's second answer is on the tape: the person is asked next
        found = list(out.glob("approval-*.jsonl"))
        return bool(found) and len(read_tape(found[0]).of(TapeModelCall)) == 3

    try:
        wait_for(lambda: waiting() or proc.poll() is not None, "the second question")
        assert proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdin.close()
    (transcript,) = out.glob("approval-*.jsonl")
    done = subprocess.run(
        [sys.executable, "-m", "autogen_troupe.cli", "resume", str(transcript)],
        input="APPROVE\n",
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("traveller, your answer") == 1  # only the question left unanswered
    assert len(srv.chat_requests) == 4  # two planner and two summary calls in all, none twice
    assert _messages(transcript) == [
        ("user", "Plan a day in Kyoto."),
        ("planner", "Morning: Fushimi Inari."),
        ("traveller", "Add an evening, please."),
        ("summary", "Add an evening."),
        ("planner", "Morning: Fushimi Inari. Evening: Gion."),
        ("traveller", "APPROVE"),
        ("summary", "Final: Fushimi Inari, Gion. TERMINATE"),
    ]


def test_the_time_cap_counts_only_the_time_spent_before_the_cut(srv: FakeOpenAI, tmp_path: Path) -> None:
    """The resumed run gets what is left of its time cap: the cap less the time the run had spent."""
    from autogen_troupe import load_scenario
    from autogen_troupe.runtime._resume import prepare_resume

    srv.script([*BUDGET_REPLIES[:2], Reply(text="never sent", delay_s=WAIT_S)])
    path = write(tmp_path, BUDGET_SCENARIO + "limits: {timeout_s: 300}\n", "budget.yaml")
    out = tmp_path / "runs"
    proc = _start("run", str(path), "--base-url", srv.base_url, "--model", "m", "--out", str(out))
    _kill_when(proc, lambda: len(srv.chat_requests) >= 3, "model call 3")
    (transcript,) = out.glob("budget-*.jsonl")
    spent = max(r.elapsed_s for r in read_tape(transcript).records if isinstance(r, ENTRY_TYPES))
    assert spent > 0
    scenario, continuation = prepare_resume(transcript, load=load_scenario)
    assert continuation.spent_s == spent
    assert scenario.limits.timeout_s == pytest.approx(300 - spent)


@pytest.fixture(scope="module")
def in_one_go(server: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str]]:
    """The messages of the run made in one go (the module's endpoint, scripted)."""
    server.reset()
    server.script(BUDGET_REPLIES)
    folder = tmp_path_factory.mktemp("whole")
    path = write(folder, BUDGET_SCENARIO, "budget.yaml")
    done = troupe("run", str(path), "--base-url", server.base_url, "--model", "m", "--out", str(folder / "o"))
    assert done.returncode == 0, done.stdout + done.stderr
    (transcript,) = (folder / "o").glob("budget-*.jsonl")
    return _messages(transcript)


@given(cut=st.integers(1, len(BUDGET_REPLIES)), keep=st.floats(0, 1))
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_kill_point_and_any_torn_write_resumes_to_the_same_end(
    srv: FakeOpenAI,
    tmp_path_factory: pytest.TempPathFactory,
    in_one_go: list[tuple[str, str]],
    cut: int,
    keep: float,
) -> None:
    """Killed at model call `cut`, then the tape cut at any byte after its header (a write torn anywhere,
    records lost from the end): the resume asks only for what the tape no longer holds and ends alike."""
    tmp = tmp_path_factory.mktemp("cut")
    srv.reset()
    srv.script([*BUDGET_REPLIES[: cut - 1], Reply(text="never sent", delay_s=WAIT_S)])
    path = write(tmp, BUDGET_SCENARIO, "budget.yaml")
    out = tmp / "runs"
    proc = _start("run", str(path), "--base-url", srv.base_url, "--model", "m", "--out", str(out))
    _kill_when(proc, lambda: len(srv.chat_requests) >= cut, f"model call {cut}")
    (transcript,) = out.glob("budget-*.jsonl")
    raw = transcript.read_bytes()
    start = raw.index(b"\n", raw.index(b"\n") + 1) + 1  # after the header and the models record
    transcript.write_bytes(raw[: start + int(keep * (len(raw) - start))])
    recorded = len(read_tape(transcript).of(TapeModelCall))
    srv.reset()
    srv.script(BUDGET_REPLIES[recorded:])
    done = troupe("resume", str(transcript), "--reissue")  # the budget tool may run twice: it is pure
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(srv.chat_requests) == len(BUDGET_REPLIES) - recorded
    assert _messages(transcript) == in_one_go
