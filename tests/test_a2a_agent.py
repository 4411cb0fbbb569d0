"""A remote A2A agent as a team member (`kind: a2a`): a real `troupe serve` in another process serves the
remote team (its model the fake endpoint), our team calls it through the a2a-sdk client; its answers are
recorded in the cassette and replayed with the remote gone; failures are typed errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fake_openai import FakeOpenAI, Reply, by_system
from helpers import APPROVAL_REPLIES, approval_scenario, troupe, write

from autogen_troupe import RunOptions, load_scenario, run_scenario
from autogen_troupe.errors import (
    NetworkBlocked,
    RemoteAgentBadAnswer,
    RemoteAgentRefused,
    RemoteAgentUnreachable,
    ReplayMismatch,
)
from autogen_troupe.runtime._modes import execute
from autogen_troupe.testing import Cassette, ScriptedClient, tool_call

TOKEN = "remote-t0ken-0123456789abcdef"
ADVISOR = """\
name: advisor
description: Gives one piece of travel advice.
task: Advise.
team: {kind: single, agents: [{name: advisor, system_message: Advise.}]}
"""
ADVICE = ["Take the early train to Patan.", "Eat momos in Thamel. TERMINATE"]
PLANNER = ["Day 1: Kathmandu.", "Day 2: Patan and Thamel."]


class RemoteServe:
    """`troupe serve` in a process of its own, its models the fake endpoint."""

    def __init__(
        self, tmp_path: Path, scenario: Path, base_url: str, *args: str, env: dict[str, str]
    ) -> None:
        cmd = [sys.executable, "-m", "autogen_troupe.cli", "serve", str(scenario), "--port", "0"]
        cmd += [
            "--out",
            str(tmp_path / "remote-runs"),
            "--base-url",
            base_url,
            "--model",
            "fake-model",
            *args,
        ]
        self.proc = subprocess.Popen(
            cmd, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        first = self.proc.stdout.readline() if self.proc.stdout else ""  # blocks until it listens
        assert first.startswith("troupe serve: "), first
        self.url = first.split()[2]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.communicate(timeout=30)


@pytest.fixture
def serve(tmp_path: Path, srv: FakeOpenAI) -> Iterator[Callable[..., RemoteServe]]:
    started: list[RemoteServe] = []

    def start(*args: str, env: dict[str, str] | None = None) -> RemoteServe:
        s = RemoteServe(
            tmp_path, write(tmp_path, ADVISOR, "advisor.yaml"), srv.base_url, *args, env=env or {}
        )
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def team(tmp_path: Path, url: str, extra: str = "") -> Any:
    text = f"""\
name: trip
task: Plan 2 days in Nepal.
team:
  kind: round_robin
  agents:
    - {{name: planner, system_message: Plan.}}
    - {{name: advisor, kind: a2a, url: "{url}", description: A travel advisor elsewhere.{extra}}}
  termination: {{any: [{{text_mention: TERMINATE}}, {{max_messages: 6}}]}}
