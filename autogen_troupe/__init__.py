"""autogen-troupe: scenario files become AutoGen multi-agent teams.

The public API, imported lazily (importing the package loads no AutoGen, openai or vLLM code):

    from autogen_troupe import load_scenario, run_scenario
    result = await run_scenario(load_scenario("travel_planning"))
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ContentBlocked",
    "Interrupted",
    "Issue",
    "ModelCallError",
    "ProfileError",
    "ReplayMismatch",
    "RunError",
    "RunOptions",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "ToolCallError",
    "TroupeError",
    "build_team",
    "bundled_scenarios",
    "load_scenario",
    "open_team",
    "run_async",
    "run_scenario",
]

_WHERE = {
    "ContentBlocked": "errors",
    "Issue": "errors",
    "ModelCallError": "errors",
    "ProfileError": "errors",
    "ReplayMismatch": "errors",
    "RunError": "errors",
    "ScenarioError": "errors",
    "ToolCallError": "errors",
    "TroupeError": "errors",
    "RunOptions": "runtime",
    "RunResult": "runtime",
    "Scenario": "runtime",
    "bundled_scenarios": "runtime",
    "load_scenario": "runtime",
    "open_team": "runtime",
    "run_scenario": "runtime",
    "Interrupted": "runtime",
    "run_async": "runtime",
    "build_team": "_api",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
