"""Helpers the tests share: the real `troupe` command in this process (`cli`, Typer's runner) or in a child
process where the process itself is what is tested (`troupe`), files written from indented text, a free
port.

Fixtures (the fake OpenAI-compatible endpoint, in this process or as a process of its own) are in
conftest.py; tests/fake_openai.py is the endpoint itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fake_openai import Reply
from vllm_server import free_port

__all__ = [
    "APPROVAL_REPLIES",
    "BUDGET_REPLIES",
    "BUDGET_SCENARIO",
    "TESTS",
    "approval_scenario",
    "cli",
    "free_port",
    "troupe",
    "wait_for",
    "write",
]

TESTS = Path(__file__).resolve().parent


def troupe(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The real command in a child process, with `env` over ours; the timeout only bounds a hang."""
    return subprocess.run(
        [sys.executable, "-m", "autogen_troupe.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The command run in this process by Typer's `CliRunner`, with `env` over ours and `cwd` as the
    current folder while it runs; its exit code, stdout and stderr as `troupe` reports a child's. An
    exception the command lets out is raised here (a child would print its traceback)."""
    import mcp.client.stdio  # noqa: F401 - see below
    from typer.testing import CliRunner

    from autogen_troupe.cli import app

    # The MCP SDK binds `sys.stderr` as stdio_client's default errlog when it is first imported: imported
    # inside the runner, every later stdio server of this process would write to the runner's closed stream.

    here = Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        done = CliRunner().invoke(app, list(args), env=env, prog_name="troupe")
    finally:
        os.chdir(here)
    if done.exception is not None and not isinstance(done.exception, SystemExit):
        raise done.exception
    return subprocess.CompletedProcess(["troupe", *args], done.exit_code, done.stdout, done.stderr)


def write(folder: Path, text: str | bytes, name: str = "s.yaml") -> Path:
    """A file in `folder`: text dedented (so tests can indent their YAML), bytes as they are."""
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def booking_scenario(folder: Path) -> Path:
    """A one-agent scenario whose MCP server (mcp_fixtures/features.py) asks the person a form question when
    its `book` tool runs: the page, A2A and AG-UI tests of elicitation share it."""
    features = Path(__file__).parent / "mcp_fixtures" / "features.py"
    return write(
        folder,
        f"""
        name: booking
        task: Book Rome.
        team:
          kind: single
          agents:
            - {{name: agent, mcp: [f], max_tool_iterations: 3, stream: false}}
        mcp_servers:
          f: {{command: python, args: ["{features}"]}}
        """,
        "booking.yaml",
    )


def approval_scenario(*, timeout_s: float = 60, name: str = "approval", extra: str = "") -> str:
    """The person-in-the-team scenario the user-agent and serve tests share: a planner, the traveller
    (`kind: user`, answering within `timeout_s`), a summary; `extra` is added under `team:`."""
    return textwrap.dedent(
        f"""\
        name: {name}
        description: The planner drafts, you approve.
        task: Plan a day in Kyoto.
        team:
          kind: round_robin
          agents:
            - name: planner
              system_message: Plan.
            - name: traveller
              kind: user
              answer_timeout_s: {timeout_s}
            - name: summary
              system_message: Sum up.
          termination: {{any: [{{text_mention: TERMINATE}}, {{max_messages: 10}}]}}
        """
    ) + textwrap.indent(textwrap.dedent(extra), "  ")


APPROVAL_REPLIES = {
    "Plan.": ["Morning: Fushimi Inari.", "Morning: Fushimi Inari. Evening: Gion."],
    "Sum up.": ["Add an evening.", "Final: Fushimi Inari, Gion. TERMINATE"],
}
"""What the fake endpoint answers the approval scenario's planner and summary, by system message."""


BUDGET_SCENARIO = """\
name: budget
task: Budget a 3 day trip.
team:
  kind: round_robin
  agents:
    - name: writer
      system_message: Write the budget.
      tools: ['autogen_troupe.tools.examples:trip_budget']
      reflect_on_tool_use: true
    - name: critic
      system_message: Criticise it.
  termination: {any: [{text_mention: TERMINATE}, {max_messages: 20}]}
"""
"""The durable-run tests' team: a writer with a Python tool (it reflects on the result), and a critic."""

BUDGET_REPLIES = [
    Reply(tool_calls=[("trip_budget", {"days": 3, "daily_usd": 100})]),
    Reply(text="About $330 in all."),
    Reply(text="Add a margin for trains."),
    Reply(text="With trains: about $400."),
    Reply(text="Fine. TERMINATE"),
]
"""Five model calls and a tool call: writer (tool, reflection), critic, writer, critic."""


def wait_for(check: Callable[[], object], what: str, wait_s: float = 60.0) -> None:
    """Poll `check` until it holds; `wait_s` only bounds a hang (nothing is timed)."""
    deadline = time.monotonic() + wait_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {wait_s:g} s waiting for {what}")
        time.sleep(0.02)
