"""Record a run into a cassette, replay it offline: identical transcripts, readable diffs when it changed.

Recordings here go through scripted model answers (`ScriptedClient`) or the real HTTP fake server, a real
mcp-server-time child process and a real Python tool. Replays start no MCP server and call no model.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_openai import FakeOpenAI, Reply, by_system
from typer.testing import CliRunner

from autogen_troupe.cli import app
from autogen_troupe.errors import ReplayMismatch, ScenarioError
from autogen_troupe.runtime._tape_runs import record_scenario, replay_scenario
from autogen_troupe.runtime._transcript import RunResult
from autogen_troupe.scenario import load_scenario
from autogen_troupe.tapes._cassette import Cassette, cassette_path_for, diff_requests, normalise_request
from autogen_troupe.tapes._replay import ReplayWarning
from autogen_troupe.testing import ReplayClient, ScriptedClient, tool_call
from autogen_troupe.testing._suite import junit_xml, run_suite

ROOT = Path(__file__).resolve().parents[1]

DESK: dict[str, Any] = {
    "name": "desk",
    "task": "What time is it in Seoul, and what do 3 days at 100 USD a day cost?",
    "team": {
        "kind": "round_robin",
        "agents": [
            {
                "name": "clock",
                "system_message": "You tell the time with your tool.",
                "mcp": ["time"],
                "reflect_on_tool_use": True,
            },
            {
                "name": "budget",
                "system_message": "You compute budgets with your tool.",
                "tools": ["autogen_troupe.tools.examples:trip_budget"],
            },
            {"name": "desk", "system_message": "You wrap up, then say TERMINATE.", "stream": False},
        ],
        "termination": {"any": [{"text_mention": "TERMINATE"}, {"max_messages": 8}]},
    },
    "mcp_servers": {
        "time": {"command": "python", "args": ["-m", "mcp_server_time", "--local-timezone", "Asia/Seoul"]}
    },
    "expect": {
        "stop_reason": {"contains": "TERMINATE"},
        "speakers": ["user", "clock", "budget", "desk"],
        "tool_calls": {
            "calls": ["get_current_time", {"name": "trip_budget", "arguments": {"days": 3}}],
            "order": "strict",
        },
        "no_tool_errors": True,
    },
}


def _clock_answer(messages: list[Any]) -> str:
    time = json.loads(messages[-1].content[0].content)["datetime"]
    return f"It is {time} in Seoul."


def scripted() -> ScriptedClient:
    return ScriptedClient(
        {
            "clock": [tool_call("get_current_time", timezone="Asia/Seoul"), _clock_answer],
            "budget": [tool_call("trip_budget", days=3, daily_usd=100)],
            "desk": ["Seoul time noted; the trip costs $330 with reserve. TERMINATE"],
        }
    )


def write(folder: Path, data: dict[str, Any], name: str = "desk.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def edited(data: dict[str, Any], agent: str, **changes: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(data))
    for a in out["team"]["agents"]:
        if a["name"] == agent:
            a.update(changes)
    return out


def stable(result: RunResult) -> str:
    """The run as JSON without its timings (the only things a replay may change)."""
    data = result.model_dump(mode="json", exclude={"duration_s", "transcript_path"})
    for e in data["transcript"]:
        e.pop("elapsed_s")
    return json.dumps(data, sort_keys=True)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunResult]:
    """The desk scenario recorded once (scripted answers, real time server, real Python tool)."""
    import asyncio

    folder = tmp_path_factory.mktemp("desk")
    path = write(folder, DESK)
    rec = asyncio.run(
        record_scenario(load_scenario(path), cassette=cassette_path_for(path), clients=scripted())
    )
    assert rec.result.ok, rec.result.error
    return path, rec.result


@pytest.fixture
def desk(recorded: tuple[Path, RunResult], tmp_path: Path) -> Path:
    """A private copy of the recorded scenario and its cassette."""
    src, _ = recorded
    shutil.copy(src, tmp_path / src.name)
    shutil.copy(cassette_path_for(src), cassette_path_for(tmp_path / src.name))
    return tmp_path / src.name


# --------------------------------------------------------------------------- the cassette


def test_the_cassette_holds_model_calls_tool_calls_and_tool_lists(recorded: tuple[Path, RunResult]) -> None:
    path, _ = recorded
    tape = Cassette.load(cassette_path_for(path))
    assert [c.agent for c in tape.model_calls] == ["clock", "clock", "budget", "desk"]
    assert [c.stream for c in tape.model_calls] == [True, True, True, False]
    first = tape.model_calls[0]
    assert first.request["messages"][0] == {"role": "system", "content": "You tell the time with your tool."}
    assert [t["name"] for t in first.request["tools"]] == ["get_current_time", "convert_time"]
    assert first.response.tool_calls[0].name == "get_current_time"
    assert first.response.usage.prompt_tokens > 0
    (clock_call, budget_call) = tape.tool_calls
    assert (clock_call.agent, clock_call.server, clock_call.tool) == ("clock", "time", "get_current_time")
    assert clock_call.arguments == {"timezone": "Asia/Seoul"}
    assert (budget_call.agent, budget_call.server, budget_call.tool) == ("budget", None, "trip_budget")
    assert budget_call.result.startswith("3 days x 1 traveller(s) x $100.00/day")
    assert [t["name"] for t in tape.mcp_tools["time"]] == ["get_current_time", "convert_time"]
    # The reflection request carries the tool's answer with its clock reading normalised away.
    tool_msg = tape.model_calls[1].request["messages"][-1]
    assert tool_msg["role"] == "tool" and "<datetime>" in tool_msg["results"][0]["content"]
    assert tool_msg["results"][0]["call_id"] == "call_0"


def test_the_file_is_stable_readable_json(recorded: tuple[Path, RunResult], tmp_path: Path) -> None:
    path, _ = recorded
    text = cassette_path_for(path).read_text()
    assert text.startswith('{\n  "format": "troupe-cassette",\n  "version": 1,\n  "scenario": "desk",')
    assert text.endswith("}\n")
    again = Cassette.load(cassette_path_for(path)).save(tmp_path / "again.json")
    assert again.read_text() == text  # loading and saving changes nothing


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"format": "something-else"}', "not a troupe cassette"),
        (
            '{"format": "troupe-cassette", "version": 7, "scenario": "x"}',
            "cassette version 7 is not supported",
        ),
        ('{"format": "troupe-cassette", "version": 1}', "scenario"),
    ],
)
def test_broken_cassettes_are_reported_with_their_place(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "bad.cassette.json"
    bad.write_text(content)
    with pytest.raises(ScenarioError) as e:
        Cassette.load(bad)
    assert message in str(e.value) and str(bad) in str(e.value)


def test_a_missing_cassette_says_how_to_record_one(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"No such file.*troupe record SCENARIO"):
        Cassette.load(tmp_path / "none.cassette.json")


async def test_a_run_stopped_by_the_clock_writes_no_cassette(tmp_path: Path) -> None:
    data = json.loads(json.dumps(DESK))
    del data["team"]["agents"][0]["mcp"], data["mcp_servers"]
    data["team"]["termination"] = {"timeout_s": 0.001}  # a replay, being faster, would go further
    path = write(tmp_path, data)
    rec = await record_scenario(
        load_scenario(path), cassette=cassette_path_for(path), clients=ScriptedClient(["Hi."])
    )
    assert rec.result.ok and rec.path is None and not cassette_path_for(path).exists()
    assert "stopped on a time limit (Timeout of 0.001 seconds reached)" in (rec.problem or "")


# --------------------------------------------------------------------------- replaying


async def test_replaying_twice_gives_identical_transcripts(recorded: tuple[Path, RunResult]) -> None:
    path, live = recorded
    sc = load_scenario(path)
    first = await replay_scenario(sc, cassette_path_for(path))
    second = await replay_scenario(sc, cassette_path_for(path))
    assert first.complete and second.complete
    assert stable(first.result) == stable(second.result) == stable(live)
    kinds = [(e.source, e.kind) for e in first.result.transcript]
    assert kinds == [
        ("user", "text"),
        ("clock", "tool_call"),
        ("clock", "tool_result"),
        ("clock", "text"),
        ("budget", "tool_call"),
        ("budget", "tool_result"),
        ("budget", "text"),
        ("desk", "text"),
    ]
    assert first.result.usage == live.usage


async def test_the_time_answer_replays_the_recorded_timestamp(desk: Path) -> None:
    tape_path = cassette_path_for(desk)
    data = json.loads(tape_path.read_text())
    recorded_time = json.loads(data["tool_calls"][0]["result"])["datetime"]
    # Put a clock reading no live server could give into the cassette: the replay must show it.
    data["tool_calls"][0]["result"] = data["tool_calls"][0]["result"].replace(
        recorded_time, "2001-02-03T04:05:06+09:00"
    )
    tape_path.write_text(json.dumps(data))
    out = await replay_scenario(load_scenario(desk), tape_path)
    (tool_result,) = [e for e in out.result.transcript if e.kind == "tool_result" and e.source == "clock"]
    assert json.loads(tool_result.results[0].content)["datetime"] == "2001-02-03T04:05:06+09:00"
    assert out.complete  # the next request still matches: clock readings are normalised in fingerprints


async def test_replay_starts_no_mcp_server(desk: Path) -> None:
    data = yaml.safe_load(desk.read_text())
    data["mcp_servers"]["time"] = {"command": "/nonexistent/mcp-server"}  # could never start
    write(desk.parent, data)
    out = await replay_scenario(load_scenario(desk), cassette_path_for(desk))
    assert out.complete and out.result.ok


async def test_an_edited_system_message_fails_strict_replay_with_a_diff(desk: Path) -> None:
    write(desk.parent, edited(DESK, "budget", system_message="You compute budgets.\nRound to dollars."))
    with pytest.raises(ReplayMismatch) as e:
        await replay_scenario(load_scenario(desk), cassette_path_for(desk))
    text = str(e.value)
    assert e.value.cassette == str(cassette_path_for(desk))
    assert "agent 'budget', its model call 1 (cassette entry #2), differs from the recording" in text
    assert "message 0 (system) changed:" in text
    assert "-You compute budgets with your tool." in text
    assert "+You compute budgets." in text and "+Round to dollars." in text
    assert "tools:" not in text  # nothing else changed


async def test_a_renamed_python_tool_is_reported(desk: Path) -> None:
    data = edited(
        DESK, "budget", tools=[{"ref": "autogen_troupe.tools.examples:trip_budget", "name": "budget_tool"}]
    )
    write(desk.parent, data)
    with pytest.raises(ReplayMismatch, match=r"tool 'trip_budget' was renamed to 'budget_tool'"):
        await replay_scenario(load_scenario(desk), cassette_path_for(desk))


async def test_a_renamed_or_denied_mcp_tool_is_reported(desk: Path) -> None:
    write(desk.parent, edited(DESK, "clock", mcp=[{"server": "time", "rename": {"get_current_time": "now"}}]))
    with pytest.raises(ReplayMismatch, match=r"tool 'get_current_time' was renamed to 'now'"):
        await replay_scenario(load_scenario(desk), cassette_path_for(desk))
    write(desk.parent, edited(DESK, "clock", mcp=[{"server": "time", "deny": ["convert_time"]}]))
    with pytest.raises(
        ReplayMismatch, match=r"tool 'convert_time' was offered when recording and is gone now"
    ):
        await replay_scenario(load_scenario(desk), cassette_path_for(desk))


async def test_a_changed_tool_description_shows_the_schema_diff(desk: Path) -> None:
    tools = [{"ref": "autogen_troupe.tools.examples:trip_budget", "description": "Budget in euros."}]
    write(desk.parent, edited(DESK, "budget", tools=tools))
    with pytest.raises(ReplayMismatch) as e:
        await replay_scenario(load_scenario(desk), cassette_path_for(desk))
    assert "tool 'trip_budget' schema changed:" in str(e.value)
    assert '+  "description": "Budget in euros.",' in str(e.value)


async def test_lenient_replay_uses_the_next_answer_and_warns(desk: Path) -> None:
    write(desk.parent, edited(DESK, "budget", system_message="You compute budgets."))
    with pytest.warns(ReplayWarning, match="message 0 \\(system\\) changed"):
        out = await replay_scenario(load_scenario(desk), cassette_path_for(desk), strict=False)
    assert out.result.ok and not out.unplayed
    assert len(out.warnings) == 1 and "agent 'budget'" in out.warnings[0]
    assert not out.complete


async def test_a_conversation_longer_than_recorded_fails(desk: Path) -> None:
    data = json.loads(cassette_path_for(desk).read_text())
    data["model_calls"].pop()  # desk's answer
    cassette_path_for(desk).write_text(json.dumps(data))
    with pytest.raises(ReplayMismatch, match="agent 'desk' made model call 1, but the cassette holds only 0"):
        await replay_scenario(load_scenario(desk), cassette_path_for(desk))


async def test_recorded_calls_left_unplayed_are_listed(desk: Path) -> None:
    data = json.loads(json.dumps(DESK))
    data["team"]["termination"] = {"max_messages": 3}  # stops before desk speaks
    write(desk.parent, data)
    out = await replay_scenario(load_scenario(desk), cassette_path_for(desk))
    (line,) = out.unplayed
    assert line.startswith("model call #3 of 'desk': Seoul time noted; the trip costs $330")


async def test_a_different_task_does_not_match(desk: Path) -> None:
    with pytest.raises(ReplayMismatch, match=r"message 1 \(user from user\) changed"):
        await replay_scenario(load_scenario(desk), cassette_path_for(desk), task="What time is it in Paris?")


async def test_a_selector_team_replays_its_speaker_choices(tmp_path: Path) -> None:
    """The selector's own model calls are recorded under `selector`, apart from the agents'."""
    sc = load_scenario("trip_desk")
    answers = ScriptedClient(
        {
            "selector": ["clock_agent", "guide_agent", "desk_agent"],
            "clock_agent": [tool_call("get_current_time", timezone="Asia/Seoul"), "It is morning."],
            "guide_agent": ["Visit the palace."],
            "desk_agent": ["Morning; palace. TERMINATE"],
        }
    )
    rec = await record_scenario(sc, cassette=tmp_path / "td.json", clients=answers)
    tape = Cassette.load(tmp_path / "td.json")
    assert [c.agent for c in tape.model_calls if c.agent == "selector"] == ["selector"] * 3
    out = await replay_scenario(sc, tmp_path / "td.json")
    assert out.complete and stable(out.result) == stable(rec.result)
    assert [e.source for e in out.result.messages] == ["user", "clock_agent", "guide_agent", "desk_agent"]


async def test_replay_client_create_and_create_stream(recorded: tuple[Path, RunResult]) -> None:
    from autogen_core.models import CreateResult, SystemMessage

    path, _ = recorded
    tape = Cassette.load(cassette_path_for(path))
    with pytest.raises(ReplayMismatch, match="differs from the recording"):
        await ReplayClient(tape, "desk").create([SystemMessage(content="You wrap up, then say TERMINATE.")])
    # The desk's recorded request, rebuilt as AutoGen messages, streams the recorded answer in pieces.
    chunks, final = await _stream_last_call(ReplayClient(tape), tape)
    assert isinstance(final, CreateResult) and final.cached
    assert len(chunks) > 0 and "".join(chunks) == tape.model_calls[-1].response.content == final.content
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (
        tape.model_calls[-1].response.usage.prompt_tokens,
        tape.model_calls[-1].response.usage.completion_tokens,
    )


async def _stream_last_call(client: Any, tape: Cassette) -> tuple[list[str], Any]:
    """Replays the desk's recorded request through create_stream, rebuilt as AutoGen messages."""
    from autogen_core import FunctionCall
    from autogen_core.models import (
        AssistantMessage,
        FunctionExecutionResult,
        FunctionExecutionResultMessage,
        SystemMessage,
        UserMessage,
    )

    call = tape.model_calls[-1]
    results = {r.tool: r.result for r in tape.tool_calls}
    messages: list[Any] = []
    for m in call.request["messages"]:
        if m["role"] == "system":
            messages.append(SystemMessage(content=m["content"]))
        elif m["role"] == "user":
            messages.append(UserMessage(content=m["content"], source=m["source"]))
        elif "tool_calls" in m:
            messages.append(
                AssistantMessage(
                    content=[
                        FunctionCall(id=c["id"], name=c["name"], arguments=json.dumps(c["arguments"]))
                        for c in m["tool_calls"]
                    ],
                    source=m["source"],
                )
            )
        elif m["role"] == "assistant":
            messages.append(AssistantMessage(content=m["content"], source=m["source"]))
        else:
            messages.append(
                FunctionExecutionResultMessage(
                    content=[
                        FunctionExecutionResult(
                            call_id=r["call_id"],
                            name=r["name"],
                            content=results.get(r["name"], r["content"]),
                            is_error=r["is_error"],
                        )
                        for r in m["results"]
                    ]
                )
            )
    items = [x async for x in client.create_stream(messages)]
    return [x for x in items[:-1] if isinstance(x, str)], items[-1]


