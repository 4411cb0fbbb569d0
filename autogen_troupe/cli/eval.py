"""`troupe eval`: run a scenario over a tasks file and score it (`run`, the default), or compare two evals.
The library does the work (`autogen_troupe.eval`); this parses, renders (`eval_view`) and sets the exit
code. `EvalGroup` makes `troupe eval SCENARIO ...` mean `troupe eval run SCENARIO ...`."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from .console import err, out
from .errors import BadInput, Failed
from .eval_options import GateFlags, MatrixFlags
from .options import EngineLogs, ModelFlags, ScenarioArg
from .scenario_files import refuse_non_scenarios
from .stop import handled
from .trace import Tracing

__all__ = ["EvalGroup", "eval_compare", "eval_rescore", "eval_run"]

_ADDRESS = re.compile(r"^(auto|local|ray://\S+|[\w.\-\[\]]+:\d+)$")


class EvalGroup(TyperGroup):
    """`troupe eval SCENARIO --tasks FILE` runs an eval (the `run` command); `troupe eval compare A B`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        args = _bare_ray(list(args))
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _bare_ray(args: list[str]) -> list[str]:
    """`--ray` with no address after it (the last argument, or followed by something that is not an
    address) means a Ray instance of our own: `--ray=local`."""
    given = list(args)
    for i, a in enumerate(given):
        if a == "--":
            break
        if a == "--ray":
            nxt = given[i + 1] if i + 1 < len(given) else None
            if nxt is None or not _ADDRESS.match(nxt):
                given[i] = "--ray=local"
    return given


