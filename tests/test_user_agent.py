"""A person in the team (`kind: user`, AutoGen's UserProxyAgent): asked through `RunOptions.ask_human`,
on the terminal by `troupe run`; the default answer when nobody answers; answers recorded and replayed."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import approval_scenario, troupe, write

from autogen_troupe import RunOptions, load_scenario, run_scenario
from autogen_troupe.errors import ReplayMismatch, ScenarioError
from autogen_troupe.runtime._human import Question
from autogen_troupe.runtime._modes import execute
from autogen_troupe.testing import Cassette, ScriptedClient

UNBOUNDED = "model_context: {kind: unbounded}\n"
ANSWERS = {
    "planner": ["Morning: Fushimi Inari.", "Morning: Fushimi Inari. Evening: Gion."],
    "summary": ["Add an evening.", "Final: Fushimi Inari, Gion. TERMINATE"],
}


def approval(tmp_path: Path, timeout: float = 300) -> Any:
    return load_scenario(write(tmp_path, approval_scenario(timeout_s=timeout, extra=UNBOUNDED)))


class Person:
    """Answers questions from a list, noting each question."""

    def __init__(self, *answers: str | None) -> None:
        self.answers = list(answers)
        self.asked: list[Question] = []

    async def __call__(self, question: Question) -> str | None:
        self.asked.append(question)
        return self.answers.pop(0)


def said(result: Any) -> list[tuple[str, str]]:
    return [(m.source, m.content) for m in result.messages]


def test_a_user_agent_takes_only_its_own_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        name: x
        team:
          kind: round_robin
          agents:
            - name: me
              kind: user
              system_message: hi
            - name: bot
              default_answer: ok
        """,
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    text = str(info.value)
    assert "s.yaml:7:23: team.agents[0].system_message: system_message only applies to an assistant" in text
    assert "default_answer only applies to a user agent (kind: user), and 'bot' is kind 'assistant'" in text
    me = load_scenario(write(tmp_path, "name: y\nteam: {kind: single, agents: [{name: me, kind: user}]}\n"))
    agent = me.team.agents[0]
    assert (agent.description, agent.answer_timeout, agent.answer_default) == (
        "A human user.",
        300.0,
        "TERMINATE",
    )


async def test_the_person_answers_on_the_user_agents_turn(tmp_path: Path) -> None:
    person = Person("Add an evening, please.", "APPROVE")
    scripted = ScriptedClient(ANSWERS)
    result = await run_scenario(approval(tmp_path), clients=scripted, options=RunOptions(ask_human=person))
    assert said(result)[1:] == [
        ("planner", "Morning: Fushimi Inari."),
        ("traveller", "Add an evening, please."),
        ("summary", "Add an evening."),
        ("planner", "Morning: Fushimi Inari. Evening: Gion."),
        ("traveller", "APPROVE"),
        ("summary", "Final: Fushimi Inari, Gion. TERMINATE"),
    ]
    assert [(q.agent, q.timeout_s, q.default_answer) for q in person.asked] == [
        ("traveller", 300.0, "TERMINATE")
    ] * 2
    # the planner's second request carried the person's words
    assert "Add an evening, please." in [m.content for m in scripted.requests("planner")[1]]
    assert result.stopped_by == "rule"


async def test_nobody_to_ask_or_no_answer_in_time_gives_the_default_answer(tmp_path: Path) -> None:
    plain = ScriptedClient({"planner": ["Morning: temples."]})
    result = await run_scenario(approval(tmp_path), clients=plain)  # no ask_human: the default at once
    assert said(result)[-1] == ("traveller", "TERMINATE") and "TERMINATE" in result.stop_reason

    async def never(question: Question) -> str:
        await asyncio.Event().wait()
        return "too late"

    late = ScriptedClient({"planner": ["Morning: temples."]})
    result = await run_scenario(approval(tmp_path, 0.2), clients=late, options=RunOptions(ask_human=never))
    assert said(result)[-1] == ("traveller", "TERMINATE")
    silent = ScriptedClient({"planner": ["Morning: temples."]})
    result = await run_scenario(
        approval(tmp_path), clients=silent, options=RunOptions(ask_human=Person(None))
    )
    assert said(result)[-1] == ("traveller", "TERMINATE")  # None: no answer


async def test_answers_are_recorded_and_replayed_without_asking(tmp_path: Path) -> None:
    sc = approval(tmp_path)
    tape = tmp_path / "approval.cassette.json"
    person = Person("Add an evening, please.", "APPROVE")
    recorded = await execute(
        sc, "record", cassette=tape, clients=ScriptedClient(ANSWERS), options=RunOptions(ask_human=person)
    )
    assert recorded.ok and recorded.cassette == tape
    saved = json.loads(tape.read_text())["user_answers"]
    assert saved == [
        {"agent": "traveller", "answer": "Add an evening, please."},
        {"agent": "traveller", "answer": "APPROVE"},
    ]
    nobody = Person()  # asked, it would fail: replay never asks
    replayed = await execute(sc, "replay", cassette=tape, options=RunOptions(ask_human=nobody))
    assert replayed.ok and replayed.unplayed == () and nobody.asked == []
    assert said(replayed.result) == said(recorded.result)
    # a cassette with an answer missing fails a strict replay, naming the user agent
    short = Cassette.load(tape).model_copy(update={"user_answers": Cassette.load(tape).user_answers[:1]})
    short.save(tape)
    with pytest.raises(
        ReplayMismatch, match="user agent 'traveller' was asked for answer 2, but the cassette holds 1"
    ):
        await execute(sc, "replay", cassette=tape)


def test_troupe_run_asks_on_the_terminal(fake_process: Any, tmp_path: Path) -> None:
    url, _ = fake_process({"by_system": {"Plan.": ANSWERS["planner"], "Sum up.": ANSWERS["summary"]}})
    path = write(tmp_path, approval_scenario(timeout_s=60, extra=UNBOUNDED), "approval.yaml")
    args = [sys.executable, "-m", "autogen_troupe.cli", "run", str(path), "--base-url", url, "--model", "m"]
    proc = subprocess.run(
        [*args, "--out", str(tmp_path / "runs")],
        input="Add an evening, please.\nAPPROVE\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        proc.stdout.count("traveller, your answer (Enter alone, or nothing within 60 s: 'TERMINATE'):") == 2
    )
    (transcript,) = (tmp_path / "runs").glob("approval-*.jsonl")
    records = [json.loads(line) for line in transcript.read_text().splitlines()]
    answers = [
        r["content"]
        for r in records
        if r["record"] == "entry" and r["source"] == "traveller" and r["kind"] == "text"
    ]
    assert answers == ["Add an evening, please.", "APPROVE"]


def test_troupe_run_without_a_terminal_gives_the_default_answer(fake_process: Any, tmp_path: Path) -> None:
    url, _ = fake_process({"by_system": {"Plan.": ANSWERS["planner"]}})
    path = write(tmp_path, approval_scenario(timeout_s=60, extra=UNBOUNDED), "approval.yaml")
    r = troupe("run", str(path), "--base-url", url, "--model", "m", "--out", str(tmp_path / "runs"))
    assert r.returncode == 0, r.stderr
    assert "(no input: traveller answers 'TERMINATE')" in r.stdout
    assert "stopped on its termination rule" in r.stdout
