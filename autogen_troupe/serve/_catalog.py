"""The scenarios a server offers: found once at start in the given paths, read again at each run (an
edited file takes effect at the next run without a restart).

Each scenario is one model of the OpenAI-compatible API (`id` = its name) and one choice on the page.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._redact import redact_data, redact_text
from ..errors import Issue, ScenarioError
from ..scenario._files import SCENARIO_MAX_BYTES, FileProblem, read_text
from ..scenario._graph_draw import graph_data
from ..scenario._loader import bundled_dir, iter_scenario_files, load_scenario, resolve_scenario_path
from ..scenario._schema import Scenario
from ..scenario._template import task_placeholders
from ._source import masked_source

__all__ = ["Catalog", "Offered", "default_paths"]


def default_paths(cwd: Path | None = None) -> list[Path]:
    """`./scenarios` when present (first: a scenario of yours wins over a bundled one of the same name),
    then the bundled scenarios."""
    here = (cwd or Path.cwd()) / "scenarios"
    return [p for p in (here, bundled_dir()) if p.is_dir()]


@dataclass(frozen=True)
class Offered:
    """One scenario on offer: its file and what the page and /v1/models show of it."""

    name: str
    path: Path
    scenario: Scenario

    def summary(self) -> dict[str, Any]:
        sc = self.scenario
        names = task_placeholders(sc)  # an eval template's task is not one to run: the page asks for one
        template = {"task": sc.task, "placeholders": names, "run_with": f"troupe eval {sc.name} --tasks FILE"}
        return redact_data(
            {
                "name": sc.name,
                "description": sc.description,
                "task": None if names else sc.task,
                "eval_template": template if names else None,
                "team": sc.team.kind,
                "agents": [
                    {"name": a.name, "kind": a.kind, "description": a.description} for a in sc.team.agents
                ],
                "asks_user": any(a.kind == "user" for a in sc.team.agents),
                "file": self.path.name,
                **({"graph": graph_data(sc.team)} if sc.team.kind == "graph" else {}),
            }
        )

    def source(self) -> str:
        """The file's text as the page shows it, secrets masked (a literal key in a header, say)."""
        try:
            text = read_text(self.path, limit=SCENARIO_MAX_BYTES, what="scenario")
            return masked_source(text, self.path.name)
        except FileProblem as e:
            return f"# cannot read {self.path.name}: {e.message}"


@dataclass
class Catalog:
    """Scenario name → file. `skipped` holds the problems of files found in folders that do not load
    (a file named on the command line that does not load is an error instead)."""

    offered: dict[str, Offered] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @classmethod
    def find(cls, paths: Sequence[str | os.PathLike[str]] | None = None) -> Catalog:
        """Scenarios in files, folders (recursively) or bundled names; default: `default_paths()`.
        The first file of a name wins; later ones are noted in `skipped`."""
        catalog = cls()
        given = [Path(p) for p in paths] if paths else default_paths()
        for item in given:
            if not item.is_dir():
                catalog._add(resolve_scenario_path(item), explicit=True)
                continue
            for f in iter_scenario_files([item]):
                catalog._add(f, explicit=False)
        return catalog

    def _add(self, path: Path, *, explicit: bool) -> None:
        try:
            sc = load_scenario(path)
        except ScenarioError as e:
            if explicit:
                raise
            self.skipped.append(redact_text(str(e)))
            return
        if sc.name in self.offered:
            if self.offered[sc.name].path.resolve() != path.resolve():
                self.skipped.append(
                    f"{path}: scenario {sc.name!r} is already served from {self.offered[sc.name].path}"
                )
            return
        self.offered[sc.name] = Offered(sc.name, path, sc)

    def __contains__(self, name: object) -> bool:
        return name in self.offered

    def __iter__(self) -> Iterable[Offered]:
        return iter(self.offered.values())

    def names(self) -> list[str]:
        return list(self.offered)

    def load(self, name: str) -> Scenario:
        """The scenario read afresh from its file (ScenarioError if it no longer loads)."""
        offered = self.offered.get(name)
        if offered is None:
            raise ScenarioError([Issue(name, 1, 1, f"no scenario named {name!r} is served")])
        return load_scenario(offered.path)
