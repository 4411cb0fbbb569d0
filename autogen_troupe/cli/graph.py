"""`troupe graph SCENARIO`: a graph team drawn as Mermaid or a plain-text outline. Thin: the drawing is in
the scenario room (`scenario/_graph_draw.py`)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from ..errors import UsageError
from .console import out
from .options import ScenarioArg

__all__ = ["graph"]


class GraphFormat(str, Enum):
    mermaid = "mermaid"
    text = "text"


def graph(
    scenario: ScenarioArg,
    format: Annotated[
        GraphFormat, typer.Option("--format", help="mermaid (renders on GitHub) or text (an outline).")
    ] = GraphFormat.mermaid,
) -> None:
    """Draw a graph team (team.kind: graph): its agents, edges and conditions."""
    from ..scenario import load_scenario, mermaid, outline, resolve_scenario_path

    sc = load_scenario(resolve_scenario_path(scenario))
    if sc.team.kind != "graph":
        raise UsageError(f"{scenario}: team.kind is {sc.team.kind!r}; troupe graph draws graph teams")
    text = mermaid(sc.team) if format is GraphFormat.mermaid else outline(sc.team, sc.name)
    out.print(text, markup=False, highlight=False, end="", soft_wrap=True)
