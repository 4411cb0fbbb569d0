"""What a new user meets first: help pages without value placeholders on flags and with arguments by NAME,
`troupe --version`, and a cassette or a transcript given where a scenario goes, told apart from a broken
scenario (one paragraph, what it is and what to do, exit 2)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from autogen_troupe.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The path of every command and group under `command` (the root is `()`)."""
    yield path
    for name, sub in (getattr(command, "commands", None) or {}).items():
        yield from commands(sub, (*path, name))


ALL = sorted(commands(typer.main.get_command(app)))


def test_every_command_is_listed() -> None:
    assert {("run",), ("test",), ("eval",), ("eval", "run"), ("mcp", "tools"), ("mcp", "call")} <= set(ALL)


@pytest.mark.parametrize("path", ALL, ids=[" ".join(p) or "troupe" for p in ALL])
def test_help_shows_no_placeholder_on_flags_and_arguments_by_name(path: tuple[str, ...]) -> None:
    done = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    assert "<bool>" not in done.output  # a flag takes no value
    usage = next(line for line in done.output.splitlines() if "Usage:" in line)
    assert "{" not in usage and not re.search(r"\[[a-z_]+\]", usage), usage  # SCENARIO, [PATHS]...


@pytest.mark.parametrize(
    ("path", "usage"),
    [
        (("run",), "troupe run [OPTIONS] SCENARIO"),
        (("test",), "troupe test [OPTIONS] [PATHS]..."),
        (("mcp", "call"), "troupe mcp call [OPTIONS] SERVER TOOL"),
        (("eval", "compare"), "troupe eval compare [OPTIONS] A B"),
    ],
)
def test_usage_lines_read_as_click_writes_them(path: tuple[str, ...], usage: str) -> None:
    done = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"}, prog_name="troupe")
    assert f"Usage: {usage}" in done.output, done.output


def test_a_missing_argument_is_named_in_capitals() -> None:
    done = runner.invoke(app, ["run"])
    assert done.exit_code == 2 and "Missing argument 'SCENARIO'" in done.output


def test_version_is_read_from_the_installed_packages() -> None:
    done = runner.invoke(app, ["--version"])
    assert done.exit_code == 0, done.output
    first, second = done.output.splitlines()
    assert first == f"troupe {version('autogen-troupe')}"
    assert f"autogen-agentchat {version('autogen-agentchat')}" in second
    assert f"mcp {version('mcp')}" in second and "Python 3." in second


# --------------------------------------------------------------------------- not a scenario


def bundled_copy(tmp_path: Path) -> tuple[Path, Path]:
    """The time_agent scenario, its cassette and the zones file it names, side by side in `tmp_path`."""
    for name in ("time_agent.yaml", "time_agent.cassette.json", "time_zones.txt"):
        shutil.copy(ROOT / "scenarios" / name, tmp_path / name)
    return tmp_path / "time_agent.yaml", tmp_path / "time_agent.cassette.json"


@pytest.mark.parametrize("command", ["run", "test", "record", "check"])
def test_a_cassette_given_as_a_scenario_says_what_it_is(tmp_path: Path, command: str) -> None:
    scenario, cassette = bundled_copy(tmp_path)
    done = runner.invoke(app, [command, str(cassette)], env={"COLUMNS": "400"})
    assert done.exit_code == 2, done.output
    message = done.stderr.strip()
    assert message.startswith(f"{cassette}:1:1: this is a cassette")
    assert "of scenario 'time_agent'" in message
    assert (
        f"`troupe run {scenario} --replay {cassette}`" in message and f"`troupe test {scenario}`" in message
    )
    assert "\n" not in message  # one paragraph, not a schema error per key
    assert "unknown key" not in message and "Traceback" not in done.output


def test_the_replay_the_message_suggests_works(tmp_path: Path) -> None:
    scenario, cassette = bundled_copy(tmp_path)
    done = runner.invoke(app, ["run", str(scenario), "--replay", str(cassette), "-q", "--out", str(tmp_path)])
    assert done.exit_code == 0, done.output


def test_a_transcript_given_as_a_scenario_says_what_it_is(tmp_path: Path) -> None:
    scenario, cassette = bundled_copy(tmp_path)
    runs = tmp_path / "troupe-runs"
    made = runner.invoke(app, ["run", str(scenario), "--replay", str(cassette), "-q", "--out", str(runs)])
    assert made.exit_code == 0, made.output
    (transcript,) = runs.glob("*.jsonl")
    for command in ("run", "test"):
        done = runner.invoke(app, [command, str(transcript)], env={"COLUMNS": "400"})
        assert done.exit_code == 2, done.output
        message = done.stderr.strip()
        assert message.startswith(
            f"{transcript}:1:1: this is the transcript of a run of scenario 'time_agent'"
        )
        assert "`troupe run time_agent.yaml`" in message and "YAML syntax error" not in message


def test_a_broken_scenario_is_still_reported_as_one(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text('{"format": "not-a-cassette", "name": "x"}\n', encoding="utf-8")
    done = runner.invoke(app, ["check", str(bad)])
    assert done.exit_code == 2 and "team: required field is missing" in done.stderr
