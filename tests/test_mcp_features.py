"""What our MCP client offers servers besides tool calls, against a real fixture server
(tests/mcp_fixtures/features.py) and the fake OpenAI endpoint: elicitation under each policy, sampling by
the calling agent's model within its limits, roots, progress and log notes, resources, prompts as system
message and task; recorded in a cassette and replayed offline.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_openai import FakeOpenAI, Reply, by_system
from helpers import troupe
from rich.console import Console

from autogen_troupe.cli.run_view import ConsoleView
from autogen_troupe.errors import ScenarioError, ToolCallError
from autogen_troupe.models._endpoints import Overrides
from autogen_troupe.runtime import RunOptions
from autogen_troupe.runtime._modes import execute
from autogen_troupe.runtime._transcript import McpEvent, RunResult
from autogen_troupe.scenario import load_scenario
from autogen_troupe.scenario._schema import McpPrompt, McpUse, StdioServer
from autogen_troupe.tapes._cassette import Cassette, cassette_path_for
from autogen_troupe.tools import McpServerPool
from autogen_troupe.tools._mcp_client import (
    Answer,
    McpClientOptions,
    McpNote,
    Question,
    SampleReply,
    SampleRequest,
    SamplingLimits,
    accept_defaults,
    scripted_ask,
)

FEATURES = str(Path(__file__).resolve().parent / "mcp_fixtures" / "features.py")
SERVER = StdioServer(command="python", args=(FEATURES,))
SYSTEM = "You are a travel agent. Answer in a short way."


def text(result: Any) -> str:
    return result.to_text()


# --------------------------------------------------------------------------- the pool, without agents


async def _pool_call(options: McpClientOptions, tool: str, args: dict[str, Any], server: Any = SERVER) -> str:
    async with McpServerPool({"f": server}, {"f": options}) as pool:
        wb = pool.workbench(McpUse(server="f"), agent="a")
        return text(await wb.call_tool(tool, args))


@pytest.mark.parametrize(
    ("policy", "ask", "said"),
    [
        ("ask", scripted_ask([{"name": "Ann", "nights": 3}]), "booked 3 night(s) in Oslo for Ann"),
        ("ask", scripted_ask([Answer("cancel")]), "not made: the person chose cancel"),
        ("ask", None, "not made: the person chose decline"),  # nobody can answer
        (None, None, "not made: the person chose decline"),
        ("decline", scripted_ask([{"name": "Ann"}]), "not made: the person chose decline"),
        ("accept_defaults", None, "not made: the person chose decline"),  # `name` has no default
    ],
)
async def test_elicitation_policies(policy: Any, ask: Any, said: str) -> None:
    notes: list[McpNote] = []
    options = McpClientOptions(server="f", elicitation=policy, ask=ask, on_note=notes.append)
    assert said in await _pool_call(options, "book", {"city": "Oslo"})
    [note] = [n for n in notes if n.kind == "elicitation"]
    assert note.data["message"] == "Who is travelling to Oslo?" and note.agent == "a"
    assert note.data["schema"]["required"] == ["name"]


def test_accept_defaults_answers_with_the_schema_defaults() -> None:
    schema = {
        "type": "object",
        "properties": {"nights": {"type": "integer", "default": 2}},
        "required": ["nights"],
    }
    assert accept_defaults(Question("s", "How long?", schema=schema)) == Answer("accept", {"nights": 2})
    assert accept_defaults(Question("s", "Open it", url="https://example.org")) == Answer("decline")


async def test_sampling_is_bounded_and_refused_when_not_allowed() -> None:
    asked: list[SampleRequest] = []

    async def sampler(req: SampleRequest) -> SampleReply:
        asked.append(req)
        return SampleReply(text="Short.", model="m", prompt_tokens=7, completion_tokens=2)

    notes: list[McpNote] = []
    options = McpClientOptions(
        server="f",
        sampling=SamplingLimits(max_calls=1, max_tokens_per_call=64),
        sampler=sampler,
        on_note=notes.append,
    )
    async with McpServerPool({"f": SERVER}, {"f": options}) as pool:
        wb = pool.workbench(McpUse(server="f"), agent="writer")
        first = await wb.call_tool("summarize", {"text": "A long text."})
        second = await wb.call_tool("summarize", {"text": "Another."})
    assert text(first) == "summary: Short." and not first.is_error
    assert second.is_error and "1 sampling call(s) per run" in text(second)
    [req] = asked
    assert req.messages == (("user", "A long text."),) and req.system_prompt == "Summarize in one line."
    assert req.max_tokens == 64 and req.agent == "writer"  # the server asked for 2000
    assert [n.kind for n in notes] == ["sampling", "sampling"] and "refused" in notes[1].text
    # Without a sampling setting the capability is not even offered: the server's request fails.
    refused = await _pool_call(McpClientOptions(server="f"), "summarize", {"text": "x"})
    assert "sampling" in refused.lower()


async def test_roots_progress_and_logs(tmp_path: Path) -> None:
    notes: list[McpNote] = []
    options = McpClientOptions(server="f", roots=(str(tmp_path), "file:///srv/data"), on_note=notes.append)
    async with McpServerPool({"f": SERVER}, {"f": options}) as pool:
        wb = pool.workbench(McpUse(server="f"), agent="a")
        assert text(await wb.call_tool("workspace", {})) == f"{tmp_path.as_uri()}\nfile:///srv/data"
        assert text(await wb.call_tool("crunch", {"steps": 3})) == "crunched 3 steps"
    progress = [n for n in notes if n.kind == "progress"]
    assert [(n.data["progress"], n.data["total"], n.tool) for n in progress] == [
        (1, 3, "crunch"),
        (2, 3, "crunch"),
        (3, 3, "crunch"),
    ]
    logs = [n.text for n in notes if n.kind == "log"]
    assert logs == [f"[info crunch] finished step {i} of 3" for i in (1, 2, 3)]  # debug is below `info`
    # No roots given: the capability is not offered.
    assert "roots" in (await _pool_call(McpClientOptions(server="f"), "workspace", {})).lower()


async def test_read_resource_tool_and_prompts() -> None:
    async with McpServerPool({"f": SERVER}) as pool:
        wb = pool.workbench(McpUse(server="f", resources=True, rename={"read_resource": "read_note"}))
        tools = {t["name"]: t for t in await wb.list_tools()}
        assert "read_note" in tools and "notes://readme" in tools["read_note"]["description"]
        assert "notes://city/{city}" in tools["read_note"]["description"]
        assert (
            text(await wb.call_tool("read_note", {"uri": "notes://city/Rome"})) == "Rome: bring an umbrella."
        )
        missing = await wb.call_tool("read_note", {"uri": "notes://nowhere"})
        assert missing.is_error and "refused reading 'notes://nowhere'" in text(missing)
        assert "read_resource" not in [
            t["name"] for t in await pool.workbench(McpUse(server="f")).list_tools()
        ]
        assert await pool.prompt(McpPrompt(server="f", name="plan_trip", arguments={"city": "Rome"})) == (
            "Plan a 2 day trip to Rome."
        )
        with pytest.raises(
            ToolCallError, match="has no prompt 'nope' \\(it offers: travel_agent, plan_trip\\)"
        ):
            await pool.prompt(McpPrompt(server="f", name="nope"))


async def test_resources_on_a_server_without_any_is_a_clear_error() -> None:
    box = StdioServer(command="python", args=(str(Path(FEATURES).with_name("toolbox.py")),))
    async with McpServerPool({"box": box}) as pool:
        with pytest.raises(
            ToolCallError, match="resources: true, but MCP server 'box' lists no resources or templates"
        ):
            pool.workbench(McpUse(server="box", resources=True))


# --------------------------------------------------------------------------- a whole run


def _scenario(tmp_path: Path, **server: Any) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    data = {
        "name": "features",
        "task": [
            {"mcp_prompt": {"server": "f", "name": "plan_trip", "arguments": {"city": "Rome"}}},
            "Use tools.",
        ],
        "team": {
            "kind": "single",
            "agents": [
                {
                    "name": "agent",
                    "system_message": {
                        "mcp_prompt": {"server": "f", "name": "travel_agent", "arguments": {"style": "short"}}
                    },
                    "mcp": [{"server": "f", "resources": True}],
                    "max_tool_iterations": 8,
                    "stream": False,
                }
            ],
        },
        "mcp_servers": {
            "f": {
                "command": "python",
                "args": [FEATURES],
                "roots": ["data"],
                "sampling": {"max_calls": 2},
                **server,
            }
        },
    }
    path = tmp_path / "features.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _script(srv: FakeOpenAI) -> None:
    srv.responder = by_system({"Summarize in one line.": ["Rome is lovely."]})
    srv.script(
        [
            Reply(tool_calls=[("book", {"city": "Rome"})]),
            Reply(tool_calls=[("summarize", {"text": "Rome has old streets and good food."})]),
            Reply(tool_calls=[("workspace", {})]),
            Reply(tool_calls=[("crunch", {"steps": 2})]),
            Reply(tool_calls=[("read_resource", {"uri": "notes://city/Rome"})]),
            Reply(text="Booked, and bring an umbrella."),
        ]
    )


def _mcp(result: RunResult) -> list[tuple[str, str, str]]:
    return [(e.source, e.what, e.content) for e in result.transcript if isinstance(e, McpEvent)]


def _stable(result: RunResult) -> list[Any]:
    return [e.model_dump(exclude={"elapsed_s"}) for e in result.transcript]


async def test_a_run_records_and_replays_what_servers_ask_and_say(srv: FakeOpenAI, tmp_path: Path) -> None:
    path = _scenario(tmp_path, elicitation="ask")
    _script(srv)
    options = RunOptions(
        overrides=Overrides(base_url=srv.base_url, model="fake-model"),
        env=dict(os.environ),
        ask_mcp=scripted_ask([{"name": "Ann", "nights": 4}]),
    )
    live = await execute(load_scenario(path), "record", cassette=cassette_path_for(path), options=options)
    assert live.ok, live.result.error or live.problem
    result = live.result
    assert result.task == "Plan a 2 day trip to Rome.\n\nUse tools."
    first = srv.chat_requests[0].json
    assert first["messages"][0] == {"role": "system", "content": SYSTEM}
    assert first["messages"][1]["content"] == "Plan a 2 day trip to Rome.\n\nUse tools."
    sampling = [
        r.json for r in srv.chat_requests if r.json["messages"][0]["content"] == "Summarize in one line."
    ]
    assert len(sampling) == 1 and sampling[0]["max_tokens"] == 512
    results = [r.content for e in result.transcript if e.kind == "tool_result" for r in e.results]
    data = (tmp_path / "data").resolve().as_uri()
    assert results == [
        "booked 4 night(s) in Rome for Ann",
        "summary: Rome is lovely.",
        data,
        "crunched 2 steps",
        "Rome: bring an umbrella.",
    ]
    events = _mcp(result)
    assert (
        "agent",
        "elicitation",
        'asked \'Who is travelling to Rome?\' (ask) → accept: {"name": "Ann", "nights": 4}',
    ) in events
    assert any(
        w == "sampling" and c == "wrote for the server (fake-model, 12+3 tok): Rome is lovely."
        for _, w, c in events
    )
    assert [w for _, w, _ in events].count("progress") == 2 and [w for _, w, _ in events].count("log") == 2
    sampled = next(e for e in result.transcript if isinstance(e, McpEvent) and e.what == "sampling")
    assert sampled.usage is not None and sampled.usage.completion_tokens > 0
    assert result.usage.completion_tokens >= sampled.usage.completion_tokens

    tape = Cassette.load(cassette_path_for(path))
    assert len(tape.model_calls) == 6  # the server's sampling is not the agent's own model call
    book = next(t for t in tape.tool_calls if t.tool == "book")
    assert [n["kind"] for n in book.notes] == ["elicitation"] and book.notes[0]["data"]["content"][
        "name"
    ] == "Ann"
    assert {p.name: p.text for p in tape.mcp_prompts} == {
        "travel_agent": SYSTEM,
        "plan_trip": "Plan a 2 day trip to Rome.",
    }

    srv.reset()  # a replay reaches neither the model nor the server
    again = await execute(load_scenario(path), "replay", cassette=cassette_path_for(path))
    assert again.ok and srv.chat_requests == []
    assert _stable(again.result) == _stable(result)


async def test_nobody_to_answer_declines_and_the_console_shows_it(srv: FakeOpenAI, tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    srv.script([Reply(tool_calls=[("book", {"city": "Rome"})]), Reply(text="Could not book.")])
    shown = io.StringIO()
    view = ConsoleView(Console(file=shown, width=200))
    options = RunOptions(overrides=Overrides(base_url=srv.base_url, model="fake-model"), env=dict(os.environ))
    out = await execute(load_scenario(path), "live", options=options, on_event=view)
    assert out.ok
    assert "booking in Rome not made: the person chose decline" in shown.getvalue()
    assert "MCP f · elicitation" in shown.getvalue() and "(decline) → decline" in shown.getvalue()


def test_console_progress_lines_off_a_terminal() -> None:
    shown = io.StringIO()
    view = ConsoleView(Console(file=shown, width=200))
    view(
        McpEvent(
            source="a",
            elapsed_s=1,
            server="s",
            what="progress",
            content="index: 5/10 chunks",
            tool="index",
            data={"progress": 5, "total": 10},
        )
    )
    view(McpEvent(source="a", elapsed_s=1, server="s", what="log", content="[info] indexed"))
    assert (
        "[s progress] index: 5/10 chunks" in shown.getvalue() and "[s log] [info] indexed" in shown.getvalue()
    )


def test_console_progress_bar_on_a_terminal() -> None:
    shown = io.StringIO()
    view = ConsoleView(Console(file=shown, width=100, force_terminal=True))
    for i in (1, 2):
        view(
            McpEvent(
                source="a",
                elapsed_s=1,
                server="s",
                what="progress",
                content="",
                tool="index",
                data={"progress": i, "total": 2},
            )
        )
    assert view._progress is not None and len(view._bars) == 1
    view.summary(
        RunResult(
            scenario="x",
            task="t",
            stop_reason="done",
            stopped_by="rule",
            transcript=(),
            usage={},
            duration_s=1,
        )
    )
    assert view._progress is None and "━" in shown.getvalue()


# --------------------------------------------------------------------------- the scenario file


@pytest.mark.parametrize(
    ("server", "agent", "message"),
    [
        (
            {"elicitation": "maybe"},
            {},
            "mcp_servers.f.elicitation: Input should be 'ask', 'decline' or 'accept_defaults'",
        ),
        ({"sampling": {"max_calls": 0}}, {}, "max_calls"),
        ({"roots": ["https://example.org"]}, {}, "a root is a directory or a file:// URI"),
        ({}, {"system_message": {"mcp_prompt": {"server": "g", "name": "p"}}}, "mcp_prompt names server 'g'"),
    ],
)
def test_bad_feature_settings_are_located(tmp_path: Path, server: Any, agent: Any, message: str) -> None:
    data = {
        "name": "x",
        "task": "t",
        "team": {"kind": "single", "agents": [{"name": "a", **agent}]},
        "mcp_servers": {"f": {"command": "python", **server}},
    }
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    assert message in str(e.value) and str(path) in str(e.value)


def test_troupe_run_without_a_terminal_declines(fake_process: Any, tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    url, _ = fake_process([{"tool_calls": [{"name": "book", "arguments": {"city": "Rome"}}]}, "No booking."])
    proc = troupe("run", str(path), "--base-url", url, "--model", "m", "--out", str(tmp_path / "runs"))
    assert proc.returncode == 0, proc.stderr
    assert "the person chose decline" in proc.stdout
    line = next(
        json.loads(x)
        for x in next((tmp_path / "runs").glob("*.jsonl")).read_text().splitlines()
        if '"mcp"' in x
    )
    assert line["what"] == "elicitation" and line["data"]["action"] == "decline"


async def test_the_callbacks_on_the_handshake_era_protocol(tmp_path: Path) -> None:
    """Before 2026-07-28 a server's questions, sampling and roots requests come as standalone requests in
    the session's own task: `client_kwargs` answers them the same way (what `troupe mcp` relies on)."""
    from mcp import Client, StdioServerParameters

    from autogen_troupe.tools._mcp_client import (
        CALL_ID,
        CALLER,
        RunningCalls,
        client_kwargs,
        progress_callback,
    )

    asked: list[SampleRequest] = []

    async def sampler(req: SampleRequest) -> SampleReply:
        asked.append(req)
        return SampleReply(text=f"{len(req.messages)} message(s)", model="m")

    notes: list[McpNote] = []
    running = RunningCalls()  # what a pooled server does: requests of no known call go with the newest
    options = running.attach(
        McpClientOptions(
            server="f",
            ask=scripted_ask([{"name": "Bo"}]),
            sampling=SamplingLimits(),
            sampler=sampler,
            roots=(str(tmp_path),),
            on_note=notes.append,
        )
    )
    params = StdioServerParameters(command=sys.executable, args=[FEATURES])
    async with Client(params, mode="legacy", **client_kwargs(options)) as client:
        assert client.protocol_version < "2026"

        async def call(tool: str, args: dict[str, Any]) -> str:
            CALLER.set("writer")
            CALL_ID.set(f"call-{tool}")
            with running.running():
                result = await client.call_tool(
                    tool, args, progress_callback=progress_callback(options, tool)
                )
            return result.content[0].text  # type: ignore[union-attr]

        assert await call("book", {"city": "Lima"}) == "booked 2 night(s) in Lima for Bo"
        assert await call("summarize", {"text": "x"}) == "summary: 1 message(s)"
        assert await call("workspace", {}) == tmp_path.as_uri()
        assert await call("crunch", {"steps": 2}) == "crunched 2 steps"
    kinds = [n.kind for n in notes]
    assert kinds.count("elicitation") == kinds.count("sampling") == kinds.count("roots") == 1
    assert kinds.count("progress") == 2 and kinds.count("log") == 2
    assert [r.agent for r in asked] == ["writer"]
    assert {(n.kind, n.agent, n.call_id) for n in notes if n.kind != "progress"} == {
        ("elicitation", "writer", "call-book"),
        ("sampling", "writer", "call-summarize"),
        ("roots", "writer", "call-workspace"),
        ("log", "writer", "call-crunch"),
    }


