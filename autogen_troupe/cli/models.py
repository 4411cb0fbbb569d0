"""`troupe models`: the models an endpoint serves, as it answers GET /models."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from .options import EndpointFlags

__all__ = ["models"]


def models(
    scenario: Annotated[str | None, typer.Argument(help="Use this scenario's model settings.")] = None,
    *,
    endpoint: EndpointFlags,
) -> None:
    """Ask the endpoint which models it serves (GET /models)."""
    from ..models import list_models, resolve_model
    from ..scenario import load_scenario

    ref = load_scenario(scenario).model if scenario else "default"
    spec = resolve_model(ref, overrides=endpoint.overrides())
    for n in asyncio.run(list_models(spec)):
        typer.echo(n)