def _default_out(scenario: str) -> Path:
    """troupe-evals/NAME-YYYYmmdd-HHMMSS"""
    return Path("troupe-evals") / f"{scenario}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"


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
    simulate_user: Annotated[
        str | None,
        typer.Option(
            "--simulate-user",
            metavar="PROFILE",
            help="A model (profile) plays the person of the scenario's user agent (kind: user).",
        ),
    ] = None,
    persona: Annotated[
        str | None,
        typer.Option("--persona", help="Who the simulated user is (a task row's `persona` wins)."),
    ] = None,
    replay: Annotated[
        Path | None,
        typer.Option(
            "--replay",
            help="Replay each run offline from the tape of the same task in this results folder "
            "(no team model is called).",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    *,
    endpoint: MatrixFlags,
    gating: GateFlags,
    tracing: Tracing,
    logs: EngineLogs,
) -> None:
    """Run SCENARIO over every task of --tasks, score each run, write runs.jsonl and report.html.

    Several --profile or --model: the same tasks on each model, each in a subfolder, and one report
    with them side by side. The in-process engine's own log (vLLM, torch) goes to engine.log in the
    results folder."""
    from ..eval import ResultsFolder, evaluate, evaluate_matrix, load_tasks, resolve_tasks_path
    from ..runtime import library_log_file, run_async
    from ..scenario import load_scenario
    from .eval_view import ProgressView, render_matrix, render_summary

    if resume and out_dir is None:
        raise BadInput("--resume continues the eval in --out DIR: give its folder")
    gating.check()  # before any run
    if replay is not None:
        ResultsFolder(replay).read_meta()  # a folder that is no eval's is refused now
    folder = out_dir
    refuse_non_scenarios([scenario])

    def kept(e: KeyboardInterrupt) -> str:
        return f"the finished runs are in {folder}: --resume --out {folder} continues" if folder else ""

    with handled(kept):
        sc = load_scenario(scenario)
        path = resolve_tasks_path(tasks, sc)
        rows = load_tasks(path, sc)[:limit]
        folder = out_dir or _default_out(sc.name)
        entries = endpoint.entries()
        if len(entries) == 1:  # a matrix checks the folder of each model
            ResultsFolder(folder).check_writable(resume=resume)  # before its log file makes the folder
        with ProgressView(err, quiet=quiet, folder=folder) as view:

            def started(label: str, meta: Any, total: int, kept: Any) -> None:
                """Once every check has passed (so bad input leaves no folder behind): the engine's log
                lines go to the results folder, and the line and bar of this model show."""
                library_log_file(folder / "engine.log")
                view.start(meta, total, kept, label=label or "runs")

            common: dict[str, Any] = {
                "tasks_file": str(path),
                "ray": None if ray is None else ray.strip() or "local",  # a bare --ray: one of our own
                "workers": workers,
                "on_record": view.record,
                "repeat": repeat,
                "concurrency": concurrency,
                "judge_model": judge,
                "resume": resume,
                "replay": replay,
                "simulate_user": simulate_user,
                "persona": persona,
            }
            if len(entries) == 1:
                one = evaluate(
                    sc,
                    rows,
                    out=folder,
                    overrides=entries[0][1],
                    on_start=lambda meta, total, kept: started("", meta, total, kept),
                    **common,
                )
                results = {"": run_async(one)}
            else:
                labelled = evaluate_matrix(sc, rows, out=folder, entries=entries, on_start=started, **common)
                matrix = run_async(labelled)
                results = matrix.results
    if len(entries) == 1:
        out.print(render_summary(results[""]))
    else:
        out.print(render_matrix(matrix))
    gating.apply(results)
    if fail_under is not None:
        under = [k or "the eval" for k, r in results.items() if r.summary.pass_rate.rate * 100 < fail_under]
        if under:
            raise Failed(f"the pass rate is under {fail_under:g}% ({', '.join(under)})")


def eval_compare(
    a: Annotated[Path, typer.Argument(help="Results folder of the baseline eval.")],
    b: Annotated[Path, typer.Argument(help="Results folder of the eval to compare with it.")],
) -> None:
    """Show two evals side by side, and what changed from A to B.

    Pass rate and judge score on their common tasks (with a 95% interval and a sign test), tokens,
    latency, each expectation, and the tasks that got worse or better."""
    from ..eval import compare
    from .eval_view import render_comparison

    out.print(render_comparison(compare(a, b)))


def eval_rescore(
    results: Annotated[Path, typer.Argument(help="Results folder of the eval whose runs to score again.")],
    scenario: Annotated[
        str | None,
        typer.Option(
            "--scenario", help="Scenario whose expectations and judge score (default: the eval's file)."
        ),
    ] = None,
    tasks: Annotated[
        str | None,
        typer.Option("--tasks", help="Tasks file whose rows' expectations apply (default: the eval's file)."),
    ] = None,
    judge: Annotated[str | None, typer.Option("--judge", help="Model profile of the judge.")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Results folder (default: troupe-evals/NAME-rescored-TIME).")
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-j", min=1, help="Judge calls at once.")] = 4,
    *,
    endpoint: ModelFlags,
    gating: GateFlags,
) -> None:
    """Score the runs of RESULTS again with the expectations and judge of now, from their transcripts.

    The team's models are not called (the judge's are, when the scenario has a judge); the new results
    go to a folder of their own, with copies of the transcripts."""
    from ..eval import ResultsFolder, load_tasks, rescore, resolve_tasks_path
    from ..runtime import run_async
    from ..scenario import load_scenario
    from .eval_view import render_summary

    gating.check()
    with handled():
        meta = ResultsFolder(results).read_meta()
        given = scenario or meta.scenario_file
        if given is None:
            raise BadInput(f"{results}/eval.json names no scenario file: give --scenario FILE")
        sc = load_scenario(given)
        tasks_path = resolve_tasks_path(tasks or meta.tasks_file, sc)
        gone = tasks is None and not tasks_path.is_file()  # then runs are scored without row expectations
        rows = None if gone else load_tasks(tasks_path, sc)
        folder = out_dir or _default_out(f"{sc.name}-rescored")
        result = run_async(
            rescore(
                results,
                sc,
                out=folder,
                rows=rows,
                judge_model=judge,
                overrides=endpoint.overrides(),
                concurrency=concurrency,
            )
        )
    out.print(render_summary(result))
    gating.apply({"": result})