"""
    return load_scenario(write(tmp_path, text, "trip.yaml"))


def said(result: Any) -> list[tuple[str, str]]:
    return [(m.source, m.content) for m in result.messages]


def planner() -> ScriptedClient:
    return ScriptedClient({"planner": PLANNER})


async def test_a_remote_agent_takes_its_turns_in_the_team(
    srv: FakeOpenAI, serve: Callable[..., RemoteServe], tmp_path: Path
) -> None:
    srv.responder = by_system({"Advise.": ADVICE})
    remote = serve()
    result = await run_scenario(team(tmp_path, remote.url + "a2a/advisor"), clients=planner())
    assert said(result) == [
        ("user", "Plan 2 days in Nepal."),
        ("planner", PLANNER[0]),
        ("advisor", ADVICE[0]),
        ("planner", PLANNER[1]),
        ("advisor", ADVICE[1]),
    ]
    # the remote team was sent what was said since the advisor's last turn: first both, then the planner's
    asked = [r.json["messages"][-1]["content"] for r in srv.chat_requests]
    assert asked == [f"user: Plan 2 days in Nepal.\n\nplanner: {PLANNER[0]}", PLANNER[1]]
    runs = httpx2.get(remote.url + "api/runs").json()["runs"]
    assert [r["origin"] for r in runs] == ["a2a", "a2a"] and all(r["status"] == "done" for r in runs)


async def test_answers_are_recorded_and_replayed_with_the_remote_gone(
    srv: FakeOpenAI, serve: Callable[..., RemoteServe], tmp_path: Path
) -> None:
    srv.responder = by_system({"Advise.": ADVICE})
    remote = serve()
    sc = team(tmp_path, remote.url + "a2a/advisor")
    tape = tmp_path / "trip.cassette.json"
    recorded = await execute(sc, "record", cassette=tape, clients=planner())
    assert recorded.ok
    calls = json.loads(tape.read_text())["tool_calls"]
    assert [(c["agent"], c["tool"], c["server"], c["result"]) for c in calls] == [
        ("advisor", "a2a:advisor", None, ADVICE[0]),
        ("advisor", "a2a:advisor", None, ADVICE[1]),
    ]
    remote.stop()
    srv.reset()  # nothing may reach the endpoint either
    replayed = await execute(sc, "replay", cassette=tape)
    assert replayed.ok and replayed.unplayed == () and said(replayed.result) == said(recorded.result)
    assert srv.chat_requests == []
    # a different conversation is not answered from the recording
    changed = Cassette.load(tape)
    first = changed.tool_calls[0].model_copy(update={"arguments": {"message": "something else"}})
    changed.model_copy(update={"tool_calls": (first, *changed.tool_calls[1:])}).save(tape)
    with pytest.raises(ReplayMismatch, match="a2a:advisor"):
        await execute(sc, "replay", cassette=tape)


async def test_unreachable_refused_and_bad_answers_are_typed_errors(
    srv: FakeOpenAI, serve: Callable[..., RemoteServe], tmp_path: Path
) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/a2a/advisor"
    with pytest.raises(
        RemoteAgentUnreachable, match=r"A2A agent 'advisor' at http://127\.0\.0\.1:\d+/a2a/advisor"
    ):
        await run_scenario(team(tmp_path, closed), clients=planner())
    with pytest.raises(RemoteAgentBadAnswer, match=r"gave no agent card \(HTTP 404\)"):
        await run_scenario(team(tmp_path, srv.base_url), clients=planner())
    remote = serve("--token", TOKEN)
    wrong = ', headers: {Authorization: "Bearer ${ADVISOR_TOKEN}"}'
    os.environ["ADVISOR_TOKEN"] = "not-the-token-0123456789"
    try:
        with pytest.raises(RemoteAgentRefused, match="401") as refused:
            await run_scenario(team(tmp_path, remote.url + "a2a/advisor", wrong), clients=planner())
        assert "not-the-token" not in str(refused.value)
        srv.responder = by_system({"Advise.": ADVICE})
        os.environ["ADVISOR_TOKEN"] = TOKEN
        out = tmp_path / "runs"
        result = await run_scenario(
            team(tmp_path, remote.url + "a2a/advisor", wrong),
            clients=planner(),
            options=RunOptions(out_dir=out),
        )
    finally:
        del os.environ["ADVISOR_TOKEN"]
    assert said(result)[-1] == ("advisor", ADVICE[1])
    written = "".join(p.read_text() for p in out.iterdir())
    assert TOKEN not in written and "a2a:advisor" in written


async def test_a_remote_that_takes_too_long_is_cut_at_its_timeout(
    srv: FakeOpenAI, serve: Callable[..., RemoteServe], tmp_path: Path
) -> None:
    srv.responder = lambda body: Reply(text="late", delay_s=30)
    remote = serve()
    with pytest.raises(RemoteAgentUnreachable, match=r"gave no answer within 0\.5 s"):
        await run_scenario(team(tmp_path, remote.url + "a2a/advisor", ", timeout_s: 0.5"), clients=planner())


def test_check_validates_a2a_agents(tmp_path: Path) -> None:
    bad = write(
        tmp_path,
        "name: t\ntask: hi\nteam:\n  kind: round_robin\n  agents:\n"
        "    - {name: a, kind: a2a}\n"
        "    - {name: b, kind: a2a, url: ftp://x, system_message: hi}\n"
        "    - {name: c, url: 'http://x'}\n",
        "bad.yaml",
    )
    r = troupe("check", str(bad))
    assert r.returncode == 2, r.stderr
    assert (
        f"{bad}:6:7: team.agents[0]: agent 'a' is kind a2a and needs the `url` of the remote agent"
        in r.stderr
    )
    assert "team.agents[1].url: must be an http:// or https:// URL" in r.stderr
    assert "team.agents[2].url: url only applies to kind: a2a, and 'c' is kind 'assistant'" in r.stderr
    good = write(
        tmp_path,
        "name: t\ntask: hi\nteam:\n  kind: selector\n  agents:\n    - {name: a}\n"
        "    - {name: b, kind: a2a, url: 'https://agents.example/a2a/b', timeout_s: 60,\n"
        "       headers: {Authorization: 'Bearer ${B_TOKEN:-x}'}}\n",
        "good.yaml",
    )
    assert troupe("check", str(good)).returncode == 0
    remote = load_scenario(good).team.agents[1]  # what a selector reads of it, unless it says
    assert remote.description == "A remote agent, reached over A2A." and remote.answer_within == 60


async def test_tests_may_not_call_a_remote_agent_off_this_machine(tmp_path: Path) -> None:
    with pytest.raises(NetworkBlocked, match=r"A2A agent 'advisor' at https://agents\.example/a2a/advisor"):
        await run_scenario(team(tmp_path, "https://agents.example/a2a/advisor"), clients=planner())


async def test_a_remote_that_asks_back_is_answered_by_the_team(srv: FakeOpenAI, tmp_path: Path) -> None:
    srv.responder = by_system(APPROVAL_REPLIES)
    approval = write(tmp_path, approval_scenario(timeout_s=60), "approval.yaml")
    remote = RemoteServe(tmp_path, approval, srv.base_url, env={})
    try:
        client = ScriptedClient(
            {"traveller_agent": ["Plan a day in Kyoto.", "Add an evening, please.", "APPROVE"]}
        )
        text = """\
