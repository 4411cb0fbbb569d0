"""`troupe models`: the models an endpoint serves, as it answers GET /models."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from .._text import terminal_safe
from .options import EndpointFlags

__all__ = ["models"]


def models(
    scenario: Annotated[str | None, typer.Argument(help="Use this scenario's model settings.")] = None,
    *,
    endpoint: EndpointFlags,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also show the settings chosen.")] = False,
) -> None:
    """Ask the endpoint which models it serves (GET /models)."""
    from ..models import get_provider, list_models, resolve_model
    from ..scenario import load_scenario

    ref = load_scenario(scenario).model if scenario else "default"
    spec = resolve_model(ref, overrides=endpoint.overrides())
    names = asyncio.run(list_models(spec))
    about = get_provider(spec.provider).describe(spec) if verbose else []
    for n in names:
        typer.echo(n)
    for line in about:
        typer.echo(f"  {terminal_safe(line)}")
