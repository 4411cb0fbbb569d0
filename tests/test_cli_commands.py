"""How every `troupe` command runs (cli/app.py): option groups shown where they stand and handed over as
one value, one error-to-exit mapping, one stop handling. A small app of test commands built with the same
`App` shows each rule on its own; CliRunner, no process (the real signals are test_signals.py's)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from autogen_troupe.cli.app import App, _command, app
from autogen_troupe.cli.errors import BadInput, Failed
from autogen_troupe.cli.options import ModelFlags, OptionGroup
from autogen_troupe.cli.stop import handled
from autogen_troupe.errors import ModelCallError, ProfileError, ScenarioError, UsageError
from autogen_troupe.runtime import Interrupted

runner = CliRunner()
seen: list[object] = []


@dataclass(frozen=True)
class Door(OptionGroup):
    """A group that says when it opens and closes around the command."""

    knock: Annotated[bool, typer.Option("--knock", help="Knock first.")] = False

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        seen.append("open")
        try:
            yield
        finally:
            seen.append("closed")


demo = App(no_args_is_help=True)


@demo.command()
def go(
    name: Annotated[str, typer.Argument(help="Who.")],
    loud: Annotated[bool, typer.Option("--loud", help="Shout.")] = False,
    *,
    endpoint: ModelFlags,
    door: Door,
    after: Annotated[int, typer.Option("--after", help="Seconds.")] = 0,
) -> None:
    """Record what the command was handed."""
    seen.append((name, loud, endpoint, door, after))


@demo.command()
def fail(kind: str, transcript: Annotated[Path | None, typer.Option("--transcript")] = None) -> None:
    """Raise the error KIND."""
    errors = {
        "scenario": lambda: ScenarioError([]),
        "profile": lambda: ProfileError("no such profile 'x'"),
        "usage": lambda: UsageError("only HTTP servers use a login"),
        "model": lambda: ModelCallError("the endpoint answered HTTP 500"),
        "bad-input": lambda: BadInput("--lenient only applies with --replay CASSETTE"),
        "failed": lambda: Failed("the pass rate is under 80%"),
    }
    e = errors[kind]()
    if transcript is not None:
        e.transcript_path = transcript  # type: ignore[attr-defined]  # as the runner sets it
    raise e


@demo.command()
def stop(signum: int, note: Annotated[str, typer.Option("--note")] = "") -> None:
    """Be stopped by SIGNUM (2: Ctrl-C), saying NOTE."""
    stopped: KeyboardInterrupt = KeyboardInterrupt() if signum == signal.SIGINT else Interrupted(signum)
    if note:
        with handled(lambda e: note):
            raise stopped
    raise stopped


def test_a_group_is_shown_where_it_stands_and_handed_over_as_one_value() -> None:
    seen.clear()
    helped = runner.invoke(demo, ["go", "--help"], env={"COLUMNS": "200"})
    options = [w for w in helped.output.split() if w.startswith("--") and w != "--help"]
    assert options == ["--loud", "--profile", "--base-url", "--model", "--knock", "--after"]
    done = runner.invoke(demo, ["go", "ann", "--model", "m1", "--knock", "--after", "3"])
    assert done.exit_code == 0, done.output
    assert seen == ["open", ("ann", False, ModelFlags(model="m1"), Door(knock=True), 3), "closed"]


def test_two_groups_that_share_an_option_name_are_refused_when_declared() -> None:
    def clash(*, endpoint: ModelFlags, model: str = "") -> None: ...

    with pytest.raises(TypeError, match="repeats a parameter name"):
        App().command()(clash)


@pytest.mark.parametrize(
    ("kind", "code", "said"),
    [
        ("profile", 2, "ProfileError: no such profile 'x'"),
        ("usage", 2, "UsageError: only HTTP servers use a login"),
        ("model", 1, "ModelCallError: the endpoint answered HTTP 500"),
        ("bad-input", 2, "--lenient only applies with --replay CASSETTE"),  # a sentence for a person, as is
        ("failed", 1, "the pass rate is under 80%"),
    ],
)
def test_an_error_is_one_paragraph_and_its_class_sets_the_exit_code(kind: str, code: int, said: str) -> None:
    done = runner.invoke(demo, ["fail", kind])
    assert done.exit_code == code
    assert done.stderr == said + "\n" and done.stdout == ""


def test_an_error_of_a_started_run_says_where_its_transcript_is(tmp_path: Path) -> None:
    done = runner.invoke(demo, ["fail", "model", "--transcript", str(tmp_path / "t.jsonl")])
    assert done.exit_code == 1
    assert done.stderr.splitlines() == [
        "ModelCallError: the endpoint answered HTTP 500",
        f"transcript: {tmp_path / 't.jsonl'}",
    ]


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (["2"], 130, "Interrupted"),
        (["15"], 143, "Stopped by SIGTERM"),
        (
            ["1", "--note", "the transcript so far is in runs"],
            129,
            "Stopped by SIGHUP; the transcript so far is in runs",
        ),
    ],
)
def test_a_stop_is_one_line_and_the_shells_exit_code(args: list[str], code: int, said: str) -> None:
    done = runner.invoke(demo, ["stop", *args])
    assert done.exit_code == code
    assert done.stderr == said + "\n"


def test_every_troupe_command_runs_through_the_same_wrapper() -> None:
    """No command of the real app escapes the mapping: each callback is the one `App.command` made."""
    command = typer.main.get_command(app)

    def callbacks(c: object) -> Iterator[object]:
        if getattr(c, "commands", None):
            for sub in c.commands.values():  # type: ignore[attr-defined]
                yield from callbacks(sub)
        else:
            yield c

    made = _command(lambda: None).__code__  # every wrapper `App.command` makes runs this code

    def runs_through_it(f: object) -> bool:
        while f is not None:  # Typer wraps the callback again; ours is on the way in
            if getattr(f, "__code__", None) is made:
                return True
            f = getattr(f, "__wrapped__", None)
        return False

    found = {c.name: runs_through_it(c.callback) for c in callbacks(command)}  # type: ignore[attr-defined]
    assert len(found) >= 14 and all(found.values()), found
