"""Scenario loading, model profiles and clients, running, transcripts.

Names are re-exported lazily so that `from autogen_troupe.runtime import load_scenario` does not import
AutoGen, openai or vLLM.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "Entry",
    "Interrupted",
    "OpenTeam",
    "RunOptions",
    "RunResult",
    "Scenario",
    "Usage",
    "bundled_scenarios",
    "load_scenario",
    "open_team",
    "run_async",
    "run_scenario",
]

_WHERE = {
    "Entry": "_transcript",
    "Interrupted": "_signals",
    "OpenTeam": "_runner",
    "RunOptions": "_runner",
    "RunResult": "_transcript",
    "Scenario": "_schema",
    "Usage": "_transcript",
    "bundled_scenarios": "_loader",
    "load_scenario": "_loader",
    "open_team": "_runner",
    "run_async": "_signals",
    "run_scenario": "_runner",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
