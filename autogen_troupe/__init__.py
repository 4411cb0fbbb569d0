"""autogen-troupe: scenario files become AutoGen multi-agent teams.

The whole public API, imported lazily (importing the package loads no AutoGen, openai, mcp or vLLM code):

    from autogen_troupe import load_scenario, run_scenario
    result = await run_scenario(load_scenario("travel_planning"))

The rooms, in the order data flows (each imports only the ones before it): `scenario` (the file format),
`models` (providers, endpoint presets, model facts), `tools` (MCP and Python tools), `agents` (AutoGen
agents and teams), `runtime` (the runner, transcript, console), `testing` (cassettes, replay, expectations).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

if TYPE_CHECKING:
    from .errors import (
        ContentBlocked,
        EngineError,
        Issue,
        ModelCallError,
        NetworkBlocked,
        ProfileError,
        ReplayMismatch,
        RunError,
        ScenarioError,
        ToolCallError,
        TroupeError,
    )
    from .models import Overrides, list_models
    from .runtime import (
        Interrupted,
        OpenTeam,
        RunOptions,
        RunResult,
        StopReason,
        build_team,
        open_team,
        run_async,
        run_scenario,
    )
    from .scenario import Scenario, bundled_scenarios, load_scenario
    from .testing import Cassette, check_expectations, record_scenario, replay_scenario

__all__ = [
    "Cassette",
    "ContentBlocked",
    "EngineError",
    "Interrupted",
    "Issue",
    "ModelCallError",
    "NetworkBlocked",
    "OpenTeam",
    "Overrides",
    "ProfileError",
    "ReplayMismatch",
    "RunError",
    "RunOptions",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "StopReason",
    "ToolCallError",
    "TroupeError",
    "build_team",
    "bundled_scenarios",
    "check_expectations",
    "list_models",
    "load_scenario",
    "open_team",
    "record_scenario",
    "replay_scenario",
    "run_async",
    "run_scenario",
]

_ERRORS = (
    "ContentBlocked EngineError Issue ModelCallError NetworkBlocked ProfileError ReplayMismatch RunError "
    "ScenarioError ToolCallError TroupeError"
)
_WHERE = {
    **dict.fromkeys(_ERRORS.split(), ".errors"),
    **dict.fromkeys(("Overrides", "list_models"), ".models"),
    **dict.fromkeys(
        ("Interrupted", "OpenTeam", "RunOptions", "RunResult", "StopReason", "build_team", "open_team"),
        ".runtime",
    ),
    "run_async": ".runtime",
    "run_scenario": ".runtime",
    **dict.fromkeys(("Scenario", "bundled_scenarios", "load_scenario"), ".scenario"),
    **dict.fromkeys(("Cassette", "check_expectations", "record_scenario", "replay_scenario"), ".testing"),
}
__getattr__ = lazy_exports(__name__, _WHERE)
