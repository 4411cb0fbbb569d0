"""Running a scenario: the runner, its transcript, the console view, logs and signals."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._console import ConsoleView
    from ._human import ConsoleAsk
    from ._logs import library_log_file, library_logs, quiet_autogen_logs
    from ._runner import OpenTeam, RunOptions, build_team, open_team, run_scenario
    from ._signals import Interrupted, exit_code, run_async, stop_on_signals
    from ._transcript import Entry, RunResult, Usage

__all__ = [
    "ConsoleAsk",
    "ConsoleView",
    "Entry",
    "Interrupted",
    "OpenTeam",
    "RunOptions",
    "RunResult",
    "Usage",
    "build_team",
    "exit_code",
    "library_log_file",
    "library_logs",
    "open_team",
    "quiet_autogen_logs",
    "run_async",
    "run_scenario",
    "stop_on_signals",
]

_WHERE = {
    "Entry": "._transcript",
    "Interrupted": "._signals",
    "OpenTeam": "._runner",
    "RunOptions": "._runner",
    "RunResult": "._transcript",
    "Usage": "._transcript",
    "build_team": "._runner",
    "open_team": "._runner",
    "run_async": "._signals",
    "run_scenario": "._runner",
    "quiet_autogen_logs": "._logs",
    "exit_code": "._signals",
    "stop_on_signals": "._signals",
    "ConsoleAsk": "._human",
    "ConsoleView": "._console",
    "library_logs": "._logs",
    "library_log_file": "._logs",
}
__getattr__ = lazy_exports(__name__, _WHERE)
