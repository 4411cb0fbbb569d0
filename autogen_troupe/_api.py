"""Library helpers that sit on top of the runner: building a team for apps that drive it themselves."""

from __future__ import annotations

from typing import Any

from .errors import TroupeError
from .runtime._runner import RunOptions, resolve_agent_model
from .runtime._schema import Scenario

__all__ = ["build_team"]


def build_team(scenario: Scenario, model_client: Any = None, *, options: RunOptions | None = None) -> Any:
    """The scenario's AutoGen team, for apps that call `team.run_stream()` themselves.

    With `model_client` every agent uses it (the caller closes it); without, clients come from the model
    profiles. Scenarios whose agents use MCP servers need their servers started: use
    `async with open_team(scenario) as opened: opened.team` instead.
    """
    from .agents import build_team as _build
    from .agents import limit_conditions
    from .tools import load_python_tool

    if any(a.mcp for a in scenario.team.agents):
        raise TroupeError(
            f"scenario {scenario.name!r} uses MCP servers, which must be started and stopped: "
            "use `async with open_team(scenario) as opened:` and `opened.team`"
        )
    from .runtime._model_facts import ModelLimits, limits_of

    options = options or RunOptions()
    specs: dict[str, Any] = {}

    def client_for(agent: str, ref: Any) -> Any:
        if model_client is not None:
            return model_client
        from .runtime._clients import create_model_client

        specs[agent] = spec = resolve_agent_model(scenario, ref, options)
        return create_model_client(spec)

    def limits_for(agent: str) -> ModelLimits | None:
        spec = specs.get(agent)
        return None if spec is None else limits_of(spec)

    return _build(
        scenario,
        client_for=client_for,
        tool_for=load_python_tool,
        extra_termination=limit_conditions(scenario.limits),
        limits_for=limits_for,
    )
