"""Running a scenario: the one run call (`execute`: live, record, replay, resume, fork), the runner, its
transcript, the console view, logs and signals."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._modes import Execution, execute
    from ._runner import OpenTeam, RunOptions, build_team, open_team, run_scenario
    from ._signals import Interrupted, run_async
    from ._transcript import Entry, RunResult, Usage

__all__ = [
    "Entry",
    "Execution",
    "Interrupted",
    "OpenTeam",
    "RunOptions",
    "RunResult",
    "Usage",
    "build_team",
    "execute",
    "open_team",
    "run_async",
    "run_scenario",
]

_WHERE = {
    "Entry": "._transcript",
    "Execution": "._modes",
    "execute": "._modes",
    "Interrupted": "._signals",
    "OpenTeam": "._runner",
    "RunOptions": "._runner",
    "RunResult": "._transcript",
    "Usage": "._transcript",
    "build_team": "._runner",
    "open_team": "._runner",
    "run_async": "._signals",
    "run_scenario": "._runner",
}
__getattr__ = lazy_exports(__name__, _WHERE)
