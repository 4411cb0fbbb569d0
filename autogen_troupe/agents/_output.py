"""An agent's `output_schema:` as the pydantic model AutoGen's structured messages take
(`AssistantAgent(output_content_type=...)`): built from the inline JSON Schema, or imported from its
`package.module:Model` path when the team is built (the scenario's folder searched first, as for Python
tools). A path that cannot be imported is a located error in the scenario file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..errors import Issue, ScenarioError
from ..scenario._graph import OutputIs, walk_condition
from ..scenario._output_schema import check_output_value, output_model
from ..tools._python import import_from

__all__ = ["check_imported_outputs", "output_type"]


def output_type(
    agent: Any, *, search_path: Sequence[str | Path] = (), source: Path | None = None, index: int = 0
) -> type[BaseModel] | None:
    """The model of `agent`'s structured answers, or None when it answers in text. `source` and `index`
    (the scenario file, the agent's place in the team) locate an import that fails."""
    spec = agent.output_schema
    if spec is None:
        return None
    if isinstance(spec, dict):
        title = spec.get("title")
        return output_model(spec, title if isinstance(title, str) and title.isidentifier() else agent.name)
    reason = _imported(spec, search_path)
    if isinstance(reason, type):
        return reason
    raise ScenarioError([_issue(source, index, f"output_schema {spec!r} of agent {agent.name!r}: {reason}")])


def _imported(ref: str, search_path: Sequence[str | Path]) -> type[BaseModel] | str:
    """The model at `ref`, or why there is none."""
    module_name, _, attr = ref.partition(":")
    module = import_from(module_name, search_path)
    if isinstance(module, str):
        return module
    found = getattr(module, attr, None)
    if not (isinstance(found, type) and issubclass(found, BaseModel)):
        what = "nothing" if found is None else f"a {type(found).__name__}"
        return f"{module_name}.{attr} is {what}, not a pydantic model class"
    return found


def check_imported_outputs(team: Any, outputs: Sequence[type[BaseModel] | None], source: Path | None) -> None:
    """A graph's `output:` conditions on agents whose output_schema is imported (an inline one is checked
    when the file loads): a field the model lacks or a value it can never take is a located error."""
    models = {
        a.name: m for a, m in zip(team.agents, outputs, strict=True) if isinstance(a.output_schema, str)
    }
    for i, edge in enumerate(team.edges):
        model = models.get(edge.from_)
        if model is None or edge.when is None:
            continue
        for at, cond in walk_condition(edge.when, ("team", "edges", i, "when")):
            if not isinstance(cond, OutputIs):
                continue
            for key, value in cond.output.items():
                why = check_output_value(model, key, value)
                if why is not None:
                    message = f"{edge.from_!r} answers under its output_schema, and {why}"
                    raise ScenarioError([_issue(source, (*at, "output", key), message)])


def _issue(source: Path | None, at: int | tuple[str | int, ...], message: str) -> Issue:
    """The issue at `at` (an agent's index: its `output_schema`) in the scenario file (line 1 when it
    cannot be read)."""
    from ..scenario._located import dotted

    loc = ("team", "agents", at, "output_schema") if isinstance(at, int) else at
    if source is None:
        return Issue("(scenario)", 1, 1, message, dotted(loc))
    from ..scenario._loader import load_yaml_located

    try:
        _, located = load_yaml_located(source)
    except ScenarioError:
        return Issue(source, 1, 1, message, dotted(loc))
    mark = located.value_marks.get(loc)
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    return Issue(source, line, column, message, dotted(loc))
