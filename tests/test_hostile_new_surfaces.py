"""The surfaces merged on 2026-12-07 used as a hostile new user would: export/import with keys written in
the files, A2A and AG-UI bodies that are not what the protocol says, ... Each test names the rule it keeps
(a clear error, nothing lost, outside text as data, no secret leaves)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers import cli, write

# ------------------------------------------------------------------ troupe export / troupe import

INLINE_MODEL = """\
name: inline
task: hi
model: {provider: openai, base_url: "http://127.0.0.1:9/v1", model: m-inline}
team:
  kind: single
  agents: [{name: a}]
"""


def test_export_gives_an_agent_without_a_model_the_scenarios_inline_model(tmp_path: Path) -> None:
    """As a run does (agents/_build.py): not the default profile (the in-process engine), refused."""
    done = cli("export", str(write(tmp_path, INLINE_MODEL)))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    client = data["config"]["participants"][0]["config"]["model_client"]["config"]
    assert (client["base_url"], client["model"]) == ("http://127.0.0.1:9/v1", "m-inline")


KEYS_IN_SCENARIO = """\
name: keys
task: hi
model:
  provider: openai
  base_url: "http://user:pa55word-xyz@127.0.0.1:9/v1?api_key=q-key-0123456"
  model: m
team:
  kind: single
  agents: [{name: a, mcp: [gh]}]
mcp_servers:
  gh:
    command: python
    args: [-m, srv, --token, ghp_ARGKEY123456]
    env: {GITHUB_TOKEN: ghp_ENVKEY999999, MODE: plain}
"""


def test_export_never_writes_a_key_the_scenario_holds(tmp_path: Path) -> None:
    done = cli("export", str(write(tmp_path, KEYS_IN_SCENARIO)))
    assert done.returncode == 0, done.stderr
    for key in ("pa55word-xyz", "q-key-0123456", "ghp_ARGKEY123456", "ghp_ENVKEY999999"):
        assert key not in done.stdout and key not in done.stderr
    server = json.loads(done.stdout)["config"]["participants"][0]["config"]["workbench"][0]["config"]
    env = server["server_params"]["env"]
    assert env == {"GITHUB_TOKEN": "${GITHUB_TOKEN}", "MODE": "plain"}
    assert "env.GITHUB_TOKEN: a key written in the scenario is left out" in done.stderr


def _component(model: dict[str, object], server: dict[str, object]) -> dict[str, object]:
    return {
        "provider": "autogen_agentchat.agents.AssistantAgent",
        "config": {
            "name": "a",
            "workbench": [
                {"provider": "autogen_ext.tools.mcp.McpWorkbench", "config": {"server_params": server}}
            ],
            "model_client": {
                "provider": "autogen_ext.models.openai.OpenAIChatCompletionClient",
                "config": model,
            },
        },
    }


def test_import_never_copies_a_key_the_json_holds_into_the_yaml(tmp_path: Path) -> None:
    team = _component(
        {
            "model": "m",
            "base_url": "http://u:pa55word-xyz@h/v1?key=q-key-0123456",
            "api_key": "sk-APIKEY12345",
        },
        {
            "type": "StdioServerParams",
            "command": "npx",
            "args": ["srv", "--api-key", "ghp_ARGKEY123456"],
            "env": {"GITHUB_TOKEN": "ghp_ENVKEY999999", "HOME": "/h"},
        },
    )
    path = tmp_path / "team.json"
    path.write_text(json.dumps(team))
    done = cli("import", str(path))
    assert done.returncode == 0, done.stderr
    for key in ("pa55word-xyz", "q-key-0123456", "sk-APIKEY12345", "ghp_ARGKEY123456", "ghp_ENVKEY999999"):
        assert key not in done.stdout and key not in done.stderr
    import yaml

    scenario = yaml.safe_load(done.stdout)
    assert scenario["mcp_servers"]["mcp1"]["env"] == {"GITHUB_TOKEN": "${GITHUB_TOKEN}", "HOME": "/h"}
    assert "mcp_servers.mcp1.env.GITHUB_TOKEN: a key in the file is not carried" in done.stderr
    assert "# not carried over: model.base_url: a key in the file" in done.stdout


# ------------------------------------------------------------------ troupe serve's A2A endpoint


def test_a_malformed_a2a_request_puts_no_traceback_and_no_escape_on_the_servers_console(
    tmp_path: Path,
) -> None:
    """The A2A SDK logs a request it cannot read as a traceback, quoting the client's request id: on the
    server's console that is a traceback for a user error and a client's terminal escapes. Its lines go
    to serve-TIME.log in --out (nothing lost), as the engine's do; the client still gets its error."""
    import httpx2
    from test_serve_cli import Command

    echo = write(tmp_path, "name: echo\ntask: hi\nteam: {kind: single, agents: [{name: echoer}]}\n")
    c = Command(tmp_path, str(echo))
    try:
        assert c.url, c.first
        url, version = c.url + "a2a/echo", {"A2A-Version": "1.0"}
        answers = [
            httpx2.post(url, json={"jsonrpc": "2.0", "id": 1}, headers=version, timeout=60).json(),
            httpx2.post(
                url,
                json={"jsonrpc": "2.0", "id": "\x1b]0;owned\x07", "method": "Nope"},
                headers=version,
                timeout=60,
            ).json(),
            httpx2.post(
                url,
                json={
                    "jsonrpc": "2.0",
                    "id": 3,
                    "method": "SendMessage",
                    "params": {"message": {"parts": "x"}},
                },
                headers=version,
                timeout=60,
            ).json(),
        ]
    finally:
        _, err, _ = c.stop()
    assert [a["error"]["code"] for a in answers] == [-32600, -32601, -32602]
    assert "Traceback" not in err and "\x1b" not in err and "\x07" not in err, err
    logged = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "runs").glob("serve-*.log"))
    assert "Failed to validate base JSON-RPC request" in logged and "Failed to parse request params" in logged


