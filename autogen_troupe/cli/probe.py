"""`troupe probe`: what an OpenAI-compatible endpoint can do (tool calls, JSON schema, choices, stream
usage, context length, reasoning), as a table or JSON; `--save NAME` pins it into the profile file."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from .console import out, safe, say
from .errors import BadInput, Failed
from .options import JsonOpt, ModelFlags

__all__ = ["probe"]

_MARK = {True: "yes", False: "no", None: "?"}


def probe(
    name: Annotated[str | None, typer.Argument(metavar="PROFILE", help="The model profile to probe.")] = None,
    *,
    endpoint: ModelFlags,
    as_json: JsonOpt = False,
    save: Annotated[
        str | None,
        typer.Option(
            "--save",
            metavar="NAME",
            help="Pin the results into profile NAME of your profile file (made if missing).",
        ),
    ] = None,
    timeout_s: Annotated[
        float, typer.Option("--timeout", metavar="SECONDS", min=1.0, help="Per request (default 30).")
    ] = 30.0,
    total_s: Annotated[
        float, typer.Option("--total", metavar="SECONDS", min=5.0, help="For the whole probe (default 120).")
    ] = 120.0,
) -> None:
    """Measure what an endpoint can do, with a few small requests: tool calls (auto, required, named),
    parallel tool calls, JSON-schema output, choice constraints, usage in streams, context length,
    reasoning text. Runs constrain their decisions where it says yes."""
    from ..models import OpenAIModel, probe_endpoint, resolve_model

    if name and endpoint.profile:
        raise BadInput("give the profile once: as PROFILE or as --profile")
    overrides = endpoint.overrides()
    given = name or overrides.profile
    spec = resolve_model(given or "default", overrides=overrides)
    if not isinstance(spec, OpenAIModel):
        raise BadInput(
            f"profile {spec.profile or given!r} is not an endpoint ({spec.provider}); the in-process engine "
            "constrains every decision without a probe. Probe an endpoint: troupe probe PROFILE, or "
            "troupe probe --base-url URL"
        )
    report = asyncio.run(probe_endpoint(spec, request_timeout_s=timeout_s, total_s=total_s))
    if as_json:
        out.print_json(report.model_dump_json())
    elif report.problem is None:
        _table(report)
    if report.problem is not None:
        raise Failed(report.problem)
    if save:
        _save(save, spec, report, base=given, with_url=bool(overrides.base_url))


def _table(report: Any) -> None:
    from rich.table import Table
    from rich.text import Text

    title = Text(safe(f"{report.base_url} · {report.model} · {report.seconds:g} s"))
    table = Table(title=title, title_justify="left")
    for column in ("feature", "works", "what came back"):
        table.add_column(column)
    for row in report.rows:
        table.add_row(Text(row.feature), Text(_MARK[row.works]), Text(safe(row.detail)))
    out.print(table)


def _save(name: str, spec: Any, report: Any, *, base: str | None, with_url: bool) -> None:
    from ..models import pin_settings, user_profiles_path

    path = user_profiles_path()
    if path is None:
        raise BadInput("no profile file: set TROUPE_PROFILES or HOME")
    settings: dict[str, Any] = {"capabilities": report.capabilities.model_dump(exclude_none=True)}
    if report.context_length:
        settings["context_length"] = report.context_length
    # what a new profile builds on: the probed profile (a user profile named like a built-in one layers
    # on it so), and the endpoint where --base-url chose it
    new: dict[str, Any] = {"profile": base} if base else {}
    if with_url or not base:
        new["base_url"] = spec.base_url
    if spec.model:
        new["model"] = spec.model
    pin_settings(path, name, settings, new=new)
    say(f"pinned {' and '.join(settings)} into profile {name!r} of {path}")
