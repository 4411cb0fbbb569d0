"""Tool approvals (`approve: allow | ask | deny`): a tool the server marks destructive asks the person
first (the console, the runs API), a refused call is never made and the model reads why, and the decision
is kept with the call, so a replay shows it again and asks nobody."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx2
from fake_openai import FakeOpenAI, Reply
from helpers import write
from served import Served, sse

from autogen_troupe import RunOptions, load_scenario, run_scenario
from autogen_troupe.runtime._human import Question
from autogen_troupe.runtime._modes import execute
from autogen_troupe.tapes._records import McpEvent, ToolResult
from autogen_troupe.testing import ScriptedClient, tool_call

SHREDDER = Path(__file__).resolve().parent / "mcp_fixtures" / "shredder.py"


def clerk(tmp_path: Path, *, server: str = "", use: str = "files", name: str = "clerk.yaml") -> Path:
    """One agent with the shredder's tools (`shred` is marked destructive); `server` adds keys to the
    server, `use` is the agent's entry under `mcp:`."""
    log = tmp_path / "shredder.log"
    return write(
        tmp_path,
        "name: clerk\ntask: Tidy the files.\n"
        f"team:\n  kind: round_robin\n  agents: [{{name: clerk, mcp: [{use}]}}]\n"
        "  termination: {text_mention: DONE}\n"
        f"mcp_servers:\n  files: {{command: {sys.executable}, "
        f"args: [{str(SHREDDER)!r}, {str(log)!r}]{server}}}\n",
        name,
    )


class Person:
    def __init__(self, *answers: str | None) -> None:
        self.answers = list(answers)
        self.asked: list[Question] = []

    async def __call__(self, question: Question) -> str | None:
        self.asked.append(question)
        return self.answers.pop(0)


def made(tmp_path: Path) -> str:
    log = tmp_path / "shredder.log"
    return log.read_text() if log.exists() else ""


def tool_texts(result: Any) -> list[tuple[str, bool]]:
    return [
        (r.content, r.is_error) for e in result.transcript if isinstance(e, ToolResult) for r in e.results
    ]


def approvals(result: Any) -> list[dict[str, Any]]:
    return [e.data for e in result.transcript if isinstance(e, McpEvent) and e.what == "approval"]


SHRED = [tool_call("shred", doc="old.txt"), "DONE"]


async def test_a_destructive_tool_asks_the_person_first(tmp_path: Path) -> None:
    sc = load_scenario(clerk(tmp_path))
    yes = Person("yes")
    result = await run_scenario(sc, clients=ScriptedClient(SHRED), options=RunOptions(ask_human=yes))
    (q,) = yes.asked
    assert q.agent == "clerk" and q.default_answer == "no"
    assert (
        q.prompt
        == 'clerk wants to call shred({"doc": "old.txt"}) on MCP server \'files\'. Allow it? (yes/no)'
    )
    assert made(tmp_path) == "shred old.txt\n" and tool_texts(result) == [("old.txt shredded", False)]
    (note,) = approvals(result)
    assert (note["decision"], note["by"], note["policy"], note["tool"]) == (
        "allowed",
        "person",
        "ask",
        "shred",
    )

    no = Person("no")
    result = await run_scenario(sc, clients=ScriptedClient(SHRED), options=RunOptions(ask_human=no))
    assert made(tmp_path) == "shred old.txt\n"  # not made again
    assert tool_texts(result) == [("Tool call 'shred' denied by the person; it was not run.", True)]
    assert [(n["decision"], n["by"]) for n in approvals(result)] == [("denied", "person")]

    result = await run_scenario(sc, clients=ScriptedClient(SHRED))  # nobody to ask: a no
    assert tool_texts(result) == [
        (
            "Tool call 'shred' needs the person's approval, and nobody can be asked in this run; "
            "it was not run.",
            True,
        )
    ]
    assert made(tmp_path) == "shred old.txt\n"


async def test_tools_without_the_hint_run_and_deny_refuses_without_asking(tmp_path: Path) -> None:
    sc = load_scenario(clerk(tmp_path, server=", approve: {label: deny}"))
    nobody = Person()
    calls = [tool_call("peek", doc="a"), tool_call("label", doc="a"), "DONE"]
    result = await run_scenario(sc, clients=ScriptedClient(calls), options=RunOptions(ask_human=nobody))
    assert nobody.asked == [] and made(tmp_path) == "peek a\n"
    assert tool_texts(result)[1] == (
        "Tool call 'label' denied by the scenario (approve: deny); it was not run.",
        True,
    )
    assert [(n["decision"], n["by"]) for n in approvals(result)] == [("denied", "scenario")]


async def test_the_agents_word_comes_before_the_servers(tmp_path: Path) -> None:
    path = clerk(tmp_path, server=", approve: ask", use="{server: files, approve: {shred: allow}}")
    nobody = Person()
    calls = [tool_call("shred", doc="x"), "DONE"]
    result = await run_scenario(
        load_scenario(path), clients=ScriptedClient(calls), options=RunOptions(ask_human=nobody)
    )
    assert nobody.asked == [] and made(tmp_path) == "shred x\n" and approvals(result) == []


