"""Whole runs against a real fake endpoint on 127.0.0.1: teams, MCP tools, headers, caps, transcripts, CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest
from fake_openai import FakeOpenAI, Reply, by_system
from helpers import cli, write

from autogen_troupe import RunOptions, load_scenario, run_scenario
from autogen_troupe.errors import ContentBlocked, RunError
from autogen_troupe.models._endpoints import Overrides

TESTS = Path(__file__).resolve().parent


def options(srv: FakeOpenAI, tmp_path: Path, **env: str) -> RunOptions:
    return RunOptions(
        overrides=Overrides(base_url=srv.base_url, model="fake-model"),
        env={**os.environ, **env},
        out_dir=tmp_path / "runs",
    )


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def children() -> set[int]:
    alive = (p for p in psutil.Process().children(recursive=True) if p.is_running())
    return {p.pid for p in alive if p.status() != "zombie"}


async def test_travel_team_speaks_in_order_and_stops_on_terminate(srv: FakeOpenAI, tmp_path: Path) -> None:
    srv.responder = by_system(
        {
            "suggest a travel plan": ["Day 1: Kathmandu. Day 2: Patan. Day 3: Bhaktapur."],
            "authentic and interesting local": ["Try momos in Thamel."],
            "language or communication": ["Learn 'namaste' and 'dhanyabaad'."],
            "detailed final travel plan": [
                "Final plan: Kathmandu, Patan, Bhaktapur, momos, namaste. TERMINATE"
            ],
        }
    )
    result = await run_scenario(load_scenario("travel_planning"), options=options(srv, tmp_path))
    assert [m.source for m in result.messages] == [
        "user",
        "planner_agent",
        "local_agent",
        "language_agent",
        "travel_summary_agent",
    ]
    assert result.stopped_by == "rule"
    assert "TERMINATE" in result.stop_reason
    assert result.final_message.endswith("TERMINATE")
    assert result.usage.total_tokens > 0  # streamed usage was asked for and counted
    # Each agent's request carried the earlier turns, other agents' turns as named user messages.
    last = srv.chat_requests[-1].json
    assert last["stream"] is True and last["stream_options"] == {"include_usage": True}
    assert [m.get("name") for m in last["messages"] if m["role"] == "user"][-3:] == [
        "planner_agent",
        "local_agent",
        "language_agent",
    ]
    # The transcript: header, models (no secrets), one line per message, the result last.
    recs = records(result.transcript_path)
    assert [r["record"] for r in recs][:2] == ["run", "models"]
    assert recs[-1]["record"] == "result" and recs[-1]["stopped_by"] == "rule"
    assert sum(r["record"] == "entry" for r in recs) == 5
    assert recs[1]["models"]["planner_agent"]["base_url"] == srv.base_url


async def test_time_agent_reaches_the_real_mcp_server_time(srv: FakeOpenAI, tmp_path: Path) -> None:
    def responder(body: dict[str, Any]) -> Reply:
        tool_msgs = [m for m in body["messages"] if m["role"] == "tool"]
        if not tool_msgs:
            assert [t["function"]["name"] for t in body["tools"]] == ["get_current_time"]  # its allow list
            return Reply(tool_calls=[("get_current_time", {"timezone": "Asia/Seoul"})])
        answer = json.loads(tool_msgs[-1]["content"])
        return Reply(text=f"It is {answer['datetime']} in Seoul.")

    srv.responder = responder
    before = children()  # other tests' session-wide servers may be running
    result = await run_scenario(load_scenario("time_agent"), options=options(srv, tmp_path))
    kinds = [e.kind for e in result.transcript]
    assert kinds == ["text", "tool_call", "tool_result", "text"]
    tool_result = result.transcript[2].results[0]
    assert tool_result.name == "get_current_time" and not tool_result.is_error
    stamp = json.loads(tool_result.content)["datetime"]
    assert stamp.endswith("+09:00")  # mcp-server-time answered for Asia/Seoul
    assert result.final_message == f"It is {stamp} in Seoul."
    assert children() <= before


async def test_genos_profile_sends_bearer_and_user_id(srv: FakeOpenAI, tmp_path: Path) -> None:
    srv.default = Reply(text="hello TERMINATE")
    sc = load_scenario("travel_planning")
    env = {
        **os.environ,
        "GENOS_URL": srv.origin,
        "GENOS_SERVING_ID": "43",
        "GENOS_API_KEY": "sk-genos-secret",
        "GENOS_USER_ID": "653",
    }
    opts = RunOptions(overrides=Overrides(profile="genos"), env=env, out_dir=tmp_path / "runs")
    result = await run_scenario(sc, options=opts)
    assert result.stopped_by == "rule"
    model_list, first = srv.requests[0], srv.chat_requests[0]
    assert model_list.path == "/api/gateway/rep/serving/43/v1/models"  # model discovered
    assert first.path == "/api/gateway/rep/serving/43/v1/chat/completions"
    assert first.headers["authorization"] == "Bearer sk-genos-secret"
    assert first.headers["x-genos-user-id"] == "653"
    assert first.json["model"] == "fake-model"
    assert "sk-genos-secret" not in result.transcript_path.read_text()


async def test_a_team_without_rule_stops_at_the_default_cap(srv: FakeOpenAI, tmp_path: Path) -> None:
    srv.default = Reply(text="and so on")
    sc = load_scenario(
        write(
            tmp_path,
            """
            name: chatter
            task: talk
            team: {kind: round_robin, agents: [{name: a}, {name: b}]}
            limits: {repeated_message: null}  # else the loop breaker stops it first (test_guards.py)
            """,
        )
    )
    result = await run_scenario(sc, options=options(srv, tmp_path))
    assert result.stopped_by == "limit"
    assert len(result.messages) == 40  # the task plus 39 answers: the default cap
    assert "Maximum number of messages 40 reached" in result.stop_reason


async def test_the_scenarios_own_max_messages_is_its_rule(srv: FakeOpenAI, tmp_path: Path) -> None:
    srv.default = Reply(text="and so on")
    sc = load_scenario(
        write(
            tmp_path,
            """
            name: short
            task: talk
            team:
              kind: round_robin
              agents: [{name: a}, {name: b}]
              termination: {max_messages: 3}
            limits: {max_messages: 10}
            """,
        )
    )
    result = await run_scenario(sc, options=options(srv, tmp_path))
    assert result.stopped_by == "rule" and len(result.messages) == 3


async def test_a_hanging_model_call_is_cut_by_the_time_cap(srv: FakeOpenAI, tmp_path: Path) -> None:
    srv.default = Reply(text="late", delay_s=30)
    sc = load_scenario(
        write(
            tmp_path,
            """
            name: slow
            task: talk
            team: {kind: single, agents: [{name: a}]}
            limits: {timeout_s: 0.5}
            """,
        )
    )
    result = await run_scenario(sc, options=options(srv, tmp_path))
    assert result.stopped_by == "limit"
    assert "Hard time limit" in result.stop_reason


async def test_two_runs_at_once_in_one_loop_do_not_mix(srv: FakeOpenAI, tmp_path: Path) -> None:
    srv.responder = lambda body: Reply(text=f"echo: {body['messages'][-1]['content']}")
    sc = load_scenario(write(tmp_path, "name: echo\nteam: {kind: single, agents: [{name: a}]}\n"))
    r1, r2 = await asyncio.gather(
        run_scenario(sc, task="first", options=options(srv, tmp_path)),
        run_scenario(sc, task="second", options=options(srv, tmp_path)),
    )
    assert r1.final_message == "echo: first" and r2.final_message == "echo: second"
    assert r1.transcript_path != r2.transcript_path


async def test_an_interrupted_run_still_writes_its_transcript(srv: FakeOpenAI, tmp_path: Path) -> None:
    srv.script([Reply(text="first answer")])
    srv.default = Reply(text="never", delay_s=30)
    sc = load_scenario(
        write(tmp_path, "name: cut\ntask: go\nteam: {kind: round_robin, agents: [{name: a}]}\n")
    )
    answered = asyncio.Event()

    def on_event(entry: Any) -> None:
        if getattr(entry, "content", None) == "first answer":
            answered.set()

    task = asyncio.ensure_future(run_scenario(sc, options=options(srv, tmp_path), on_event=on_event))
    await asyncio.wait_for(answered.wait(), 30)
    await asyncio.sleep(0.3)  # the second model call is under way (the server holds it for 30 s)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (path,) = (tmp_path / "runs").glob("cut-*.jsonl")
    recs = records(path)
    assert recs[-1]["record"] == "result" and recs[-1]["stopped_by"] == "interrupted"
    assert [r["content"] for r in recs if r["record"] == "entry"] == ["go", "first answer"]


async def test_blocked_content_ends_the_run_with_a_clear_error(srv: FakeOpenAI, tmp_path: Path) -> None:
    srv.default = Reply(blocked=True)
    sc = load_scenario("travel_planning")
    with pytest.raises(ContentBlocked) as info:
        await run_scenario(sc, options=options(srv, tmp_path))
    assert "moderation" in str(info.value)
    (path,) = (tmp_path / "runs").glob("travel_planning-*.jsonl")
    assert records(path)[-1]["stopped_by"] == "error"


async def test_a_dying_mcp_server_fails_the_run_with_its_stderr(srv: FakeOpenAI, tmp_path: Path) -> None:
    srv.default = Reply(text="unused")
    sc = load_scenario(
        write(
            tmp_path,
            """
            name: broken_tool
            task: go
            team: {kind: single, agents: [{name: a, mcp: [bad]}]}
            mcp_servers:
              bad:
                command: python
                args: [-c, "import sys; sys.stderr.write('boom: no config found'); sys.exit(3)"]
            """,
        )
    )
    before = children()
    with pytest.raises(RunError) as info:
        await run_scenario(sc, options=options(srv, tmp_path))
    assert "boom: no config found" in str(info.value)
    assert srv.chat_requests == []  # failed before the first model call
    assert children() <= before


# --------------------------------------------------------------------------- the CLI as a user runs it


def test_cli_run_streams_and_writes_the_transcript(fake_process, tmp_path: Path) -> None:
    base, log = fake_process({"default": "A plan. TERMINATE"})
    proc = cli(
        "run",
        "travel_planning",
        "--base-url",
        base,
        "--out",
        str(tmp_path / "out"),
        env={"TROUPE_API_KEY": "sk-cli-secret"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "planner_agent" in proc.stdout and "stopped on its termination rule" in proc.stdout
    (path,) = (tmp_path / "out").glob("*.jsonl")
    assert "sk-cli-secret" not in path.read_text()
    sent = [json.loads(x) for x in log.read_text().splitlines()]
    assert any(r["headers"].get("authorization") == "Bearer sk-cli-secret" for r in sent)


def test_cli_run_failure_is_exit_1_with_an_explanation(fake_process, tmp_path: Path) -> None:
    base, _ = fake_process({"default": {"status": 400, "error": "model 'x' does not exist"}})
    proc = cli("run", "travel_planning", "--base-url", base, "--model", "x", "--out", str(tmp_path))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "400" in proc.stderr and "does not exist" in proc.stderr


def test_cli_unreachable_endpoint_is_explained(tmp_path: Path) -> None:
    proc = cli("run", "travel_planning", "--base-url", "http://127.0.0.1:9/v1", "--out", str(tmp_path))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "127.0.0.1:9" in proc.stderr


def test_cli_json_output(fake_process, tmp_path: Path) -> None:
    base, _ = fake_process({"default": "Done. TERMINATE"})
    proc = cli("run", "travel_planning", "--base-url", base, "--json", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["stopped_by"] == "rule" and result["scenario"] == "travel_planning"


def test_cli_models_lists_the_endpoint(fake_process) -> None:
    base, _ = fake_process({"models": ["m-one", "m-two"], "default": "x"})
    proc = cli("models", "--base-url", base)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["m-one", "m-two"]


@pytest.mark.parametrize("debug", [False, True])
def test_autogen_log_lines_stay_off_the_terminal_unless_troupe_debug(debug: bool) -> None:
    script = (
        "import logging; from autogen_troupe.runtime._logs import quiet_autogen_logs\n"
        "quiet_autogen_logs(); quiet_autogen_logs()\n"
        "logging.getLogger('autogen_core.events').error('handler cancelled')\n"
        "logging.getLogger('autogen_troupe.x').error('ours still shows')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TROUPE_DEBUG"}
    if debug:
        env["TROUPE_DEBUG"] = "1"
    err = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True).stderr
    assert ("handler cancelled" in err) is debug
    assert "ours still shows" in err


async def test_a_model_error_reaches_the_caller_as_raised_not_rebuilt_from_text(tmp_path: Path) -> None:
    """AutoGen's group chat passes on only an agent error's text; the runner keeps the error object."""
    from autogen_troupe.errors import EngineError
    from autogen_troupe.testing import ScriptedClient

    raised = EngineError("the engine stopped\nTraceback: (a line AutoGen's own format would cut here)")

    def fail(messages: Any) -> str:
        raise raised

    sc = load_scenario("travel_planning")
    with pytest.raises(EngineError) as info:
        await run_scenario(sc, clients=ScriptedClient({"planner_agent": [fail]}), options=RunOptions())
    assert info.value is raised
    assert info.value.transcript_path is None  # no --out: nothing was written
