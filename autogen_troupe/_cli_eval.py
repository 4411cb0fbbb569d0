"""`troupe eval`: run a scenario over a tasks file and score it (`run`, the default), or compare two evals.
The library does the work (`autogen_troupe.eval`); this parses, renders and sets the exit code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._cli_common import (
    App,
    BaseUrlOpt,
    ModelOpt,
    ProfileOpt,
    ScenarioArg,
    TraceOpt,
    _fail,
    _overrides,
    _refuse_non_scenarios,
    _stopped_by,
    _traced,
    err,
    out,
)
from .errors import TroupeError
from .eval._command import EvalGroup
from .runtime._signals import exit_code, run_async

__all__ = ["eval_app"]

eval_app = App(
    cls=EvalGroup,
    help="Run a scenario over a dataset of tasks, score every run, report; or compare two evals.",
    no_args_is_help=True,
)


@eval_app.command("run")
@_traced
def eval_run(
    scenario: ScenarioArg,
    tasks: Annotated[
        str, typer.Option("--tasks", help="Tasks file: .jsonl, .csv or .yaml (one task a row).")
    ],
    concurrency: Annotated[int, typer.Option("--concurrency", "-j", min=1, help="Runs at once.")] = 4,
    repeat: Annotated[int, typer.Option("--repeat", "-k", min=1, help="Runs of each task (pass@k).")] = 1,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Results folder (default: troupe-evals/NAME-TIME).")
    ] = None,
    judge: Annotated[str | None, typer.Option("--judge", help="Model profile of the judge.")] = None,
    ray: Annotated[
        str | None, typer.Option("--ray", help="Run on Ray: alone, a Ray instance of our own; or an address.")
    ] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Ray workers (actors).")] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the eval in --out; skip done runs.")
    ] = False,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N tasks.")] = None,
    fail_under: Annotated[
        float | None, typer.Option("--fail-under", help="Exit 1 when the pass rate (%) is below this.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    profile: ProfileOpt = None,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
    trace: TraceOpt = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also show the model engine's own log lines.")
    ] = False,
) -> None:
    """Run SCENARIO over every task of --tasks, score each run, write runs.jsonl and report.html.

    The in-process engine's own log (vLLM, torch) goes to engine.log in the results folder."""
    # Long by its option declarations (Typer reads the signature); the body only calls the library.
    from .eval import ResultsFolder
    from .eval._command import default_out, ray_address
    from .eval._console import ProgressView, render_summary
    from .eval._evaluate import evaluate
    from .eval._tasks import load_tasks, resolve_tasks_path
    from .runtime._logs import library_log_file
    from .scenario import load_scenario

    if resume and out_dir is None:
        err.print("--resume continues the eval in --out DIR: give its folder", markup=False)
        raise typer.Exit(2)
    folder = out_dir
    _refuse_non_scenarios([scenario])
    try:
        sc = load_scenario(scenario)
        path = resolve_tasks_path(tasks, sc)
        rows = load_tasks(path, sc)[:limit]
        folder = out_dir or default_out(sc.name)
        ResultsFolder(folder).check_writable(resume=resume)  # before its log file makes the folder
        library_log_file(folder / "engine.log")
        with ProgressView(err, quiet=quiet) as view:
            result = run_async(
                evaluate(
                    sc,
                    rows,
                    out=folder,
                    tasks_file=str(path),
                    ray=ray_address(ray),
                    workers=workers,
                    overrides=_overrides(profile, base_url, model),
                    on_start=view.start,
                    on_record=view.record,
                    repeat=repeat,
                    concurrency=concurrency,
                    judge_model=judge,
                    resume=resume,
                )
            )
    except KeyboardInterrupt as e:
        where = f"; the finished runs are in {folder}: --resume --out {folder} continues" if folder else ""
        err.print(f"{_stopped_by(e)}{where}", markup=False)
        raise typer.Exit(exit_code(e)) from None
    except TroupeError as e:
        _fail(e)
    out.print(render_summary(result))
    if fail_under is not None and result.summary.pass_rate.rate * 100 < fail_under:
        err.print(f"the pass rate is under {fail_under:g}%", markup=False)
        raise typer.Exit(1)


@eval_app.command("compare")
def eval_compare(
    a: Annotated[Path, typer.Argument(help="Results folder of the baseline eval.")],
    b: Annotated[Path, typer.Argument(help="Results folder of the eval to compare with it.")],
) -> None:
    """Show two evals side by side, and what changed from A to B.

    Pass rate and judge score on their common tasks (with a 95% interval and a sign test), tokens,
    latency, each expectation, and the tasks that got worse or better."""
    from .eval._compare import compare
    from .eval._console import render_comparison

    try:
        comparison = compare(a, b)
    except TroupeError as e:
        _fail(e)
    out.print(render_comparison(comparison))