def test_diff_of_inserted_and_removed_messages() -> None:
    from autogen_core.models import SystemMessage, UserMessage

    old = normalise_request([SystemMessage(content="S"), UserMessage(content="hi", source="user")])
    new = normalise_request(
        [
            SystemMessage(content="S"),
            UserMessage(content="context", source="user"),
            UserMessage(content="hi", source="user"),
        ]
    )
    text = diff_requests(old, new)
    assert "messages (recorded 2, now 3):" in text
    assert "message 1 (user from user) is new:" in text
    text = diff_requests(new, old)
    assert "recorded message 1 (user from user) is missing now:" in text
    assert diff_requests(old, old) == "(no difference in the normalised request)"


def test_fingerprints_ignore_call_ids_and_clock_readings() -> None:
    from autogen_core import FunctionCall
    from autogen_core.models import AssistantMessage, FunctionExecutionResult, FunctionExecutionResultMessage

    def request(call_id: str, when: str) -> dict[str, Any]:
        return normalise_request(
            [
                AssistantMessage(
                    content=[FunctionCall(id=call_id, name="t", arguments='{"b": 1, "a": 2}')], source="x"
                ),
                FunctionExecutionResultMessage(
                    content=[
                        FunctionExecutionResult(
                            call_id=call_id, name="t", content=f"at {when}", is_error=False
                        )
                    ]
                ),
            ]
        )

    from autogen_troupe.tapes._cassette import fingerprint

    a = request("call_abc", "2026-11-22T09:08:18+09:00")
    b = request("chatcmpl-tool-9f8e", "2027-01-01 00:00:01.25Z")
    assert a == b and fingerprint(a) == fingerprint(b)
    assert a["messages"][0]["tool_calls"][0] == {"id": "call_0", "name": "t", "arguments": {"a": 2, "b": 1}}
    assert fingerprint(a) != fingerprint(request("call_abc", "noon"))


