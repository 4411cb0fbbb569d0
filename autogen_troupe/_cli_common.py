"""What the `troupe` commands share: the two consoles, the scenario and model options, the one-paragraph
error with its exit code, the model overrides from flags and environment. Apart from `cli.py` so that
command groups of their own (`_cli_eval.py`) use the same ones."""

from __future__ import annotations

import os
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from .errors import ScenarioError, exit_code_for
from .runtime._signals import exit_code

__all__ = [
    "BaseUrlOpt",
    "ModelOpt",
    "ProfileOpt",
    "ScenarioArg",
    "_fail",
    "_overrides",
    "_safe",
    "_stopped_by",
    "err",
    "out",
]

out = Console()
err = Console(stderr=True, soft_wrap=True)

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
    """Text with every secret masked, as everything we print must be."""
    from .models._redact import redact_text

    return redact_text(text)


def _fail(e: BaseException) -> NoReturn:
    """Print the error in one paragraph (and where the run's files are) and exit by its class."""
    if isinstance(e, ScenarioError):
        err.print(_safe(str(e)), markup=False)
    else:
        err.print(_safe(f"{type(e).__name__}: {e}"), markup=False)
    for label, attr in (("transcript", "transcript_path"), ("engine log", "log_path")):
        if where := getattr(e, attr, None):  # set by the runner on a run that started
            err.print(f"{label}: {where}", markup=False, highlight=False)
    raise typer.Exit(exit_code_for(e))


def _stopped_by(e: KeyboardInterrupt) -> str:
    return "Interrupted" if exit_code(e) == 130 else f"Stopped by {e}"


def _overrides(profile: str | None, base_url: str | None, model: str | None):
    from .models._endpoints import Overrides

    return Overrides.from_env(os.environ).merged(profile=profile, base_url=base_url, model=model)
