"""`{{name}}` placeholders: filled from each row of a tasks file by `troupe eval`, and what makes a scenario
an *eval template*.

A scenario whose task holds a placeholder is made to run over a tasks file; run on its own it would send
the literal `{{destination}}` to the model. Every face that runs a scenario's own task (`troupe run`, the
serve page and its API, `troupe list`) asks this module, so they agree on what a template is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..errors import Issue
from ._mcp import PromptText
from ._schema import Scenario

__all__ = ["PLACEHOLDER", "fill", "task_placeholders", "template_names", "template_task_issue"]

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

Scalar = str | int | float | bool | None


def template_names(text: str) -> list[str]:
    """The `{{name}}` placeholders a text uses, in order, each once."""
    return list(dict.fromkeys(PLACEHOLDER.findall(text)))


def fill(text: str, values: Mapping[str, Scalar]) -> str:
    """`text` with each `{{name}}` replaced by its value (every name must be in `values`)."""
    return PLACEHOLDER.sub(lambda m: _text(values[m.group(1)]), text)


def _text(v: Scalar) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def _texts(task: PromptText | None) -> list[str]:
    if isinstance(task, str):
        return [task]
    if isinstance(task, tuple):
        return [p for p in task if isinstance(p, str)]
    return []


def task_placeholders(scenario: Scenario) -> list[str]:
    """The placeholders of the scenario's own task: not empty means the scenario is an eval template."""
    return list(dict.fromkeys(n for t in _texts(scenario.task) for n in template_names(t)))


def template_task_issue(scenario: Scenario) -> Issue | None:
    """Why the scenario cannot run its own task (it is an eval template), or None when it can."""
    names = task_placeholders(scenario)
    if not names:
        return None
    used = ", ".join(f"{{{{{n}}}}}" for n in names)
    message = (
        f"scenario {scenario.name!r} is an eval template: its task uses {used}, filled from each row of a "
        f"tasks file by `troupe eval {scenario.name} --tasks FILE`; to run it once, give a task "
        "(troupe run --task TEXT, or the task of the request)"
    )
    return Issue(scenario.source or scenario.name, 1, 1, message, "task")
