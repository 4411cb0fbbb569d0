"""`troupe fork RUN --at N`: a new run replays the first N messages exactly as recorded (the endpoint sees
none of their calls), goes on live with another model, and its tape is a cassette `troupe test` replays."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, Reply
from helpers import BUDGET_REPLIES, BUDGET_SCENARIO, troupe, write

from autogen_troupe.tapes import read_tape
from autogen_troupe.tapes._tape import TapeModelCall, TapeToolCall

SCENARIO = BUDGET_SCENARIO + "expect:\n  stop_reason: {contains: TERMINATE}\n"

REPLIES = BUDGET_REPLIES


def _messages(transcript: Path) -> list[tuple[str, str]]:
    result = read_tape(transcript).run_result()
    assert result is not None
    return [(m.source, m.content) for m in result.messages]


def test_a_fork_replays_its_first_messages_and_goes_on_live_with_another_model(
    srv: FakeOpenAI, tmp_path: Path
) -> None:
    srv.script(REPLIES)
    path = write(tmp_path, SCENARIO, "budget.yaml")
    out = tmp_path / "runs"
    done = troupe("run", str(path), "--base-url", srv.base_url, "--model", "first-model", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    (original,) = out.glob("budget-*.jsonl")
    srv.reset()
    srv.script([Reply(text="Trains are in: $410."), Reply(text="Good. TERMINATE")])
    cassette = tmp_path / "budget.cassette.json"
    forked = troupe(
        "fork", original.stem, "--at", "3", "--out", str(out), "--model", "second-model",
        "--cassette", str(cassette),
    )  # fmt: skip
    assert forked.returncode == 0, forked.stdout + forked.stderr
    # only the calls after message 3, and with the new model
    assert [r.json["model"] for r in srv.chat_requests] == ["second-model", "second-model"]
    (fork,) = [p for p in out.glob("budget-*.jsonl") if p != original]
    assert _messages(fork)[:3] == _messages(original)[:3]
    assert _messages(fork)[3:] == [("writer", "Trains are in: $410."), ("critic", "Good. TERMINATE")]
    tape = read_tape(fork)
    assert tape.header is not None and tape.header.forked_from == str(original) and tape.header.fork_at == 3
    assert len(tape.of(TapeModelCall)) == 5 and len(tape.of(TapeToolCall)) == 1  # a whole cassette
    assert _messages(original)[3:] == [("writer", "With trains: about $400."), ("critic", "Fine. TERMINATE")]
    # the fork's cassette replays offline under `troupe test`
    srv.reset()
    tested = troupe("test", str(path))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert not srv.chat_requests


def test_a_fork_past_the_end_says_how_many_messages_there_are(srv: FakeOpenAI, tmp_path: Path) -> None:
    srv.script(REPLIES)
    path = write(tmp_path, SCENARIO, "budget.yaml")
    out = tmp_path / "runs"
    assert (
        troupe("run", str(path), "--base-url", srv.base_url, "--model", "m", "--out", str(out)).returncode
        == 0
    )
    (original,) = out.glob("budget-*.jsonl")
    srv.reset()
    forked = troupe("fork", str(original), "--at", "9", "--out", str(out))
    assert forked.returncode == 2 and "the run has 5 message(s)" in forked.stderr, forked.stderr
    assert not srv.chat_requests


def _original(srv: FakeOpenAI, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A whole run of the budget team: its scenario file, its transcript and the runs folder."""
    srv.script(REPLIES)
    path = write(tmp_path, SCENARIO, "budget.yaml")
    out = tmp_path / "runs"
    done = troupe("run", str(path), "--base-url", srv.base_url, "--model", "m", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    (original,) = out.glob("budget-*.jsonl")
    srv.reset()
    return path, original, out


def _fork_of(out: Path, original: Path) -> Path:
    (fork,) = [p for p in out.glob("budget-*.jsonl") if p != original]
    return fork


def test_a_fork_with_a_changed_agent_field_takes_effect_after_message_n(
    srv: FakeOpenAI, tmp_path: Path
) -> None:
    _, original, out = _original(srv, tmp_path)
    srv.script([Reply(text="In euros: about 370 EUR."), Reply(text="Good. TERMINATE")])
    cassette = tmp_path / "euros.cassette.json"
    forked = troupe(
        "fork", str(original), "--at", "3", "--out", str(out), "--cassette", str(cassette),
        "--set", "writer.system_message=Write the budget in euros: short.",
    )  # fmt: skip
    assert forked.returncode == 0, forked.stdout + forked.stderr
    # the endpoint was asked only for messages 4 and 5; the writer's call has its new system message
    assert len(srv.chat_requests) == 2
    assert "Write the budget in euros: short." in srv.chat_requests[0].system
    assert "Criticise it." in srv.chat_requests[1].system
    fork = _fork_of(out, original)
    assert _messages(fork)[:3] == _messages(original)[:3]
    assert _messages(fork)[3:] == [("writer", "In euros: about 370 EUR."), ("critic", "Good. TERMINATE")]
    header = read_tape(fork).header
    assert header is not None and header.changes == {
        "writer.system_message": "Write the budget in euros: short."
    }
    # the cassette replays offline against the changed scenario written beside it
    changed = tmp_path / "euros.yaml"
    assert "Write the budget in euros: short." in changed.read_text()
    srv.reset()
    tested = troupe("test", str(changed))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert not srv.chat_requests


def test_a_fork_with_another_task_and_a_team_field(srv: FakeOpenAI, tmp_path: Path) -> None:
    """--task replaces message 1, --set team.max_turns caps the team: the writer answers message 4 live
    (seeing the new task) and the team stops after its third turn."""
    _, original, out = _original(srv, tmp_path)
    srv.script([Reply(text="Five days: about $650.")])
    forked = troupe(
        "fork", str(original), "--at", "3", "--out", str(out),
        "--task", "Budget a 5 day trip.", "--set", "team.max_turns=3",
    )  # fmt: skip
    assert forked.returncode == 0, forked.stdout + forked.stderr
    (asked,) = srv.chat_requests  # only the call after message 3
    users = [m["content"] for m in asked.json["messages"] if m["role"] == "user"]
    assert users[0] == "Budget a 5 day trip."
    fork = _fork_of(out, original)
    assert _messages(fork)[0] == ("user", "Budget a 5 day trip.")
    assert _messages(fork)[1:3] == _messages(original)[1:3]
    assert _messages(fork)[3:] == [("writer", "Five days: about $650.")]
    result = read_tape(fork).run_result()
    assert result is not None and result.stop.condition == "max_turns"


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ("writr.system_message=x", "no agent named 'writr'"),
        ("writer.sytem_message=x", "unknown key 'sytem_message'; did you mean 'system_message'?"),
        ("team.max_turns=many", "--set team.max_turns: must be a valid integer"),
        ("writer", "give it as AGENT.FIELD=VALUE"),
    ],
)
def test_a_bad_set_is_refused_naming_its_path(
    srv: FakeOpenAI, tmp_path: Path, change: str, said: str
) -> None:
    _, original, out = _original(srv, tmp_path)
    forked = troupe("fork", str(original), "--at", "2", "--out", str(out), "--set", change)
    assert forked.returncode == 2, forked.stdout + forked.stderr
    assert said in forked.stderr and "Traceback" not in forked.stderr + forked.stdout
    assert not srv.chat_requests


