"""A file given where a scenario goes that is not one: a cassette or a run's transcript (files troupe
wrote) is told apart from a broken scenario, in one paragraph that says what it is and what to do,
instead of a schema error for each of its keys."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from ..errors import Issue, ScenarioError

__all__ = ["refuse_non_scenarios"]

_HEAD_BYTES = 4096
_CASSETTE = re.compile(r'"format"\s*:\s*"troupe-cassette"')
_SCENARIO_FIELD = re.compile(r'"scenario"\s*:\s*("(?:[^"\\]|\\.)*")')


def _not_a_scenario(path: Path) -> str | None:
    """What to say when `path` is a file troupe wrote (a cassette, a run's transcript) rather than a scenario,
    found from its first few KB; None when it may be a scenario (the loader then says what is wrong)."""
    try:
        with path.open("rb") as f:
            head = f.read(_HEAD_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None
    if _CASSETTE.search(head):
        m = _SCENARIO_FIELD.search(head)
        name = json.loads(m.group(1)) if m else "?"
        stem = path.name.removesuffix(".cassette.json")
        beside = next(
            (c for c in (path.with_name(stem + ".yaml"), path.with_name(stem + ".yml")) if c.is_file()), None
        )
        scenario = str(beside) if beside else f"{name}.yaml"
        return (
            f"this is a cassette (the recorded model and tool calls of scenario {name!r}), not a scenario. "
            f"Replay it with `troupe run {scenario} --replay {path}`, or test the scenario with "
            f"`troupe test {scenario}`."
        )
    first = head.split("\n", 1)[0]
    try:
        record = json.loads(first)
    except ValueError:
        return None
    if isinstance(record, dict) and record.get("record") == "run":
        name = record.get("scenario", "?")
        return (
            f"this is the transcript of a run of scenario {name!r} (what was said, written by troupe run), "
            f"not a scenario. Run the scenario itself, e.g. `troupe run {name}.yaml`; to replay a run "
            f"offline, record a cassette with `troupe record {name}.yaml` and run it with --replay."
        )
    return None


def refuse_non_scenarios(given: Iterable[str | Path]) -> None:
    """Raise one `ScenarioError` (exit 2) when a file named as a scenario is a cassette or a transcript."""
    issues = []
    for item in given:
        path = Path(item)
        if path.is_file() and (why := _not_a_scenario(path)):
            issues.append(Issue(path, 1, 1, why))
    if issues:
        raise ScenarioError(issues)
