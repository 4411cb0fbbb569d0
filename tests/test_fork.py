"""`troupe fork RUN --at N`: a new run replays the first N messages exactly as recorded (the endpoint sees
none of their calls), goes on live with another model, and its tape is a cassette `troupe test` replays."""

from __future__ import annotations

from pathlib import Path

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
