"""`troupe eval`: run a scenario over a tasks file and score it (`run`, the default), or compare two evals.
The library does the work (`autogen_troupe.eval`); this parses, renders (`eval_view`) and sets the exit
code. `EvalGroup` makes `troupe eval SCENARIO ...` mean `troupe eval run SCENARIO ...`."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from .console import err, out
from .errors import BadInput, Failed
from .options import EngineLogs, ModelFlags, OptionGroup, ScenarioArg
from .scenario_files import refuse_non_scenarios
from .stop import handled
from .trace import Tracing

if TYPE_CHECKING:
    from ..models import Overrides

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


@dataclass(frozen=True)
class MatrixFlags(OptionGroup):
    """--profile, --base-url and --model, where --profile and --model may be given several times: the
    eval then runs on each (every profile with every model id) and reports them side by side."""

    profile: Annotated[
        list[str] | None,
        typer.Option("--profile", help="Model profile instead of the scenario's; several: a model matrix."),
    ] = None
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1."),
    ] = None
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model", help="Model id at the endpoint (default: discovered); several: a model matrix."
        ),
    ] = None

    def entries(self) -> list[tuple[str, Overrides]]:
        """(label, overrides) for each model to run on: one unless a flag was given several times."""
        from ..models import Overrides

        env = Overrides.from_env(os.environ)
        profiles: list[str | None] = list(dict.fromkeys(self.profile or [])) or [None]
        models: list[str | None] = list(dict.fromkeys(self.model or [])) or [None]
        out = []
        for p, m in itertools.product(profiles, models):
            label = ":".join(x for x in (p, m) if x) or "default"
            out.append((label, env.merged(profile=p, base_url=self.base_url, model=m)))
        return out


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
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", help="Results folder to compare with: which tasks flipped, and the gate."),
    ] = None,
    fail_on_regression: Annotated[
        bool,
        typer.Option(
            "--fail-on-regression",
            help="Exit 1 when a pass rate (in all, or an expectation's) dropped from --baseline by more "
            "than chance (one-sided Fisher exact test).",
        ),
    ] = False,
    alpha: Annotated[
        float, typer.Option("--alpha", min=0.0, max=1.0, help="The gate's significance level.")
    ] = 0.05,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Also write JUnit XML here (one test case per task).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    *,
    endpoint: MatrixFlags,
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
    if fail_on_regression and baseline is None:
        raise BadInput("--fail-on-regression compares with a baseline: give --baseline RESULTS")
    for given in (baseline, replay):  # before any run: a folder that is no eval's is refused now
        if given is not None:
            ResultsFolder(given).read_meta()
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
        library_log_file(folder / "engine.log")
        with ProgressView(err, quiet=quiet, folder=folder) as view:
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
                one = evaluate(sc, rows, out=folder, overrides=entries[0][1], on_start=view.start, **common)
                results = {"": run_async(one)}
            else:
                labelled = evaluate_matrix(
                    sc, rows, out=folder, entries=entries, on_start=view.start_model, **common
                )
                matrix = run_async(labelled)
                results = matrix.results
    if len(entries) == 1:
        out.print(render_summary(results[""]))
    else:
        out.print(render_matrix(matrix))
    _gate_and_junit(results, baseline, junit, alpha=alpha, fail_on_regression=fail_on_regression)
    if fail_under is not None:
        under = [k or "the eval" for k, r in results.items() if r.summary.pass_rate.rate * 100 < fail_under]
        if under:
            raise Failed(f"the pass rate is under {fail_under:g}% ({', '.join(under)})")


def _gate_and_junit(
    results: dict[str, Any],
    baseline: Path | None,
    junit: Path | None,
    *,
    alpha: float,
    fail_on_regression: bool,
) -> None:
    """Write --junit (a test suite per model), compare each model with --baseline, and fail on a
    regression of any when asked."""
    from ..eval import ResultsFolder, gate, write_junit
    from .eval_view import render_gate

    if junit is not None:
        suites = [(label, r.meta, r.summary, r.records) for label, r in results.items()]
        out.print(f"JUnit XML: {write_junit(junit, suites)}", markup=False)
    if baseline is None:
        return
    base = list(ResultsFolder(baseline).load_runs().values())
    worse = []
    for label, r in results.items():
        report = gate(base, r.records, name=str(baseline), alpha=alpha)
        if label:
            out.print(f"{label}:", markup=False)
        out.print(render_gate(report))
        worse += [(f"{label} " if label else "") + d.name for d in report.rates if d.regression]
    if fail_on_regression and worse:
        raise Failed(f"regression against {baseline}: {', '.join(worse)} dropped by more than chance")


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
) -> None:
    """Score the runs of RESULTS again with the expectations and judge of now, from their transcripts.

    The team's models are not called (the judge's are, when the scenario has a judge); the new results
    go to a folder of their own, with copies of the transcripts."""
    from ..eval import ResultsFolder, load_tasks, rescore, resolve_tasks_path
    from ..runtime import run_async
    from ..scenario import load_scenario
    from .eval_view import render_summary

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
