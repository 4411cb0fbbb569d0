"""`troupe mcp tools|call|resources|prompts` against real servers: our fixture servers over stdio, named by
a command or by `scenario.yaml:name`; human output and --json; bad input gets exit 2 and one paragraph."""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import TESTS, cli, troupe, write

from autogen_troupe.errors import UsageError
from autogen_troupe.scenario._schema import HttpServer, StdioServer
from autogen_troupe.tools._mcp_inspect import auth_from_options, resolve_target

FEATURES = f"{sys.executable} {TESTS / 'mcp_fixtures' / 'features.py'}"
TOOLBOX = f"{sys.executable} {TESTS / 'mcp_fixtures' / 'toolbox.py'}"


def test_tools_as_a_table_and_as_json() -> None:
    table = cli("mcp", "tools", TOOLBOX)
    assert table.returncode == 0, table.stderr
    assert "echo" in table.stdout and "Return the text unchanged." in table.stdout
    listed = cli("mcp", "tools", TOOLBOX, "--json")
    tools = {t["name"]: t for t in json.loads(listed.stdout)}
    assert tools["echo"]["inputSchema"]["required"] == ["text"]


def test_call_prints_the_result_and_exits_by_it() -> None:
    done = cli("mcp", "call", TOOLBOX, "echo", "--args", '{"text": "hello there"}')
    assert done.returncode == 0 and done.stdout.strip() == "hello there"
    as_json = json.loads(cli("mcp", "call", TOOLBOX, "echo", "--args", '{"text": "x"}', "--json").stdout)
    assert as_json["content"][0]["text"] == "x" and as_json["isError"] is False
    failed = cli("mcp", "call", TOOLBOX, "fail")
    assert failed.returncode == 1, failed.stdout + failed.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["call", TOOLBOX, "nope"],
        ["prompts", FEATURES, "--get", "nope"],
        ["resources", FEATURES, "--read", "x://y"],
    ],
)
def test_a_request_the_server_refuses_is_one_sentence_and_exit_1(args: list[str]) -> None:
    done = cli("mcp", *args)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("ToolCallError: MCP server") or "Unknown tool" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--args", "{nope"], "--args is not JSON"),
        (["--args", "[1]"], "--args must be a JSON object"),
        (["--elicitation", "maybe"], "--elicitation 'maybe': choose one of ask, decline, accept_defaults"),
    ],
)
def test_bad_call_input_is_exit_2(args: list[str], message: str) -> None:
    done = cli("mcp", "call", TOOLBOX, "echo", *args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_elicitation_policy_and_notes() -> None:
    declined = cli("mcp", "call", FEATURES, "book", "--args", '{"city": "Paris"}', "--elicitation", "decline")
    assert declined.returncode == 0 and "the person chose decline" in declined.stdout
    assert "elicitation: asked 'Who is travelling to Paris?' (decline)" in declined.stderr
    crunched = cli("mcp", "call", FEATURES, "crunch", "--args", '{"steps": 2}')
    assert crunched.stdout.strip() == "crunched 2 steps"
    assert "progress: crunch: 2/2 step 2" in crunched.stderr and "finished step 1 of 2" in crunched.stderr


def test_resources_and_prompts() -> None:
    listed = json.loads(cli("mcp", "resources", FEATURES, "--json").stdout)
    assert [r["uri"] for r in listed["resources"]] == ["notes://readme"]
    assert [t["uriTemplate"] for t in listed["resource_templates"]] == ["notes://city/{city}"]
    read = cli("mcp", "resources", FEATURES, "--read", "notes://city/Rome")
    assert read.returncode == 0 and "Rome" in read.stdout
    prompts = json.loads(cli("mcp", "prompts", FEATURES, "--json").stdout)
    assert {p["name"] for p in prompts} == {"travel_agent", "plan_trip"}
    got = cli("mcp", "prompts", FEATURES, "--get", "plan_trip", "--args", '{"city": "Rome"}')
    assert got.returncode == 0 and "Plan a 2 day trip to Rome." in got.stdout
    none = cli("mcp", "prompts", TOOLBOX)
    assert none.returncode == 0 and "offers no prompts" in none.stdout
    none = cli("mcp", "resources", TOOLBOX)
    assert none.returncode == 0 and "offers no resources" in none.stdout


def test_a_scenario_server_by_name(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        name: s
        task: hi
        team: {{kind: single, agents: [{{name: a, mcp: [box]}}]}}
        mcp_servers:
          box: {{command: python, args: ["{TESTS / "mcp_fixtures" / "toolbox.py"}"]}}
        """,
    )
    done = cli("mcp", "call", f"{path}:box", "echo", "--args", '{"text": "from the scenario"}')
    assert done.returncode == 0 and done.stdout.strip() == "from the scenario"
    missing = cli("mcp", "tools", f"{path}:nope")
    assert missing.returncode == 2 and "has no MCP server named 'nope' (its servers: box)" in missing.stderr


def test_a_server_that_cannot_start_is_exit_1_with_its_stderr() -> None:
    done = cli("mcp", "tools", f"{sys.executable} -c 'import sys; sys.exit(\"no luck here\")'")
    assert done.returncode == 1 and "no luck here" in done.stderr and "Traceback" not in done.stderr


@contextmanager
def silent_server() -> Iterator[str]:
    """An HTTP address on 127.0.0.1 that accepts every connection and never answers a byte."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/mcp"
    finally:
        stop.set()
        thread.join(5)
        listener.close()
        for conn in held:
            conn.close()


@pytest.mark.parametrize("command", ["tools", "login"])
def test_a_server_that_never_answers_fails_at_the_startup_timeout(command: str) -> None:
    with silent_server() as url:
        done = troupe("mcp", command, url, "--startup-timeout", "1", "--no-browser", timeout=90)
    assert done.returncode == 1, done.stdout + done.stderr
    message = done.stderr.strip()
    assert message.startswith("ToolCallError: MCP server 'server'") and "Traceback" not in message
    assert "did not finish starting (handshake and tool listing) within 1 s" in message


def test_the_scenarios_startup_timeout_is_not_lengthened_by_the_login_wait(tmp_path: Path) -> None:
    with silent_server() as url:
        path = write(
            tmp_path,
            f"""
            name: s
            task: t
            team: {{kind: single, agents: [{{name: a}}]}}
            mcp_servers:
              quiet: {{url: "{url}", startup_timeout_s: 1}}
            """,
        )
        # Before, the inspector added the login's 300 s to it: this waited 301 s.
        done = troupe("mcp", "tools", f"{path}:quiet", timeout=90)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "MCP server 'quiet'" in done.stderr and "within 1 s" in done.stderr


def test_resolve_target_forms(tmp_path: Path) -> None:
    http = resolve_target("http://127.0.0.1:8000/mcp")
    assert isinstance(http.server, HttpServer) and http.url == "http://127.0.0.1:8000/mcp"
    stdio = resolve_target("python -m mcp_server_time --local-timezone 'Asia/Seoul'")
    assert isinstance(stdio.server, StdioServer)
    assert stdio.server.args == ("-m", "mcp_server_time", "--local-timezone", "Asia/Seoul")
    assert stdio.name == "mcp_server_time" and resolve_target("node build/index.js").name == "index"
    for bad, message in [("", "SERVER is empty"), ("missing.yaml:x", "with a file that exists")]:
        with pytest.raises(UsageError, match=message):
            resolve_target(bad)


def test_auth_options_lay_over_the_scenario() -> None:
    target = resolve_target("https://mcp.example.com/mcp")
    laid = auth_from_options(target, {"client_id": "cli", "scope": "read"}, {"X-Team": "a"})
    assert isinstance(laid.server, HttpServer) and laid.server.auth is not None
    assert (laid.server.auth.client_id, laid.server.auth.scope) == ("cli", "read")
    assert laid.server.headers == {"X-Team": "a"}
    with pytest.raises(UsageError, match="grant client_credentials needs a client_id"):
        auth_from_options(target, {"grant": "client_credentials"}, {})
    with pytest.raises(UsageError, match="only apply to HTTP servers"):
        auth_from_options(resolve_target("python x.py"), {"client_id": "c"}, {})
