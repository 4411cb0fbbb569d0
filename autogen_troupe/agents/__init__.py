"""AutoGen agents and teams built from a validated scenario, each with its model context; a scenario's
team as AutoGen component JSON and back."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._build import assemble_agent, assemble_team, build_termination, limit_conditions
    from ._context import TroupeModelContext, estimate_tokens
    from ._export import export_autogen
    from ._import import import_autogen
    from ._interop import Note
    from ._stop import StopWatch, named, watch_of

__all__ = [
    "Note",
    "StopWatch",
    "TroupeModelContext",
    "assemble_agent",
    "assemble_team",
    "build_termination",
    "estimate_tokens",
    "export_autogen",
    "import_autogen",
    "limit_conditions",
    "named",
    "watch_of",
]

_WHERE = {
    "TroupeModelContext": "._context",
    "assemble_agent": "._build",
    "assemble_team": "._build",
    "build_termination": "._build",
    "estimate_tokens": "._context",
    "export_autogen": "._export",
    "import_autogen": "._import",
    "Note": "._interop",
    "limit_conditions": "._build",
    "named": "._stop",
    "StopWatch": "._stop",
    "watch_of": "._stop",
}
__getattr__ = lazy_exports(__name__, _WHERE)
