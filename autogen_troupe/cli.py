"""The `troupe` command. Thin: each command parses input, calls the library, renders, sets the exit code.

Exit codes: 0 ok, 1 the run failed, 2 bad input (scenario, profile, flags), 130 interrupted (Ctrl-C),
143 and 129 stopped by SIGTERM and SIGHUP, which `run`, `record` and `test` handle as they handle Ctrl-C.
Heavy imports (autogen, openai, vllm) happen inside the commands that need them, so `--help` and
`check` stay fast.
"""

from __future__ import annotations

import asyncio
import datetime
import gc
import json
import sys
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
    _safe,
    _stopped_by,
    _traced,
    _version_lines,
    err,
    out,
)
from ._cli_eval import eval_app
from ._cli_graph import graph
from ._cli_mcp import mcp_app
from ._cli_tapes import fork, resume
from ._text import safe_text, terminal_safe
from .errors import ScenarioError, TroupeError
from .runtime._logs import quiet_autogen_logs
from .runtime._signals import exit_code, run_async, stop_on_signals

__all__ = ["app", "main"]

app = App(
    help="Run AutoGen multi-agent teams described in scenario files.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals hold API keys
    add_completion=False,
)
app.add_typer(eval_app, name="eval")
app.add_typer(mcp_app, name="mcp")
app.command("graph")(graph)


def _print_version(value: bool) -> None:
    if value:
        for line in _version_lines():
            typer.echo(line)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the versions of troupe and of "
            "what it runs on (AutoGen, MCP, vLLM, Python), then exit.",
        ),
    ] = False,
) -> None:
    pass


app.command("resume")(resume)
app.command("fork")(fork)


@app.command()
@_traced
def run(
    scenario: ScenarioArg,
    task: Annotated[str | None, typer.Option("--task", help="Replace the scenario's task.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the JSONL transcript.")] = Path(
        "troupe-runs"
    ),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
    profile: ProfileOpt = None,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
    replay: Annotated[
        Path | None,
        typer.Option("--replay", help="Answer every model and tool call from this cassette (offline)."),
    ] = None,
    lenient: Annotated[
        bool,
        typer.Option("--lenient", help="With --replay: give a changed request the next recorded answer."),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also show the model engine's own log lines.")
    ] = False,
    trace: TraceOpt = False,
) -> None:
    """Run SCENARIO, streaming each message to the terminal and writing a JSONL transcript.

    The in-process engine's own log (vLLM, torch) goes to NAME-TIME.log beside the transcript."""
    # Long by its option declarations (Typer reads the signature); the body only calls the library.
    from .runtime import RunOptions
    from .runtime._console import ConsoleView
    from .runtime._human import ConsoleAsk
    from .runtime._modes import Mode, execute
    from .scenario import load_scenario
    from .tools._mcp_client import terminal_ask

    if lenient and replay is None:
        err.print("--lenient only applies with --replay CASSETTE", markup=False)
        raise typer.Exit(2)
    _refuse_non_scenarios([scenario])
    view = ConsoleView(err if as_json else out, quiet=quiet or as_json)
    try:
        sc = load_scenario(scenario)
        options = RunOptions(
            overrides=_overrides(profile, base_url, model),
            out_dir=out_dir,
            capture_engine_logs=True,
            show_engine_logs=verbose,
            ask_human=(human := ConsoleAsk(err if as_json else out)),
            ask_mcp=terminal_ask(err if as_json else out, human.read_line),  # MCP servers' questions
            on_status=view.status,
        )
        if replay is not None:
            from .tapes._cassette import Cassette

            Cassette.load(replay)  # a broken cassette is bad input (exit 2), found before the run
    except TroupeError as e:
        _fail(e)
    mode: Mode = "replay" if replay is not None else "live"
    try:
        done = run_async(
            execute(sc, mode, cassette=replay, strict=not lenient, task=task, options=options, on_event=view)
        )
    except KeyboardInterrupt as e:
        view.close()
        where = getattr(e, "transcript_path", None) or out_dir
        err.print(f"{_stopped_by(e)}; the transcript so far is in {where}", markup=False)
        raise typer.Exit(exit_code(e)) from None
    except TroupeError as e:
        view.close()
        _fail(e)
    for w in done.warnings:
        err.print(_safe(f"warning: {w}"), markup=False)
    if as_json:
        from ._redact import redact_data

        typer.echo(json.dumps(redact_data(done.result.model_dump(mode="json")), indent=2, ensure_ascii=False))
    else:
        view.summary(done.result)
    if done.problem:
        err.print(_safe(f"ReplayMismatch: {done.problem}"), markup=False)
        raise typer.Exit(1)