def test_troupe_run_asks_the_person_at_the_terminal(fake_process: Any, tmp_path: Path) -> None:
    """stdin a terminal (a pseudo-terminal here): the server's question is put to the person, field by
    field, and the answer reaches the server."""
    import pty
    import subprocess

    path = _scenario(tmp_path)
    url, _ = fake_process([{"tool_calls": [{"name": "book", "arguments": {"city": "Rome"}}]}, "Booked."])
    master, slave = pty.openpty()
    cmd = [sys.executable, "-m", "autogen_troupe.cli", "run", str(path), "--base-url", url, "--model", "m"]
    cmd += ["--out", str(tmp_path / "runs")]
    os.write(master, b"a\nAnn\n5\n")  # answer it, name, nights: read when the prompt asks
    try:
        proc = subprocess.run(cmd, stdin=slave, capture_output=True, text=True, timeout=120)
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 0, proc.stderr
    shown = proc.stdout  # on the run's console, where a user agent's questions go too
    assert "MCP server f asks" in shown and "Who is travelling to Rome?" in shown
    assert "Name (Your name):" in shown and "Nights (Nights to stay) [Enter: 2]:" in shown
    assert "booked 5 night(s) in Rome for Ann" in shown


def test_troupe_serve_puts_the_question_to_the_api_client(srv: FakeOpenAI, tmp_path: Path) -> None:
    """A served run: the server's question is an `input` event of kind mcp with the form's schema,
    answered by POST /api/runs/{id}/input with an action and the fields."""
    import httpx2
    from served import Served, sse

    path = _scenario(tmp_path)
    srv.script([Reply(tool_calls=[("book", {"city": "Rome"})]), Reply(text="Booked.")])
    with (
        Served([path], base_url=srv.base_url, out_dir=tmp_path / "runs") as served,
        httpx2.Client(base_url=served.url, timeout=30) as api,
    ):
        run = api.post("/api/runs", json={"scenario": "features"}).json()
        assert run["task"] == "<MCP prompt 'plan_trip' of 'f'> Use tools."
        questions = []
        with api.stream("GET", f"/api/runs/{run['id']}/events") as r:
            for event, data, _ in sse(r):
                if event == "input":
                    questions.append(data)
                    bad = api.post(f"/api/runs/{run['id']}/input", json={"text": "Ann"})
                    assert bad.status_code == 400 and "accept, decline or cancel" in bad.text
                    ok = api.post(
                        f"/api/runs/{run['id']}/input",
                        json={"question_id": data["id"], "action": "accept", "content": {"name": "Ann"}},
                    )
                    assert ok.status_code == 200
                if event == "done":
                    break
        detail = api.get(f"/api/runs/{run['id']}").json()
    [q] = questions
    assert q["kind"] == "mcp" and q["mcp"]["message"] == "Who is travelling to Rome?"
    assert q["mcp"]["schema"]["required"] == ["name"] and q["agent"] == "mcp:f"
    results = [r["content"] for e in detail["entries"] if e["kind"] == "tool_result" for r in e["results"]]
    assert results == ["booked 2 night(s) in Rome for Ann"]