# --------------------------------------------------------------- recording through HTTP: no secrets


SECRET = "sk-live-0123456789abcdef"


def http_scenario(srv: FakeOpenAI, folder: Path) -> Path:
    data = json.loads(json.dumps(DESK))
    data["model"] = {
        "provider": "openai",
        "base_url": srv.base_url,
        "model": "fake-model",
        "api_key_env": "DESK_TEST_KEY",
        "headers": {"x-session-token": "tok-9876543210", "x-team": "travel"},
    }
    return write(folder, data)


def script_server(srv: FakeOpenAI) -> None:
    srv.reset()
    srv.responder = by_system(
        {
            "You tell the time": [
                Reply(tool_calls=[("get_current_time", {"timezone": "Asia/Seoul"})]),
                Reply(text="It is morning in Seoul.", reasoning="The tool said so."),
            ],
            "You compute budgets": [Reply(tool_calls=[("trip_budget", {"days": 3, "daily_usd": 100})])],
            "You wrap up": [Reply(text=f"Done; the key {SECRET} stays out. TERMINATE")],
        }
    )


async def test_recording_over_http_keeps_no_secrets(
    server: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESK_TEST_KEY", SECRET)
    script_server(server)
    path = http_scenario(server, tmp_path)
    rec = await record_scenario(load_scenario(path), cassette=cassette_path_for(path))
    assert rec.result.ok, rec.result.error
    assert server.chat_requests[0].headers["authorization"] == f"Bearer {SECRET}"  # it was really used
    text = cassette_path_for(path).read_text()
    assert SECRET not in text and "tok-9876543210" not in text
    assert "Done; the key <scrubbed> stays out. TERMINATE" in text
    tape = Cassette.load(cassette_path_for(path))
    assert tape.agents["clock"].provider == "openai" and tape.agents["clock"].model == "fake-model"
    assert tape.model_calls[1].response.thought == "The tool said so."
    # The replay needs neither the server nor the key.
    monkeypatch.delenv("DESK_TEST_KEY")
    server.reset()
    out = await replay_scenario(load_scenario(path), cassette_path_for(path))
    assert out.complete and not server.requests
    assert [e.content for e in out.result.transcript if e.kind == "thought"] == ["The tool said so."]


# --------------------------------------------------------------------------- the CLI


runner = CliRunner()


def test_cli_record_then_run_replay(
    server: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESK_TEST_KEY", SECRET)
    monkeypatch.chdir(tmp_path)
    script_server(server)
    path = http_scenario(server, tmp_path / "sc")
    done = runner.invoke(app, ["record", str(path), "-q", "--cassette", str(tmp_path / "tape.json")])
    assert done.exit_code == 0, done.output
    assert "cassette: " in done.output and "(4 model calls, 2 tool calls)" in done.output
    assert "desk: 4 expectations hold" in done.output
    assert SECRET not in (tmp_path / "tape.json").read_text()

    server.reset()
    done = runner.invoke(app, ["run", str(path), "--replay", str(tmp_path / "tape.json"), "--json"])
    assert done.exit_code == 0, done.output
    result = RunResult.model_validate_json(done.stdout)
    assert result.final_message == "Done; the key <scrubbed> stays out. TERMINATE"
    assert not server.requests

    write(path.parent, {**yaml.safe_load(path.read_text()), "task": "Something else"})
    done = runner.invoke(app, ["run", str(path), "--replay", str(tmp_path / "tape.json"), "-q"])
    assert done.exit_code == 1
    assert "ReplayMismatch:" in done.stderr and "message 1 (user from user) changed" in done.stderr
    assert "Traceback" not in done.output + done.stderr
    done = runner.invoke(app, ["run", str(path), "--replay", str(tmp_path / "tape.json"), "-q", "--lenient"])
    assert done.exit_code == 0, done.output
    assert "warning: " in done.stderr


def test_cli_record_failure_writes_no_cassette(
    server: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESK_TEST_KEY", SECRET)
    server.reset()
    server.default = Reply(status=400, error="model is on holiday")
    path = http_scenario(server, tmp_path)
    done = runner.invoke(app, ["record", str(path), "-q", "--out", str(tmp_path / "runs")])
    assert done.exit_code == 1
    assert "model is on holiday" in done.stderr and SECRET not in done.output + done.stderr
    assert not cassette_path_for(path).exists()


def test_cli_replay_option_errors(tmp_path: Path) -> None:
    done = runner.invoke(app, ["run", "travel_planning", "--lenient"])
    assert done.exit_code == 2 and "--lenient only applies with --replay" in done.stderr
    done = runner.invoke(app, ["run", "travel_planning", "--replay", str(tmp_path / "missing.json")])
    assert done.exit_code == 2 and "cannot read the cassette" in done.stderr


def test_cli_test_table_junit_and_exit_codes(desk: Path, tmp_path: Path) -> None:
    folder = desk.parent
    # A second scenario that fails its expectations, and one without a cassette.
    failing = json.loads(json.dumps(DESK))
    failing["name"] = "desk_wrong"
    failing["expect"] = {"speakers": {"last": "clock"}, "max_total_tokens": 5}
    write(folder, failing, "desk_wrong.yaml")
    shutil.copy(cassette_path_for(desk), folder / "desk_wrong.cassette.json")
    write(folder, {**DESK, "name": "desk_new"}, "desk_new.yaml")
    (folder / "notes.yaml").write_text("just: some yaml\n")  # not a scenario: ignored
    junit = tmp_path / "out" / "junit.xml"
    done = runner.invoke(app, ["test", str(folder), "--junit", str(junit)])
    assert done.exit_code == 1, done.output
    rows = {line.split("│")[1].strip(): line for line in done.stdout.splitlines() if line.count("│") > 4}
    assert set(rows) == {"desk", "desk_wrong", "desk_new"}
    assert "pass" in rows["desk"] and "fail" in rows["desk_wrong"] and "skip" in rows["desk_new"]
    assert re.search(r"│\s+4\s+│", rows["desk"])  # messages: the task and three answers
    assert "speakers.last: expected 'clock'; got [user, clock, budget, desk]" in done.stderr
    assert "max_total_tokens: expected at most 5 tokens" in done.stderr
    assert "no cassette at" in done.stdout and "troupe record" in done.stdout
    assert "3 scenarios in" in done.stdout and "1 passed, 1 failed, 0 errors, 1 skipped" in done.stdout
    xml = junit.read_text()
    assert '<testsuite name="troupe" tests="3" failures="1" errors="0" skipped="1"' in xml
    assert "speakers.last" in xml

    (folder / "desk_wrong.yaml").unlink()
    done = runner.invoke(app, ["test", str(folder), "-j", "2"])
    assert done.exit_code == 0, done.output
    done = runner.invoke(app, ["test", str(tmp_path / "empty")])
    assert done.exit_code == 2


def test_cli_test_update_records_again_against_the_model(
    server: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESK_TEST_KEY", SECRET)
    script_server(server)
    path = http_scenario(server, tmp_path)
    done = runner.invoke(app, ["test", str(tmp_path)])
    assert done.exit_code == 0 and "skip" in done.stdout  # no cassette yet
    done = runner.invoke(app, ["test", str(tmp_path), "--update"])
    assert done.exit_code == 0, done.output
    assert "pass (recorded)" in done.stdout
    assert len(server.chat_requests) == 4 and cassette_path_for(path).exists()
    server.reset()
    suite = run_suite([tmp_path])  # offline again
    assert suite.ok and [c.outcome for c in suite.cases] == ["pass"] and not server.requests
    assert junit_xml(suite).count("<testcase") == 1


def test_bundled_scenarios_replay_offline() -> None:
    """`troupe test scenarios/` passes offline: every bundled scenario with expectations has a cassette."""
    expecting = [
        p for p in sorted((ROOT / "scenarios").glob("*.yaml")) if load_scenario(p).expect is not None
    ]
    assert expecting, "no bundled scenario has an expect block"
    missing = [p.name for p in expecting if not cassette_path_for(p).exists()]
    assert not missing, f"bundled scenarios without a cassette: {missing}"
    suite = run_suite([ROOT / "scenarios"])
    failures = [f"{c.scenario}: {c.outcome}: {c.detail}" for c in suite.cases if c.outcome != "pass"]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"temperature": 0.7}, "temperature"),
        ({"max_tokens": 512}, "max_tokens"),
        ({"extra_body": {"repetition_penalty": 1.3}}, "repetition_penalty"),
    ],
)
async def test_a_cassette_recorded_with_other_sampling_settings_does_not_replay(
    scenarios_dir: Path, settings: dict[str, Any], named: str
) -> None:
    """The request settings are part of the match: changing the model's sampling is a change of the run."""
    from autogen_troupe.scenario import ModelSpec

    path = scenarios_dir / "travel_planning.yaml"
    sc = load_scenario(path)
    changed = sc.model_copy(update={"model": ModelSpec(profile="default", **settings)})
    with pytest.raises(ReplayMismatch) as caught:
        await replay_scenario(changed, cassette_path_for(path))
    diff = str(caught.value)
    assert "settings: recorded" in diff
    assert f'"{named}"' in diff.split("settings: recorded", 1)[1]
    # ... and the scenario as shipped replays: the cassette was recorded with today's defaults.
    outcome = await replay_scenario(sc, cassette_path_for(path))
    assert outcome.complete
