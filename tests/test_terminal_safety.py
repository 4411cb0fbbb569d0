"""What servers and models send is shown as text on the terminal: escape sequences never reach it (a server
could retitle or clear the user's terminal, overwrite a line) and `[markup]` is never read (a `[/bold]`
crashed `troupe mcp tools`). A real MCP server (tests/mcp_fixtures/hostile.py) and a scripted endpoint
send both, through the real `troupe` command."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import TESTS, cli
from rich.console import Console

from autogen_troupe._text import safe_text
from autogen_troupe.cli.run_view import ConsoleView
from autogen_troupe.runtime._transcript import Chunk

HOSTILE_SERVER = TESTS / "mcp_fixtures" / "hostile.py"
HOSTILE = f"{sys.executable} {HOSTILE_SERVER}"
MARKUP = "[/bold][red]x[link=https://evil.example]click[/link]"
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\rover\x9b31m\x08"
CONTROLS = ("\x1b", "\x07", "\r", "\x9b", "\x08")
WIDE = {"COLUMNS": "400"}  # one table row a line, so the texts can be found whole


def assert_shown_as_text(output: str, *, markup: str = MARKUP) -> None:
    """No control byte reached the output, the markup is there literally, the escapes as visible text."""
    leaked = [c for c in CONTROLS if c in output]
    assert not leaked, f"control characters reached the terminal: {leaked!r}\n{output!r}"
    assert markup in output
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\rover\\x9b31m" in output


@pytest.mark.parametrize(
    ("args", "where"),
    [
        (["tools"], "Echo back."),
        (["resources"], "notes://bad"),
        (["resources", "--read", "notes://bad"], "resource "),
        (["prompts"], "bad_prompt"),
        (["prompts", "--get", "bad_prompt"], "prompt text "),
    ],
    ids=["tools", "resources", "read", "prompts", "get"],
)
def test_mcp_commands_show_a_hostile_servers_text_as_text(args: list[str], where: str) -> None:
    done = cli("mcp", args[0], HOSTILE, *args[1:], env=WIDE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "MarkupError" not in done.stderr
    assert where in done.stdout
    assert_shown_as_text(done.stdout + done.stderr)


def test_tools_table_shows_a_hostile_tool_name_literally() -> None:
    done = cli("mcp", "tools", HOSTILE, env=WIDE)
    assert done.returncode == 0, done.stderr
    assert "odd[/b]\\x1b[2Jname" in done.stdout


def test_mcp_call_shows_result_log_and_progress_as_text() -> None:
    done = cli("mcp", "call", HOSTILE, "shout", env=WIDE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert_shown_as_text(done.stdout)  # the result
    assert f"log: [warning hostile] log {MARKUP}" in done.stderr  # the log notification
    assert f"progress {MARKUP}" in done.stderr
    assert_shown_as_text(done.stderr)
    as_json = json.loads(cli("mcp", "call", HOSTILE, "shout", "--json").stdout)
    assert as_json["content"][0]["text"] == f"result {MARKUP} {ESCAPES} end"  # --json keeps the data


def _hostile_run_scenario(tmp_path: Path) -> Path:
    data: dict[str, Any] = {
        "name": "hostile-run",
        "task": "Say it.",
        "team": {
            "kind": "single",
            "agents": [
                {
                    "name": "agent",
                    "system_message": "Say it.",
                    "mcp": [{"server": "h", "allow": ["shout"]}],
                    "max_tool_iterations": 2,
                }
            ],
            "termination": {"max_messages": 4},
        },
        "mcp_servers": {"h": {"command": sys.executable, "args": [str(HOSTILE_SERVER)]}},
    }
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
def test_troupe_run_shows_what_the_model_and_server_send_as_text(
    fake_process: Any, tmp_path: Path, stream: bool
) -> None:
    path = _hostile_run_scenario(tmp_path)
    if not stream:
        data = yaml.safe_load(path.read_text())
        data["team"]["agents"][0]["stream"] = False
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
    url, _ = fake_process(
        [
            {"tool_calls": [{"name": "shout", "arguments": {}}], "reasoning": f"think {MARKUP} {ESCAPES}"},
            {"text": f"answer {MARKUP} {ESCAPES} done"},
        ]
    )
    done = cli("run", str(path), "--base-url", url, "--model", "m", "--out", str(tmp_path / "runs"), env=WIDE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    shown = done.stdout + done.stderr
    assert f"answer {MARKUP}" in shown  # the model's answer
    assert f"result {MARKUP}" in shown  # the tool's result
    assert f"log {MARKUP}" in shown  # the server's log notification
    assert_shown_as_text(shown)


def test_a_streamed_escape_split_across_chunks_is_still_shown_as_text() -> None:
    console = Console(record=True, width=200, force_terminal=False)
    view = ConsoleView(console)
    for piece in ("a \x1b", "]0;t\x07 [/b", "old] b\r\n"):
        view(Chunk(source="agent", content=piece, elapsed_s=0.1))
    view._end_stream()
    text = console.export_text()
    assert "a \\x1b]0;t\\x07 [/bold] b\\r" in text and not any(c in text for c in CONTROLS)


def test_safe_text_is_never_markup() -> None:
    console = Console(record=True, width=200)
    console.print(safe_text(f"{MARKUP} {ESCAPES}", "bold"))  # would raise MarkupError as a string
    text = console.export_text()
    assert MARKUP in text and not any(c in text for c in CONTROLS)


def test_troupe_test_table_shows_a_hostile_file_name_as_text(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from autogen_troupe.cli import app

    bad = tmp_path / "bad[red]x[blink]\x1b[2J.yaml"
    bad.write_text("name: [unclosed\n", encoding="utf-8")
    done = CliRunner().invoke(app, ["test", str(bad)], env={"COLUMNS": "400"})
    assert done.exit_code == 1, done.output  # the scenario is an error row, not a crash
    assert "MarkupError" not in repr(done.exception) and "Traceback" not in done.output
    assert "bad[red]x[blink]\\x1b[2J" in done.stdout
    assert not any(c in done.output for c in CONTROLS)


def test_troupe_eval_shows_hostile_task_ids_and_answers_as_text(tmp_path: Path, fake_process: Any) -> None:
    scenario = tmp_path / "trip.yaml"
    scenario.write_text(
        'name: trip\ntask: "Plan a day in {{city}}."\n'
        'model: {base_url: "${FAKE_URL}", model: fake-model, max_retries: 0}\n'
        "team: {kind: single, agents: [{name: planner, system_message: You plan trips.}],"
        " termination: {text_mention: TERMINATE}}\n",
        encoding="utf-8",
    )
    tasks = tmp_path / "tasks.jsonl"
    row = {
        "id": f"k{MARKUP}\x1b]0;t\x07",
        "vars": {"city": "Kyoto"},
        "expect": {"final_message": {"contains": "Lima"}},
    }
    tasks.write_text(json.dumps(row) + "\n", encoding="utf-8")
    url, _ = fake_process({"default": f"Day 1 in Kyoto {MARKUP} {ESCAPES}. TERMINATE"})
    out = tmp_path / "out"
    done = cli(
        "eval", str(scenario), "--tasks", str(tasks), "--out", str(out), "-q", env={"FAKE_URL": url, **WIDE}
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert f"k{MARKUP}\\x1b]0;t\\x07#" in done.stdout  # the worst runs table
    assert not any(c in done.stdout + done.stderr for c in CONTROLS)