def test_verbose_shows_a_librarys_lines_with_their_escapes_visible(capfd: object) -> None:
    """--verbose puts the libraries' lines on the console too: what they quote is shown, not acted on."""
    import logging

    import pytest

    from autogen_troupe.runtime import library_logs

    assert isinstance(capfd, pytest.CaptureFixture)
    with library_logs(console=True):
        logging.getLogger("a2a.server").warning("Request Error (ID: %s)", "\x1b]0;owned\x07")
    err = capfd.readouterr().err
    assert "Request Error (ID: \\x1b]0;owned\\x07)" in err and "\x1b" not in err


# ------------------------------------------------------------------ files the commands write


EVAL = """\
name: ev
task: "Plan a trip to {{city}}"
team: {kind: single, agents: [{name: planner}]}
"""


def test_junit_and_cassette_paths_that_cannot_be_written_are_exit_2_before_any_run(tmp_path: Path) -> None:
    """A folder (or a path under a file) given for --junit or --cassette: said at once, before the runs
    (which would be done for nothing, then end on a traceback); no model is called (the endpoint is
    closed, so a run would fail otherwise)."""
    folder = tmp_path / "reports"
    folder.mkdir()
    under_a_file = tmp_path / "tasks.csv" / "junit.xml"
    write(tmp_path, "city\nParis\n", "tasks.csv")
    sc = str(write(tmp_path, EVAL))
    closed = ("--base-url", "http://127.0.0.1:9/v1", "--model", "m")
    for args, said in [
        (
            ("eval", "run", sc, "--tasks", str(tmp_path / "tasks.csv"), *closed, "--junit", str(folder)),
            "is a folder",
        ),
        (
            (
                "eval",
                "run",
                sc,
                "--tasks",
                str(tmp_path / "tasks.csv"),
                *closed,
                "--junit",
                str(under_a_file),
            ),
            "folder",
        ),
        (("record", sc, "--task", "x", *closed, "--cassette", str(folder)), "is a folder"),
    ]:
        done = cli(*args, "--out", str(tmp_path / "runs"))
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr and said in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not list(tmp_path.glob("runs/**/*.jsonl"))  # no run was made


def test_a_file_system_refusal_in_any_command_is_one_paragraph_exit_2(capsys: object) -> None:
    """The net under every command: an OSError naming a path is said with it, never a traceback."""
    import pytest
    import typer

    from autogen_troupe.cli.errors import reported

    with pytest.raises(typer.Exit) as ended, reported():
        raise IsADirectoryError(21, "Is a directory", "x.tmp", None, "reports")
    assert ended.value.exit_code == 2
    assert isinstance(capsys, pytest.CaptureFixture)
    assert "cannot use x.tmp -> reports: Is a directory" in capsys.readouterr().err


# ------------------------------------------------------------------ command-line text


def test_a_text_argument_that_is_not_utf8_is_exit_2_naming_its_option(tmp_path: Path) -> None:
    """Bytes a shell passes as they are (Latin-1, half a character) become lone surrogates in Python:
    refused at the door with the option's name, not a traceback when the transcript is written. The
    endpoint is closed: nothing may be called before the refusal."""
    import os
    import subprocess
    import sys

    sc = write(tmp_path, "name: rr\ntask: hi\nteam: {kind: single, agents: [{name: a}]}\n")
    runs = tmp_path / "runs"
    closed = [b"--base-url", b"http://127.0.0.1:9/v1", b"--model", b"m", b"--out", os.fsencode(runs)]
    cases = [
        ([b"run", os.fsencode(sc), b"--task", b"caf\xe9", *closed], "--task: the text is not UTF-8"),
        (
            [b"fork", b"x", b"--at", b"1", b"--set", b"a.system_message=\xed\xa0\x80"],
            "--set: the text is not",
        ),
    ]
    for argv, said in cases:
        done = subprocess.run(
            [os.fsencode(sys.executable), b"-m", b"autogen_troupe.cli", *argv],
            capture_output=True,
            timeout=120,
            cwd=tmp_path,
        )
        err = done.stderr.decode("utf-8", "replace")
        assert done.returncode == 2, err
        assert said in err and "Traceback" not in err, err
    assert not runs.exists()