@app.command()
@_traced
def record(
    scenario: ScenarioArg,
    cassette: Annotated[
        Path | None,
        typer.Option(
            "--cassette", help="Where to write the cassette (default: NAME.cassette.json beside it)."
        ),
    ] = None,
    task: Annotated[str | None, typer.Option("--task", help="Replace the scenario's task.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the JSONL transcript.")] = Path(
        "troupe-runs"
    ),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary.")] = False,
    profile: ProfileOpt = None,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also show the model engine's own log lines.")
    ] = False,
    trace: TraceOpt = False,
) -> None:
    """Run SCENARIO against its model and record every model and tool call into a cassette."""
    # Long by its option declarations (Typer reads the signature); the body only calls the library.
    from .runtime import RunOptions
    from .runtime._console import ConsoleView
    from .runtime._human import ConsoleAsk
    from .runtime._modes import execute
    from .scenario import load_scenario
    from .scenario._loader import resolve_scenario_path
    from .tapes._cassette import Cassette, cassette_path_for
    from .testing._expect import check_expectations
    from .tools._mcp_client import terminal_ask

    _refuse_non_scenarios([scenario])
    view = ConsoleView(out, quiet=quiet)
    try:
        path = resolve_scenario_path(scenario)
        sc = load_scenario(path)
        options = RunOptions(
            overrides=_overrides(profile, base_url, model),
            out_dir=out_dir,
            capture_engine_logs=True,
            show_engine_logs=verbose,
            ask_human=(human := ConsoleAsk(out)),
            ask_mcp=terminal_ask(out, human.read_line),  # MCP servers' questions, on the same terminal
            on_status=view.status,
        )
    except TroupeError as e:
        _fail(e)
    try:
        done = run_async(
            execute(
                sc,
                "record",
                cassette=cassette or cassette_path_for(path),
                task=task,
                options=options,
                on_event=view,
            )
        )
    except KeyboardInterrupt as e:
        view.close()
        err.print(f"{_stopped_by(e)}; no cassette was written", markup=False)
        raise typer.Exit(exit_code(e)) from None
    except TroupeError as e:
        view.close()
        _fail(e)
    view.summary(done.result)
    if done.problem or done.cassette is None:
        problem = done.problem or "no cassette was written"
        err.print(_safe(problem[:1].upper() + problem[1:]), markup=False)
        raise typer.Exit(1)
    tape = Cassette.load(done.cassette)
    out.print(
        f"cassette: {done.cassette} ({len(tape.model_calls)} model calls, {len(tape.tool_calls)} tool calls)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if sc.expect is not None:
        report = check_expectations(done.result, sc.expect)
        if not report.passed:
            err.print(
                _safe(f"The cassette was written, but the run does not meet its expectations:\n{report}"),
                markup=False,
            )
            raise typer.Exit(1)
        out.print(_safe(str(report)), markup=False, highlight=False, soft_wrap=True)


@app.command("test")
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
    profile: ProfileOpt = None,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
) -> None:
    """Replay every scenario that has a cassette and an expect block, check it, and print a table."""
    # Long by its option declarations (Typer reads the signature); the body only calls the library.
    from rich.table import Table

    from .runtime import RunOptions
    from .testing._suite import junit_xml, run_suite

    _refuse_non_scenarios(paths or [])
    try:
        options = RunOptions(overrides=_overrides(profile, base_url, model)) if update else None
        quiet_autogen_logs()
        with stop_on_signals():
            suite = run_suite(
                paths or ["."],
                jobs=jobs,
                mode="update" if update else "replay",
                strict=not lenient,
                options=options,
                runner=run_async,
            )
    except TroupeError as e:
        _fail(e)
    except KeyboardInterrupt as e:
        err.print(_stopped_by(e), markup=False)
        raise typer.Exit(exit_code(e)) from None
    if not suite.cases:
        err.print("no scenario with an expect block found in " + ", ".join(paths or ["."]), markup=False)
        raise typer.Exit(2)
    style = {"pass": "green", "fail": "red", "error": "red", "skip": "yellow"}
    table = Table("scenario", "result", "messages", "tokens", "seconds")
    for c in suite.cases:
        result = c.outcome + (" (recorded)" if c.recorded else "")
        table.add_row(
            safe_text(c.scenario),
            safe_text(result, style[c.outcome]),
            str(c.messages),
            str(c.tokens),
            f"{c.seconds:.2f}",
        )
    out.print(table)
    for c in suite.cases:
        for w in c.warnings:
            err.print(_safe(f"warning: {w}"), markup=False, highlight=False, soft_wrap=True)
        if c.outcome != "pass" and c.detail:
            stream = out if c.outcome == "skip" else err
            stream.print(
                _safe(f"{c.outcome.upper()} {c.scenario} ({c.path}):\n{c.detail}\n"),
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    labels = {"pass": "passed", "fail": "failed", "error": "errors", "skip": "skipped"}
    counts = ", ".join(f"{suite.count(k)} {v}" for k, v in labels.items())
    out.print(
        f"{len(suite.cases)} scenarios in {suite.seconds:.2f} s: {counts}", markup=False, highlight=False
    )
    if junit is not None:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(junit_xml(suite), encoding="utf-8")
    if not suite.ok:
        raise typer.Exit(1)


@app.command()
def check(paths: Annotated[list[Path], typer.Argument(help="Scenario files or folders.")]) -> None:
    """Validate scenario files without running them, and list the Python code a run would import."""
    from .scenario._loader import iter_scenario_files, load_scenario
    from .tools._local_code import python_tool_sources

    _refuse_non_scenarios(paths)
    bad = 0
    files = list(iter_scenario_files(paths))
    for f in files:
        try:
            sc = load_scenario(f)
        except ScenarioError as e:
            bad += 1
            err.print(_safe(str(e)), markup=False)
        else:
            out.print(_safe(f"ok  {f}"), markup=False, highlight=False)
            sources = python_tool_sources(sc)
            if sources:
                out.print(
                    "    python tools (imported, so their code runs, whenever it runs or replays):",
                    markup=False,
                    highlight=False,
                )
                for src in sources:
                    out.print(
                        _safe(f"      {src.describe(Path.cwd())}"),
                        markup=False,
                        highlight=False,
                        soft_wrap=True,
                    )
    if not files:
        err.print("no scenario files found", markup=False)
        raise typer.Exit(2)
    if bad:
        raise typer.Exit(2)


@app.command("list")
def list_scenarios() -> None:
    """List the bundled scenarios."""
    from rich.table import Table

    from .scenario._loader import bundled_scenarios, load_scenario
    from .scenario._template import task_placeholders

    rows: list[tuple[str, str, str, str]] = []
    for name, path in bundled_scenarios().items():
        try:
            sc = load_scenario(path)
        except ScenarioError as e:
            rows.append((name, "?", "?", f"invalid: {e.issues[0].message}"))
            continue
        about = sc.description
        if task_placeholders(sc):  # its task is `{{name}}`s: it runs over a tasks file, not on its own
            about += f"\neval template: run with troupe eval {name} --tasks FILE"
        rows.append((name, sc.team.kind, ", ".join(a.name for a in sc.team.agents), about))
    longest = max((len(r[0]) for r in rows), default=4)
    # Names are never cut: they are what you type. On a narrow terminal the team and agents columns go.
    narrow = out.width < longest + 50
    table = Table(expand=False)
    table.add_column("name", no_wrap=True, min_width=longest, style="bold")
    if not narrow:
        table.add_column("team", no_wrap=True)
        table.add_column("agents", overflow="fold")
    table.add_column("description", overflow="fold")
    for name, kind, agents, description in rows:
        cells = (name, description) if narrow else (name, kind, agents, description)
        table.add_row(*(safe_text(c) for c in cells))
    out.print(table)


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editors: yaml-language-server $schema)."""
    from .scenario._schema import Scenario

    typer.echo(json.dumps(Scenario.model_json_schema(), indent=2))


@app.command()
def models(
    scenario: Annotated[str | None, typer.Argument(help="Use this scenario's model settings.")] = None,
    profile: ProfileOpt = None,
    base_url: BaseUrlOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also show the settings chosen.")] = False,
) -> None:
    """Ask the endpoint which models it serves (GET /models)."""
    from .models._endpoints import resolve_model
    from .models._registry import get_provider, list_models
    from .scenario._loader import load_scenario

    try:
        ref = load_scenario(scenario).model if scenario else "default"
        spec = resolve_model(ref, overrides=_overrides(profile, base_url, None))
        names = asyncio.run(list_models(spec))
        about = get_provider(spec.provider).describe(spec) if verbose else []
    except TroupeError as e:
        _fail(e)
    for n in names:
        typer.echo(n)
    for line in about:
        typer.echo(f"  {terminal_safe(line)}")


@app.command()
@_traced
def serve(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="Scenario files, folders or bundled names (default: ./scenarios and the bundled)."
        ),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; any but loopback needs a token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: a free one).")] = 8765,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the runs' JSONL transcripts.")] = Path(
        "troupe-runs"
    ),
    max_runs: Annotated[
        int, typer.Option("--max-runs", help="Runs going at once; more are refused with HTTP 503.")
    ] = 8,
    token: Annotated[
        str | None,
        typer.Option("--token", help="Bearer token every request must carry (or TROUPE_SERVE_TOKEN)."),
    ] = None,
    cors: Annotated[
        list[str] | None, typer.Option("--cors", help="An origin whose pages may call the API (repeatable).")
    ] = None,
    profile: ProfileOpt = None,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also show the model engine's own log lines.")
    ] = False,
) -> None:
    """Serve scenarios: an OpenAI-compatible API (each scenario a model), a runs API, and a page at /.

    The in-process engine's own log (vLLM, torch) goes to serve-TIME.log in the --out folder."""
    # Long by its option declarations (Typer reads the signature); the body only calls the library.
    from .runtime._logs import library_log_file
    from .serve._app import bind, create_app, run_server
    from .serve._catalog import Catalog
    from .serve._config import ServeConfig

    try:
        config = ServeConfig.checked(
            host=host,
            port=port,
            out_dir=out_dir,
            max_runs=max_runs,
            token=token,
            cors=tuple(cors or ()),
            overrides=_overrides(profile, base_url, model),
        )
        catalog = Catalog.find(paths)
    except TroupeError as e:
        _fail(e)
    if not catalog.offered:
        err.print("no scenario to serve: " + "; ".join(catalog.skipped or ["none found"]), markup=False)
        raise typer.Exit(2)
    try:
        sock = bind(host, port)
    except OSError as e:
        err.print(f"cannot listen on {host}:{port}: {e.strerror or e}", markup=False)
        raise typer.Exit(2) from None
    for problem in catalog.skipped:
        err.print(_safe(f"skipped: {problem}"), markup=False, highlight=False, soft_wrap=True)
    url = config.url(sock.getsockname()[1])
    library_log_file(out_dir / f"serve-{datetime.datetime.now():%Y%m%d-%H%M%S}.log")

    def ready() -> None:
        names = ", ".join(catalog.names())
        out.print(
            f"troupe serve: {url}  ({len(catalog.offered)} scenarios: {names})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        out.print(f"OpenAI-compatible API: {url}v1  (model = a scenario name)", markup=False, highlight=False)
        out.file.flush()

    quiet_autogen_logs()
    run_server(create_app(config, catalog), sock, on_ready=ready)


def main() -> None:
    """Console-script entry point."""
    # A run imports AutoGen, openai and pydantic models: some 100,000 objects that live as long as the
    # process. At the default threshold (700 new objects) the GC scans them about 300 times on the way
    # (80 ms of CPU); at 10,000 about 70 young collections and no full one (40 ms), and cyclic garbage is
    # still bounded.
    gc.set_threshold(10_000, *gc.get_threshold()[1:])
    quiet_autogen_logs()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        # The interpreter's teardown runs the cyclic GC over every object left, some 130,000 after a run
        # (AutoGen, openai, pydantic): about 150 ms of CPU for nothing, the process is ending. Frozen objects
        # are skipped by the GC and still freed as usual; atexit handlers, threads and flushes run as ever.
        # Not after the in-process engine: its native bindings (triton's nanobind) count objects left to the
        # end as leaks and print some 30 lines about them, and such a run lasts a minute anyway.
        if "vllm" not in sys.modules:
            gc.freeze()


if __name__ == "__main__":
    main()
