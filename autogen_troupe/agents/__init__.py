"""Building AutoGen agents and teams from a validated scenario."""

from ._build import (
    ClientFor,
    ToolFor,
    WorkbenchFor,
    build_agent,
    build_team,
    build_termination,
    limit_conditions,
)

__all__ = [
    "ClientFor",
    "ToolFor",
    "WorkbenchFor",
    "build_agent",
    "build_team",
    "build_termination",
    "limit_conditions",
]