async def test_questions_sampling_and_progress_over_streamable_http() -> None:
    """The same over HTTP: the fixture served by `--http PORT` in a subprocess."""
    import socket
    import subprocess
    import time

    from helpers import free_port

    from autogen_troupe.scenario._schema import HttpServer

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, FEATURES, "--http", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the HTTP fixture did not come up"
                time.sleep(0.05)

        async def sampler(req: SampleRequest) -> SampleReply:
            return SampleReply(text="Brief.", model="m")

        notes: list[McpNote] = []
        options = McpClientOptions(
            server="web",
            ask=scripted_ask([{"name": "Cy"}]),
            sampling=SamplingLimits(),
            sampler=sampler,
            on_note=notes.append,
        )
        server = HttpServer(url=f"http://127.0.0.1:{port}/mcp")
        async with McpServerPool({"web": server}, {"web": options}) as pool:
            wb = pool.workbench(McpUse(server="web"), agent="a")
            assert text(await wb.call_tool("book", {"city": "Quito"})) == "booked 2 night(s) in Quito for Cy"
            assert text(await wb.call_tool("summarize", {"text": "long"})) == "summary: Brief."
            assert text(await wb.call_tool("crunch", {"steps": 2})) == "crunched 2 steps"
        kinds = [n.kind for n in notes]
        assert kinds.count("elicitation") == kinds.count("sampling") == 1 and kinds.count("progress") == 2
        assert kinds.count("log") == 2
    finally:
        proc.terminate()
        proc.wait(timeout=10)
