"""`troupe run`: a scenario streamed to the terminal (or its result as JSON), live or replayed from a
cassette, and the run options `run` and `record` share (people's answers and MCP questions asked on the
same terminal)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from .console import err, out, say
from .errors import BadInput, Failed
from .options import EngineLogs, ModelFlags, QuietOpt, ResultJsonOpt, ScenarioArg, TaskOpt, TranscriptsOpt
from .scenario_files import refuse_non_scenarios
from .stop import handled
from .trace import Tracing

if TYPE_CHECKING:
    from ..runtime import RunOptions
    from .run_view import ConsoleView

__all__ = ["run", "run_options"]


def run_options(
    endpoint: ModelFlags, out_dir: Path, *, logs: EngineLogs, console: Console, view: ConsoleView
) -> RunOptions:
    """The options of a run from the command line: the model flags, the transcripts' folder, the engine's
    log captured (shown with --verbose), people's and MCP servers' questions asked on `console`, and what
    a model does before it answers shown by `view`."""
    from ..runtime import ConsoleAsk, RunOptions
    from ..tools import terminal_ask

    human = ConsoleAsk(console)
    return RunOptions(
        overrides=endpoint.overrides(),
        out_dir=out_dir,
        capture_engine_logs=True,
        show_engine_logs=logs.verbose,
        ask_human=human,
        ask_mcp=terminal_ask(console, human.read_line),
        on_status=view.status,
    )


def run(
    scenario: ScenarioArg,
    task: TaskOpt = None,
    out_dir: TranscriptsOpt = Path("troupe-runs"),
    quiet: QuietOpt = False,
    as_json: ResultJsonOpt = False,
    *,
    endpoint: ModelFlags,
    replay: Annotated[
        Path | None,
        typer.Option("--replay", help="Answer every model and tool call from this cassette (offline)."),
    ] = None,
    lenient: Annotated[
        bool,
        typer.Option("--lenient", help="With --replay: give a changed request the next recorded answer."),
    ] = False,
    logs: EngineLogs,
    tracing: Tracing,
) -> None:
    """Run SCENARIO, streaming each message to the terminal and writing a JSONL transcript.

    The in-process engine's own log (vLLM, torch) goes to NAME-TIME.log beside the transcript."""
    from .._redact import redact_data
    from ..runtime import Mode, execute, run_async
    from ..scenario import load_scenario
    from ..tapes import Cassette
    from .run_view import ConsoleView

    if lenient and replay is None:
        raise BadInput("--lenient only applies with --replay CASSETTE")
    refuse_non_scenarios([scenario])
    console = err if as_json else out
    view = ConsoleView(console, quiet=quiet or as_json)
    sc = load_scenario(scenario)
    options = run_options(endpoint, out_dir, logs=logs, console=console, view=view)
    if replay is not None:
        Cassette.load(replay)  # a broken cassette is bad input (exit 2), found before the run
    mode: Mode = "replay" if replay is not None else "live"
    with handled(lambda e: f"the transcript so far is in {getattr(e, 'transcript_path', None) or out_dir}"):
        try:
            done = run_async(
                execute(
                    sc, mode, cassette=replay, strict=not lenient, task=task, options=options, on_event=view
                )
            )
        except BaseException:
            view.close()  # its live lines go before the error or the stop is said
            raise
    for w in done.warnings:
        say(f"warning: {w}")
    if as_json:
        typer.echo(json.dumps(redact_data(done.result.model_dump(mode="json")), indent=2, ensure_ascii=False))
    else:
        view.summary(done.result)
    if done.problem:
        raise Failed(f"ReplayMismatch: {done.problem}")