async def test_an_approve_naming_a_tool_the_server_lacks_is_refused(tmp_path: Path) -> None:
    import pytest

    from autogen_troupe.errors import ToolCallError

    sc = load_scenario(clerk(tmp_path, use="{server: files, approve: {shrder: allow}}"))
    with pytest.raises(
        ToolCallError, match="approve names tool 'shrder', which MCP server 'files' does not offer"
    ):
        await run_scenario(sc, clients=ScriptedClient(SHRED))


async def test_an_approval_is_recorded_and_replayed_without_asking(tmp_path: Path) -> None:
    sc = load_scenario(clerk(tmp_path))
    tape = tmp_path / "clerk.cassette.json"
    recorded = await execute(
        sc, "record", cassette=tape, clients=ScriptedClient(SHRED), options=RunOptions(ask_human=Person("y"))
    )
    assert recorded.ok and made(tmp_path) == "shred old.txt\n"
    (call,) = json.loads(tape.read_text())["tool_calls"]
    assert [(n["kind"], n["data"]["decision"]) for n in call["notes"]] == [("approval", "allowed")]
    nobody = Person()  # asked, it would fail: replay never asks
    replayed = await execute(sc, "replay", cassette=tape, options=RunOptions(ask_human=nobody))
    assert replayed.ok and replayed.unplayed == () and nobody.asked == []
    assert made(tmp_path) == "shred old.txt\n"  # no server started, nothing shredded again
    assert approvals(replayed.result) == approvals(recorded.result)
    assert tool_texts(replayed.result) == tool_texts(recorded.result)


def test_troupe_run_asks_on_the_console(srv: FakeOpenAI, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from autogen_troupe.cli import app

    srv.script([Reply(tool_calls=[("shred", {"doc": "old.txt"})]), Reply(text="DONE")])
    path = clerk(tmp_path)
    args = ["run", str(path), "--base-url", srv.base_url, "--model", "m", "--out", str(tmp_path / "runs")]
    done = CliRunner().invoke(app, args, input="yes\n", prog_name="troupe")
    assert done.exit_code == 0, done.stdout + done.stderr
    assert "clerk wants to call shred" in done.stdout and made(tmp_path) == "shred old.txt\n"
    srv.reset()
    srv.script([Reply(tool_calls=[("shred", {"doc": "new.txt"})]), Reply(text="DONE")])
    done = CliRunner().invoke(app, args, input="no\n", prog_name="troupe")
    assert done.exit_code == 0, done.stdout + done.stderr
    assert made(tmp_path) == "shred old.txt\n"
    sent = srv.chat_requests[1].json["messages"]
    assert any("denied by the person" in str(m.get("content")) for m in sent)  # the model read why


def test_the_runs_api_asks_and_takes_the_answer(srv: FakeOpenAI, tmp_path: Path) -> None:
    srv.script([Reply(tool_calls=[("shred", {"doc": "old.txt"})]), Reply(text="DONE")])
    runs = tmp_path / "runs"
    with (
        Served([clerk(tmp_path)], base_url=srv.base_url, out_dir=runs) as served,
        httpx2.Client(base_url=served.url, timeout=30) as api,
    ):
        run = api.post("/api/runs", json={"scenario": "clerk"}).json()
        questions = []
        with api.stream("GET", f"/api/runs/{run['id']}/events") as r:
            for event, data, _ in sse(r):
                if event == "input":
                    questions.append(data)
                    answer = {"text": "yes", "question_id": data["id"]}
                    assert api.post(f"/api/runs/{run['id']}/input", json=answer).status_code == 200
                if event == "done":
                    break
        detail = api.get(f"/api/runs/{run['id']}").json()
    (q,) = questions
    assert q["agent"] == "clerk" and q["kind"] == "approval" and q["default_answer"] == "no"
    assert q["prompt"].startswith("clerk wants to call shred(")
    assert made(tmp_path) == "shred old.txt\n"
    kinds = [(e["kind"], e.get("what")) for e in detail["entries"]]
    assert ("mcp", "approval") in kinds
    assert detail["guards"] == [] and detail["engine_s"] is None  # no guard fired, no engine used


def test_the_console_shows_a_hostile_argument_as_text(srv: FakeOpenAI, tmp_path: Path) -> None:
    """The question names the tool and its arguments; control characters a model put there (a C1 CSI that
    would clear the screen, an OSC retitling the terminal, a bell) are shown as escapes, `[bold]` as text."""
    from typer.testing import CliRunner

    from autogen_troupe.cli import app

    doc = "\x9b2J\x1b]0;pwned\x07[bold red]x[/bold red] <b>y</b>"
    srv.script([Reply(tool_calls=[("shred", {"doc": doc})]), Reply(text="DONE")])
    args = ["run", str(clerk(tmp_path)), "--base-url", srv.base_url, "--model", "m", "--out", str(tmp_path)]
    done = CliRunner().invoke(app, args, input="no\n", prog_name="troupe")
    assert done.exit_code == 0, done.stdout + done.stderr
    asked = (
        'clerk wants to call shred({"doc": "\\x9b2J\\u001b]0;pwned\\u0007[bold red]x[/bold red] <b>y</b>"}) '
        "on MCP server 'files'. Allow it? (yes/no)"
    )
    assert "".join(asked.split()) in "".join(done.stdout.split())  # as printed, wrapped to the width
    for raw in ("\x9b", "\x1b", "\x07"):
        assert raw not in done.stdout + done.stderr
    assert made(tmp_path) == ""