# ------------------------------------------------------------------ output_schema


def test_an_output_schema_pattern_the_answer_checker_cannot_use_is_one_located_line(tmp_path: Path) -> None:
    """Python's `re` compiles look-around and back-references, pydantic's Rust engine (which checks the
    answers, in linear time) does not: said at the pattern, in one line, by `troupe check`."""
    schema = '{type: object, properties: {a: {type: string, pattern: "^(?=a)(\\\\w+)\\\\1$"}}}'
    sc = write(
        tmp_path,
        "name: o\ntask: hi\nteam:\n  kind: single\n  agents:\n"
        f"    - name: a\n      output_schema: {schema}\n",
    )
    done = cli("check", str(sc))
    assert done.returncode == 2, done.stdout
    assert done.stderr.count("\n") == 1, done.stderr
    assert ":7:" in done.stderr and "team.agents[0].output_schema.properties.a.pattern" in done.stderr
    assert "look-around" in done.stderr


# ------------------------------------------------------------------ troupe serve's AG-UI endpoint


def test_an_agui_resume_on_a_thread_no_question_waits_on_is_refused_not_a_new_run(
    srv: Any, tmp_path: Path
) -> None:
    """A front end answering a question that is no longer asked (the run ended; a server restarted): the
    answer would be dropped and a new run started on the last message, unsaid. A 409 naming `resume`."""
    import httpx2
    from fake_openai import Reply
    from served import Served
    from test_serve_agui import ECHO, agui, run_input

    srv.default = Reply(text="hello")
    echo = write(tmp_path, ECHO, "echo.yaml")
    with Served([echo], base_url=srv.base_url, out_dir=tmp_path / "runs") as s:
        url = s.url + "agui/echo"
        assert agui(url, run_input("hi"))[-1].type.value == "RUN_FINISHED"
        asked_before = len(srv.chat_requests)
        resume = [{"interruptId": "q-1", "status": "resolved", "payload": "yes"}]
        for thread in ("t1", "never-seen"):
            r = httpx2.post(url, json=run_input("hi", thread=thread, run="r2", resume=resume), timeout=60)
            assert r.status_code == 409, r.text
            error = r.json()["error"]
            assert error["param"] == "resume" and "no question waits on thread" in error["message"]
        assert len(srv.chat_requests) == asked_before  # no run was started
        assert len(httpx2.get(s.url + "api/runs", timeout=60).json()["runs"]) == 1


# ------------------------------------------------------------------ limits: and approve:


def test_a_value_that_fits_no_shape_of_a_union_is_one_issue_at_its_key(tmp_path: Path) -> None:
    """`approve: 5` fits neither 'allow'|'ask'|'deny' nor a mapping: one line at `approve`, naming both
    shapes, not a line per shape with pydantic's tags (`approve.literal['allow','ask','deny']`) as keys."""
    from autogen_troupe.errors import ScenarioError
    from autogen_troupe.scenario import load_scenario

    sc = write(
        tmp_path,
        "name: g\ntask: hi\nteam:\n  kind: single\n"
        "  agents: [{name: a, mcp: [{server: t, approve: 5}]}]\n"
        "mcp_servers: {t: {command: python, args: [-m, mcp_server_time]}}\n"
        "limits: {max_tool_calls: -2}\n",
    )
    import pytest

    with pytest.raises(ScenarioError) as e:
        load_scenario(sc)
    said = [(i.line, i.field, i.message) for i in e.value.issues]
    assert said == [
        (
            5,
            "team.agents[0].mcp[0].approve",
            "Input should be 'allow', 'ask' or 'deny', or a valid dictionary",
        ),
        (7, "limits.max_tool_calls", "must be a valid integer from 1 to 10000 (got -2)"),
    ]