name: trip
task: Go.
team:
  kind: round_robin
  agents:
    - {name: traveller_agent, system_message: Travel.}
    - {name: kyoto, kind: a2a, url: "URL"}
  termination: {any: [{text_mention: TERMINATE}, {max_messages: 8}]}
""".replace("URL", remote.url + "a2a/approval")
        result = await run_scenario(load_scenario(write(tmp_path, text, "trip.yaml")), clients=client)
    finally:
        remote.stop()
    kyoto = [m.content for m in result.messages if m.source == "kyoto"]
    assert kyoto[0].startswith("planner: Morning: Fushimi Inari.") and len(kyoto) == 3
    assert kyoto[1].startswith("summary: Add an evening.\n\nplanner: Morning: Fushimi Inari. Evening: Gion.")
    assert kyoto[2] == "Final: Fushimi Inari, Gion. TERMINATE"
    # one remote run (one task), asked twice and answered twice by our team's words
    (transcript,) = (tmp_path / "remote-runs").glob("*.jsonl")
    entries = [json.loads(line) for line in transcript.read_text().splitlines()]
    answers = [e["content"] for e in entries if e.get("kind") == "text" and e.get("source") == "traveller"]
    assert answers == ["Add an evening, please.", "APPROVE"]


async def test_a_remote_agent_joins_every_team_kind(
    srv: FakeOpenAI, serve: Callable[..., RemoteServe], tmp_path: Path
) -> None:
    srv.responder = lambda body: Reply(text="Advice. TERMINATE")
    url = serve().url + "a2a/advisor"
    scripts: dict[str, tuple[str, dict[str, Any]]] = {
        "selector": ("", {"planner": ["p1"], "selector": ["planner", "advisor"]}),
        "swarm": (", handoffs: [advisor]", {"planner": [tool_call("transfer_to_advisor")]}),
        "graph": ("", {"planner": ["p1"]}),
        "single": ("", {}),
    }
    for kind, (extra, script) in scripts.items():
        agents = f"    - {{name: planner, system_message: Plan.{extra}}}\n" if kind != "single" else ""
        text = (
            f"name: t\ntask: Plan.\nteam:\n  kind: {kind}\n  agents:\n{agents}"
            f'    - {{name: advisor, kind: a2a, url: "{url}"}}\n'
            "  termination: {any: [{text_mention: TERMINATE}, {max_messages: 6}]}\n"
        )
        result = await run_scenario(
            load_scenario(write(tmp_path, text, f"{kind}.yaml")), clients=ScriptedClient(script)
        )
        assert said(result)[-1] == ("advisor", "Advice. TERMINATE"), kind


async def test_a_remote_task_left_waiting_is_cancelled_when_the_run_ends(
    srv: FakeOpenAI, tmp_path: Path
) -> None:
    srv.responder = by_system(APPROVAL_REPLIES)
    approval = write(tmp_path, approval_scenario(timeout_s=60), "approval.yaml")
    remote = RemoteServe(tmp_path, approval, srv.base_url, env={})
    text = f"""\
name: short
task: Go.
team:
  kind: round_robin
  agents:
    - {{name: planner, system_message: Plan.}}
    - {{name: kyoto, kind: a2a, url: "{remote.url}a2a/approval"}}
  termination: {{max_messages: 3}}
"""
    try:
        sc = load_scenario(write(tmp_path, text, "short.yaml"))
        result = await run_scenario(sc, clients=ScriptedClient({"planner": ["Plan a day in Kyoto."]}))
        runs = httpx2.get(remote.url + "api/runs").json()["runs"]
    finally:
        remote.stop()
    assert said(result)[-1][0] == "kyoto" and result.stop_reason.startswith("Maximum number of messages 3")
    assert [r["status"] for r in runs] == ["stopped"]  # it had asked back; nobody will answer now
