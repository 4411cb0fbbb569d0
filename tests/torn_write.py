"""`troupe` with its tape writer stopped half way through one record, for killing a run mid-write.

`python torn_write.py MARKER N troupe-args...`: the N-th `model_call` record the run writes is written
only in part (its first half, flushed), then MARKER is created and the process waits to be killed. Only
the fault is made here (a kill cannot be timed to land inside a write): the run, its tape and the kill
are real.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from autogen_troupe.tapes import _tape

MARKER, AT = Path(sys.argv[1]), int(sys.argv[2])
_write = _tape.TapeWriter.write
_seen = 0


def _torn(self: _tape.TapeWriter, record: Any) -> None:
    global _seen
    if getattr(record, "record", None) == "model_call":
        _seen += 1
        if _seen == AT and self._fh is not None:
            import json

            line = json.dumps(_tape.line_of(record), default=str, ensure_ascii=False)
            self._fh.write(line[: len(line) // 2])
            self._fh.flush()
            MARKER.touch()
            while True:
                time.sleep(1)
    _write(self, record)


_tape.TapeWriter.write = _torn  # type: ignore[method-assign]

if __name__ == "__main__":
    from autogen_troupe.cli import main

    sys.argv = ["troupe", *sys.argv[3:]]
    main()
