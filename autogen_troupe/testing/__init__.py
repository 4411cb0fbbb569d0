"""Test doubles, cassettes (record and replay), expectations, the suite behind `troupe test`, the pytest
plugin's machinery.

    from autogen_troupe.testing import ScriptedClient, tool_call, network_allowed
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ..models._network import network_allowed
    from ._cassette import Cassette, cassette_path_for
    from ._expect import check_expectations
    from ._modes import Execution, Mode, choose_mode, execute
    from ._record import record_scenario
    from ._replay import replay_scenario
    from ._scripted import ReplayClient, Reply, ScriptedClient, tool_call
    from ._suite import junit_xml, run_suite

__all__ = [
    "Cassette",
    "Execution",
    "Mode",
    "ReplayClient",
    "Reply",
    "ScriptedClient",
    "cassette_path_for",
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
    "Cassette": "._cassette",
    "ReplayClient": "._scripted",
    "Reply": "._scripted",
    "ScriptedClient": "._scripted",
    "check_expectations": "._expect",
    "choose_mode": "._modes",
    "execute": "._modes",
    "Execution": "._modes",
    "network_allowed": "..models._network",
    "record_scenario": "._record",
    "replay_scenario": "._replay",
    "run_suite": "._suite",
    "tool_call": "._scripted",
    "Mode": "._modes",
    "cassette_path_for": "._cassette",
    "junit_xml": "._suite",
}
__getattr__ = lazy_exports(__name__, _WHERE)
