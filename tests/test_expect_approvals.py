"""`expect: approvals:` checks the decisions on tool calls that needed approval (`{shred: denied}`, or
`{shred: {decision: denied, by: person}}`), against real runs with the shredder MCP server; a tool name the
team cannot call is a load error where the scenario lists its tools, else a failure naming what was noted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from helpers import write
from test_approvals import SHRED, SHREDDER, Person

from autogen_troupe import RunOptions, load_scenario, run_scenario
from autogen_troupe.errors import ScenarioError
from autogen_troupe.testing import ScriptedClient, check_expectations
from autogen_troupe.testing._expect import ExpectReport


def clerk(tmp_path: Path, expect: str, use: str = "files") -> Path:
    log = tmp_path / "shredder.log"
    return write(
        tmp_path,
        "name: clerk\ntask: Tidy the files.\n"
        f"team:\n  kind: round_robin\n  agents: [{{name: clerk, mcp: [{use}]}}]\n"
        "  termination: {text_mention: DONE}\n"
        f"mcp_servers:\n  files: {{command: {sys.executable}, args: [{str(SHREDDER)!r}, {str(log)!r}]}}\n"
        f"expect:\n  approvals: {expect}\n",
        "clerk.yaml",
    )


async def checked(path: Path, *answers: str) -> ExpectReport:
    sc = load_scenario(path)
    options = RunOptions(ask_human=Person(*answers)) if answers else RunOptions()
    result = await run_scenario(sc, clients=ScriptedClient(SHRED), options=options)
    return check_expectations(result, sc.expect)


async def test_the_persons_decision_is_checked(tmp_path: Path) -> None:
    assert (await checked(clerk(tmp_path, "{shred: allowed, peek: none}"), "yes")).passed
    report = await checked(clerk(tmp_path, "{shred: denied}"), "yes")
    (failure,) = report.failures
    assert (failure.expectation, failure.expected, failure.actual) == (
        "approvals.shred",
        "every call denied",
        "allowed by person",
    )
    assert "shred: allowed by the person" in failure.lines[0]
    assert (await checked(clerk(tmp_path, "{shred: {decision: denied, by: person}}"), "no")).passed


async def test_who_decided_is_checked_and_nobody_to_ask_is_a_denial_by_nobody(tmp_path: Path) -> None:
    assert (await checked(clerk(tmp_path, "{shred: {decision: denied, by: nobody}}"))).passed
    report = await checked(clerk(tmp_path, "{shred: {decision: denied, by: person}}"))
    assert [(f.expected, f.actual) for f in report.failures] == [
        ("every call denied by person", "denied by nobody")
    ]
    report = await checked(clerk(tmp_path, "{shred: none}"))
    assert [(f.expected, f.actual) for f in report.failures] == [
        ("no call of it needing a decision", "denied by nobody")
    ]


async def test_a_name_the_run_never_noted_fails_naming_what_was(tmp_path: Path) -> None:
    report = await checked(clerk(tmp_path, "{shrder: denied}"), "no")  # tools unknown at load time
    (failure,) = report.failures
    assert failure.expectation == "approvals.shrder"
    assert failure.actual == "no call of 'shrder' needed a decision (tools with a decision: shred)"


@pytest.mark.parametrize(
    ("use", "expect", "words"),
    [
        (
            "{server: files, allow: [shred, peek]}",
            "{shrder: denied}",
            "approvals names tool 'shrder', which no agent can call (MCP tools: peek, shred)",
        ),
        (
            "{server: files, allow: [shred], rename: {shred: destroy}}",
            "{shred: denied}",  # the agent's name for it is destroy
            "approvals names tool 'shred', which no agent can call (MCP tools: destroy)",
        ),
        ("files", "{shred: {decision: none, by: person}}", "with decision none nobody did"),
        ("files", "{shred: {decision: allowed, by: scenario}}", "only the person allows"),
        ("files", "{shred: maybe}", "'allowed', 'denied' or 'none'"),
    ],
)
def test_a_wrong_approvals_block_is_a_located_load_error(
    tmp_path: Path, use: str, expect: str, words: str
) -> None:
    with pytest.raises(ScenarioError) as got:
        load_scenario(clerk(tmp_path, expect, use=use))
    (issue,) = got.value.issues
    line = Path(issue.path).read_text().splitlines()[issue.line - 1]
    assert words in issue.message and line.startswith("  approvals:"), issue


def test_without_an_mcp_server_any_approval_name_is_a_load_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "name: plain\ntask: hi\nteam: {kind: single, agents: [{name: a}]}\n"
        "expect:\n  approvals: {shred: denied}\n",
        "plain.yaml",
    )
    with pytest.raises(ScenarioError, match="which no agent can call \\(MCP tools: none: no agent uses"):
        load_scenario(path)


async def test_troupe_test_replays_the_decision_and_checks_it(tmp_path: Path) -> None:
    from helpers import troupe

    from autogen_troupe.runtime._modes import execute

    path = clerk(tmp_path, "{shred: {decision: denied, by: person}}")
    tape = tmp_path / "clerk.cassette.json"
    person = RunOptions(ask_human=Person("no"))
    recorded = await execute(
        load_scenario(path), "record", cassette=tape, clients=ScriptedClient(SHRED), options=person
    )
    assert recorded.ok
    tested = troupe("test", str(path))  # offline: nobody asked, the recorded decision replayed
    assert tested.returncode == 0, tested.stdout + tested.stderr
    path.write_text(path.read_text().replace("denied, by: person", "allowed"))
    tested = troupe("test", str(path))
    assert tested.returncode == 1, tested.stdout + tested.stderr
    said = " ".join((tested.stdout + tested.stderr).split())
    assert "approvals.shred: expected every call allowed; got denied by person" in said, tested.stdout