async def test_a_message_on_a_task_whose_team_is_at_work_is_refused(srv: Any, tmp_path: Path) -> None:
    """Only a question (input-required) takes a message on its task. The SDK would otherwise run the
    executor a second time beside the first: the message reaches no one and every later message of the
    team is written twice into the task. The official client gets an A2A error saying so."""
    import httpx
    import pytest
    from a2a.client import ClientConfig, create_client
    from a2a.types.a2a_pb2 import (
        CancelTaskRequest,
        Message,
        Part,
        Role,
        SendMessageConfiguration,
        SendMessageRequest,
        TaskState,
    )
    from a2a.utils.errors import A2AError
    from fake_openai import Reply
    from served import Served

    srv.default = Reply(text="slow", delay_s=60)  # the team stays at work until the cancel
    echo = write(tmp_path, "name: echo\ntask: hi\nteam: {kind: single, agents: [{name: a}]}\n", "echo.yaml")
    with Served([echo], base_url=srv.base_url, out_dir=tmp_path / "runs") as s:
        async with httpx.AsyncClient(timeout=60) as http:
            client = await create_client(f"{s.url}a2a/echo", ClientConfig(httpx_client=http, streaming=False))
            first = Message(role=Role.ROLE_USER, message_id="m1", parts=[Part(text="hi")])
            now = SendMessageConfiguration(return_immediately=True)
            got = [r async for r in client.send_message(SendMessageRequest(message=first, configuration=now))]
            task = got[0].task
            again = Message(role=Role.ROLE_USER, message_id="m2", parts=[Part(text="are you there?")])
            again.task_id, again.context_id = task.id, task.context_id
            with pytest.raises(A2AError, match="is working, not waiting for input"):
                _ = [r async for r in client.send_message(SendMessageRequest(message=again))]
            canceled = await client.cancel_task(CancelTaskRequest(id=task.id))
            assert canceled.status.state == TaskState.TASK_STATE_CANCELED
    assert all("are you there?" not in json.dumps(r.json) for r in srv.chat_requests)


def test_an_endpoint_that_says_it_decodes_but_answers_free_text_is_a_clear_error(
    srv: Any, tmp_path: Path
) -> None:
    """The default model facts say an OpenAI-compatible server decodes under the schema; one that ignores
    `response_format` answered text, which failed deep in AutoGen: a pydantic traceback as the error. Now
    the answer is checked there too: repaired once, then StructuredOutputError in one paragraph."""
    from fake_openai import Reply

    srv.default = Reply(text="Sure! <script>alert(1)</script> \x1b[2J Kathmandu.")
    sc = write(
        tmp_path,
        "name: o\ntask: hi\nteam:\n  kind: single\n  agents:\n    - name: a\n"
        "      output_schema: {type: object, properties: {city: {type: string}}, required: [city]}\n",
    )
    done = cli(
        "run", str(sc), "--base-url", srv.base_url, "--model", "fake-model", "--out", str(tmp_path / "r")
    )
    assert done.returncode == 1, done.stderr
    first = done.stderr.splitlines()[0]
    assert first.startswith("StructuredOutputError: agent 'a' did not answer under its output_schema"), first
    assert "Traceback" not in done.stderr and "\x1b" not in done.stderr
    assert len(srv.chat_requests) == 2  # asked, then one repair
    assert srv.chat_requests[0].json["response_format"]["type"] == "json_schema"  # still asked to decode


def test_an_unexpected_failure_inside_autogen_is_one_paragraph_on_the_console(capsys: Any) -> None:
    """AutoGen flattens an agent's error into RuntimeError('X: ...\\nTraceback:\\n...'); the run's error
    keeps it (the transcript, the server's log), the console says one paragraph."""
    import pytest
    import typer

    from autogen_troupe.cli.errors import reported
    from autogen_troupe.errors import RunError

    flattened = (
        'The run failed: RuntimeError: ValueError: no good\nTraceback:\n  File "x.py", line 1\n    raise'
    )
    with pytest.raises(typer.Exit) as ended, reported():
        raise RunError(flattened)
    assert ended.value.exit_code == 1
    err = capsys.readouterr().err
    assert err.startswith("RunError: The run failed: RuntimeError: ValueError: no good (the whole error")
    assert "Traceback" not in err.replace("with its traceback", "") and len(err.strip().splitlines()) == 1


def test_an_imported_team_that_makes_no_valid_scenario_names_the_field_as_a_reader_writes_it(
    tmp_path: Path,
) -> None:
    """Not pydantic's loc with its union tags (`team.agents.0.model_context.buffered.last`)."""
    client = {"provider": "autogen_ext.models.openai.OpenAIChatCompletionClient", "config": {"model": "m"}}
    context = {"provider": "BufferedChatCompletionContext", "config": {"buffer_size": "many"}}
    team = {
        "provider": "autogen_agentchat.agents.AssistantAgent",
        "config": {"name": "a", "model_client": client, "model_context": context},
    }
    path = tmp_path / "team.json"
    path.write_text(json.dumps(team))
    done = cli("import", str(path))
    assert done.returncode == 2 and done.stdout == ""
    assert "team.agents[0].model_context.last: must be a valid integer" in done.stderr, done.stderr
