"""The commands that read scenario files without running them: `check` (validate, and list the Python
code a run would import), `list` (the bundled scenarios) and `schema` (the JSON Schema of the format)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .._text import safe_text
from ..errors import ScenarioError
from .console import err, out, safe
from .errors import BadInput
from .scenario_files import refuse_non_scenarios

__all__ = ["check", "list_scenarios", "schema"]


def check(paths: Annotated[list[Path], typer.Argument(help="Scenario files or folders.")]) -> None:
    """Validate scenario files without running them, and list the Python code a run would import."""
    from ..scenario import iter_scenario_files, load_scenario
    from ..tools import python_tool_sources

    refuse_non_scenarios(paths)
    bad = 0
    files = list(iter_scenario_files(paths))
    for f in files:
        try:
            sc = load_scenario(f)
        except ScenarioError as e:  # every file is checked: each one's issues, then exit 2
            bad += 1
            err.print(safe(str(e)), markup=False)
        else:
            out.print(safe(f"ok  {f}"), markup=False, highlight=False)
            sources = python_tool_sources(sc)
            if sources:
                out.print(
                    "    python tools (imported, so their code runs, whenever it runs or replays):",
                    markup=False,
                    highlight=False,
                )
                for src in sources:
                    out.print(
                        safe(f"      {src.describe(Path.cwd())}"),
                        markup=False,
                        highlight=False,
                        soft_wrap=True,
                    )
    if not files:
        raise BadInput("no scenario files found")
    if bad:
        raise typer.Exit(2)


def list_scenarios() -> None:
    """List the bundled scenarios."""
    from rich.table import Table

    from ..scenario import bundled_scenarios, load_scenario, task_placeholders

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


def schema() -> None:
    """Print the JSON Schema of scenario files (for editors: yaml-language-server $schema)."""
    from ..scenario import Scenario

    typer.echo(json.dumps(Scenario.model_json_schema(), indent=2))
