"""The tape room: cassettes and tapes. Records (one typed union for transcript and tape), the writer that
appends them as a run goes, the reader that drops a torn last line, recording and replaying.

The runtime drives runs through it; `testing` builds the suite and the plugin on top.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._cassette import Cassette, cassette_path_for
    from ._record import Recorder
    from ._records import (
        Chunk,
        Entry,
        Event,
        Guard,
        Handoff,
        McpEvent,
        Route,
        RunResult,
        StopReason,
        Text,
        Thought,
        ToolCall,
        ToolResult,
        Usage,
    )
    from ._replay import ReplaySession, ReplayWarning
    from ._tape import ModelsRecord, Record, Tape, TapeWriter, cassette_from_tape, read_tape

__all__ = [
    "Cassette",
    "Chunk",
    "Entry",
    "Event",
    "Guard",
    "Handoff",
    "McpEvent",
    "ModelsRecord",
    "Record",
    "Recorder",
    "ReplaySession",
    "ReplayWarning",
    "Route",
    "RunResult",
    "StopReason",
    "Tape",
    "TapeWriter",
    "Text",
    "Thought",
    "ToolCall",
    "ToolResult",
    "Usage",
    "cassette_from_tape",
    "cassette_path_for",
    "read_tape",
]

_WHERE = {
    "Cassette": "._cassette",
    "Entry": "._records",
    "Record": "._tape",
    "Recorder": "._record",
    "ReplaySession": "._replay",
    "ReplayWarning": "._replay",
    "RunResult": "._records",
    "StopReason": "._records",
    "Tape": "._tape",
    "TapeWriter": "._tape",
    "Usage": "._records",
    "cassette_from_tape": "._tape",
    "cassette_path_for": "._cassette",
    "read_tape": "._tape",
    "ModelsRecord": "._tape",
    "Chunk": "._records",
    "Event": "._records",
    "Guard": "._records",
    "Handoff": "._records",
    "McpEvent": "._records",
    "Route": "._records",
    "Text": "._records",
    "Thought": "._records",
    "ToolCall": "._records",
    "ToolResult": "._records",
}
__getattr__ = lazy_exports(__name__, _WHERE)
