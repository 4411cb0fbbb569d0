"""Test doubles, expectations, the suite behind `troupe test`, the pytest plugin's machinery; cassettes,
recording and replay re-exported from the tape room (`tapes`).

    from autogen_troupe.testing import ScriptedClient, tool_call, network_allowed
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ..models._network import network_allowed
    from ..runtime._modes import Execution, choose_mode, execute
    from ..runtime._tape_runs import record_scenario, replay_scenario
    from ..tapes._cassette import Cassette
    from ._expect import check_expectations
    from ._scripted import ReplayClient, Reply, ScriptedClient, tool_call
    from ._suite import junit_xml, run_suite

__all__ = [
    "Cassette",
    "Execution",
    "ReplayClient",
    "Reply",
    "ScriptedClient",
    "check_expectations",
    "choose_mode",
    "execute",
    "junit_xml",
    "network_allowed",
    "record_scenario",
    "replay_scenario",
    "run_suite",
    "tool_call",
]

_WHERE = {
    "Cassette": "..tapes._cassette",
    "ReplayClient": "._scripted",
    "Reply": "._scripted",
    "ScriptedClient": "._scripted",
    "check_expectations": "._expect",
    "choose_mode": "..runtime._modes",
    "execute": "..runtime._modes",
    "Execution": "..runtime._modes",
    "network_allowed": "..models._network",
    "record_scenario": "..runtime._tape_runs",
    "replay_scenario": "..runtime._tape_runs",
    "run_suite": "._suite",
    "tool_call": "._scripted",
    "junit_xml": "._suite",
}
__getattr__ = lazy_exports(__name__, _WHERE)
