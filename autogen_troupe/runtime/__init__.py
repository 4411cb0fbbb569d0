"""Running a scenario: the one run call (`execute`: live, record, replay, resume, fork), the runner, its
transcript, logs and signals."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._fork import changed_scenario_text
    from ._human import ConsoleAsk
    from ._logs import library_log_file, library_logs, quiet_autogen_logs
    from ._modes import Execution, Mode, execute
    from ._resume import find_run
    from ._runner import OpenTeam, RunOptions, build_team, open_team, run_scenario
    from ._signals import Interrupted, exit_code, run_async, stop_on_signals
    from ._tape_runs import unreplayable
    from ._transcript import Entry, RunResult, StopReason, Usage

__all__ = [
    "ConsoleAsk",
    "Entry",
    "Execution",
    "Interrupted",
    "Mode",
    "OpenTeam",
    "RunOptions",
    "RunResult",
    "StopReason",
    "Usage",
    "build_team",
    "changed_scenario_text",
    "execute",
    "exit_code",
    "find_run",
    "library_log_file",
    "library_logs",
    "open_team",
    "quiet_autogen_logs",
    "run_async",
    "run_scenario",
    "stop_on_signals",
    "unreplayable",
]

_WHERE = {
    "Entry": "._transcript",
    "Execution": "._modes",
    "execute": "._modes",
    "Interrupted": "._signals",
    "OpenTeam": "._runner",
    "RunOptions": "._runner",
    "RunResult": "._transcript",
    "StopReason": "._transcript",
    "Usage": "._transcript",
    "build_team": "._runner",
    "open_team": "._runner",
    "run_async": "._signals",
    "run_scenario": "._runner",
    "ConsoleAsk": "._human",
    "library_log_file": "._logs",
    "library_logs": "._logs",
    "quiet_autogen_logs": "._logs",
    "exit_code": "._signals",
    "stop_on_signals": "._signals",
    "Mode": "._modes",
    "find_run": "._resume",
    "changed_scenario_text": "._fork",
    "unreplayable": "._tape_runs",
}
__getattr__ = lazy_exports(__name__, _WHERE)
