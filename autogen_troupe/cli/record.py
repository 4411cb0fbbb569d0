"""`troupe record`: a scenario run against its model, every model and tool call recorded into a cassette,
and its expectations checked."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .console import out, safe
from .errors import Failed, writable_file
from .options import EngineLogs, ModelFlags, QuietOpt, ScenarioArg, TaskOpt, TranscriptsOpt
from .run import run_options
from .scenario_files import refuse_non_scenarios
from .stop import handled
from .trace import Tracing

__all__ = ["record"]


def record(
    scenario: ScenarioArg,
    cassette: Annotated[
        Path | None,
        typer.Option(
            "--cassette", help="Where to write the cassette (default: NAME.cassette.json beside it)."
        ),
    ] = None,
    task: TaskOpt = None,
    out_dir: TranscriptsOpt = Path("troupe-runs"),
    quiet: QuietOpt = False,
    *,
    endpoint: ModelFlags,
    logs: EngineLogs,
    tracing: Tracing,
) -> None:
    """Run SCENARIO against its model and record every model and tool call into a cassette."""
    from ..runtime import execute, run_async
    from ..scenario import load_scenario, resolve_scenario_path
    from ..tapes import Cassette, cassette_path_for
    from ..testing import check_expectations
    from .run_view import ConsoleView

    refuse_non_scenarios([scenario])
    view = ConsoleView(out, quiet=quiet)
    path = resolve_scenario_path(scenario)
    sc = load_scenario(path)
    options = run_options(endpoint, out_dir, logs=logs, console=out, view=view)
    tape = cassette or cassette_path_for(path)
    writable_file(tape, "--cassette", "run.cassette.json")  # before the run: it is written at the end
    with handled(lambda e: "no cassette was written"):
        try:
            done = run_async(execute(sc, "record", cassette=tape, task=task, options=options, on_event=view))
        except BaseException:
            view.close()  # its live lines go before the error or the stop is said
            raise
    view.summary(done.result)
    if done.problem or done.cassette is None:
        problem = done.problem or "no cassette was written"
        raise Failed(problem[:1].upper() + problem[1:])
    written = Cassette.load(done.cassette)
    out.print(
        f"cassette: {done.cassette} ({len(written.model_calls)} model calls, "
        f"{len(written.tool_calls)} tool calls)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if sc.expect is not None:
        report = check_expectations(done.result, sc.expect)
        if not report.passed:
            raise Failed(f"The cassette was written, but the run does not meet its expectations:\n{report}")
        out.print(safe(str(report)), markup=False, highlight=False, soft_wrap=True)
