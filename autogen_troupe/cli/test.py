"""`troupe test`: every scenario with a cassette and an expect block replayed and checked, as a table
(and JUnit XML)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .._text import safe_text
from .console import err, out, safe
from .errors import BadInput
from .options import ModelFlags
from .scenario_files import refuse_non_scenarios

__all__ = ["test_scenarios"]

_STYLE = {"pass": "green", "fail": "red", "error": "red", "skip": "yellow"}
_LABELS = {"pass": "passed", "fail": "failed", "error": "errors", "skip": "skipped"}


def test_scenarios(
    paths: Annotated[
        list[str] | None,
        typer.Argument(help="Scenario files, folders or bundled names (default: the current folder)."),
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Scenarios to run at once.")] = 1,
    update: Annotated[
        bool, typer.Option("--update", help="Record every cassette again against the real model first.")
    ] = False,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Also write the results as JUnit XML.")
    ] = None,
    lenient: Annotated[
        bool, typer.Option("--lenient", help="Give a changed request the next recorded answer, and warn.")
    ] = False,
    *,
    endpoint: ModelFlags,
) -> None:
    """Replay every scenario that has a cassette and an expect block, check it, and print a table."""
    from rich.table import Table

    from ..runtime import RunOptions, quiet_autogen_logs, run_async, stop_on_signals
    from ..testing import junit_xml, run_suite

    refuse_non_scenarios(paths or [])
    options = RunOptions(overrides=endpoint.overrides()) if update else None
    quiet_autogen_logs()
    with stop_on_signals():  # SIGTERM and SIGHUP stop the suite as Ctrl-C does (stop.py says so)
        suite = run_suite(
            paths or ["."],
            jobs=jobs,
            mode="update" if update else "replay",
            strict=not lenient,
            options=options,
            runner=run_async,
        )
    if not suite.cases:
        raise BadInput("no scenario with an expect block found in " + ", ".join(paths or ["."]))
    table = Table("scenario", "result", "messages", "tokens", "seconds")
    for c in suite.cases:
        result = c.outcome + (" (recorded)" if c.recorded else "")
        table.add_row(
            safe_text(c.scenario),
            safe_text(result, _STYLE[c.outcome]),
            str(c.messages),
            str(c.tokens),
            f"{c.seconds:.2f}",
        )
    out.print(table)
    for c in suite.cases:
        for w in c.warnings:
            err.print(safe(f"warning: {w}"), markup=False, highlight=False, soft_wrap=True)
        if c.outcome != "pass" and c.detail:
            stream = out if c.outcome == "skip" else err
            stream.print(
                safe(f"{c.outcome.upper()} {c.scenario} ({c.path}):\n{c.detail}\n"),
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    counts = ", ".join(f"{suite.count(k)} {v}" for k, v in _LABELS.items())
    out.print(
        f"{len(suite.cases)} scenarios in {suite.seconds:.2f} s: {counts}", markup=False, highlight=False
    )
    if junit is not None:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(junit_xml(suite), encoding="utf-8")
    if not suite.ok:
        raise typer.Exit(1)