def test_a_changed_fork_cut_mid_way_resumes_with_its_changes(srv: FakeOpenAI, tmp_path: Path) -> None:
    """The fork's header keeps its --set changes: a resume makes them again, so its own tape replays
    strictly (the writer's request has the changed system message) and only the cut call is asked again."""
    import signal
    import subprocess
    import sys

    from helpers import wait_for

    _, original, out = _original(srv, tmp_path)
    srv.script([Reply(text="never sent", delay_s=60)])
    flags = ["--out", str(out), "--set", "writer.system_message=Write the budget in euros."]
    proc = subprocess.Popen(
        [sys.executable, "-m", "autogen_troupe.cli", "fork", str(original), "--at", "3", *flags],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: bool(srv.chat_requests) or proc.poll() is not None, "the fork's live call")
        assert proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    fork = _fork_of(out, original)
    srv.reset()
    srv.script([Reply(text="In euros: about 370 EUR."), Reply(text="Good. TERMINATE")])
    done = troupe("resume", str(fork))
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(srv.chat_requests) == 2 and "in euros" in srv.chat_requests[0].system
    assert _messages(fork)[:3] == _messages(original)[:3]
    assert _messages(fork)[3:] == [("writer", "In euros: about 370 EUR."), ("critic", "Good. TERMINATE")]
