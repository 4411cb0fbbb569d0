"""`troupe export SCENARIO --format autogen` and `troupe import team.json`: a scenario's team as AutoGen
component JSON and back. Thin: the mapping is in the agents room (`agents/_export.py`, `_import.py`).
What was carried over to a near equivalent, or not at all, is said on stderr, one note a line."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from .._text import terminal_safe
from .console import err, out
from .options import ModelFlags, ScenarioArg

__all__ = ["export_team", "import_team"]


class TeamFormat(str, Enum):
    autogen = "autogen"


FormatOpt = Annotated[
    TeamFormat,
    typer.Option("--format", help="autogen: AutoGen 0.7's component JSON (Team.load_component)."),
]


def _notes(notes: list[Any], what: str) -> None:
    for n in notes:
        err.print(f"note: {what}: {terminal_safe(str(n))}", markup=False, highlight=False)


class _References(dict[str, str]):
    """An environment that answers every variable with its own reference: a scenario loaded with it keeps
    `${VAR}` as written, so no value from the environment (a key, often) reaches the export."""

    def get(self, key: str, default: Any = None) -> str:
        return "${" + key + "}"


def export_team(scenario: ScenarioArg, endpoint: ModelFlags, format: FormatOpt = TeamFormat.autogen) -> None:
    """Write SCENARIO's team as AutoGen component JSON on stdout, for plain autogen-agentchat.

    Load it with `Team.load_component(json.load(f))`; the models are OpenAIChatCompletionClient on the
    scenario's endpoint (or --base-url/--model), their key read from OPENAI_API_KEY. A part plain AutoGen
    has no equivalent for is refused, with the list; a near equivalent is noted on stderr."""
    from ..agents import export_autogen
    from ..scenario import load_scenario, resolve_scenario_path

    sc = load_scenario(resolve_scenario_path(scenario), env=_References())
    data, notes = export_autogen(sc, overrides=endpoint.overrides())
    _notes(notes, "export")
    out.print(json.dumps(data, indent=2), markup=False, highlight=False, soft_wrap=True)


def import_team(
    file: Annotated[Path, typer.Argument(help="An AutoGen team's component JSON (dump_component()).")],
    format: FormatOpt = TeamFormat.autogen,
) -> None:
    """Write the AutoGen team in FILE as a scenario (YAML) on stdout.

    Nothing in the file is loaded or run; what could not be carried over is named on stderr and at the
    top of the scenario."""
    import yaml

    from ..agents import import_autogen

    data, notes = import_autogen(file)
    _notes(notes, "import")
    head = [f"# Imported from {file.name} (AutoGen component JSON) by troupe import."]
    head += [f"# not carried over: {n}" for n in notes]
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
    out.print(
        terminal_safe("\n".join(head)) + "\n" + text, markup=False, highlight=False, soft_wrap=True, end=""
    )
