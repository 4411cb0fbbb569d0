"""An MCP server whose tool hangs for good after starting a family that outlives a process-group kill.

`python stubborn.py PIDFILE` serves over stdio. Its `hang` tool starts a child; the child starts a
grandchild in a session of its own (setsid), which ignores SIGTERM and SIGHUP, as a daemon would. Once both
are up, the server, child and grandchild pids go to PIDFILE (one a line, written whole at once), and the
tool blocks the server's event loop, so it no longer notices its stdin closing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from mcp.server.mcpserver import MCPServer

app = MCPServer("stubborn")

GRANDCHILD = (
    "import signal, time\n"
    "for s in (signal.SIGTERM, signal.SIGHUP): signal.signal(s, signal.SIG_IGN)\n"
    "print('up', flush=True)\n"
    "time.sleep(3600)\n"
)
CHILD = (
    "import subprocess, sys, time\n"
    f"g = subprocess.Popen([sys.executable, '-c', {GRANDCHILD!r}], start_new_session=True,"
    " stdout=subprocess.PIPE, text=True)\n"
    "g.stdout.readline()\n"  # its signal dispositions are set
    "print(g.pid, flush=True)\n"
    "time.sleep(3600)\n"
)


@app.tool()
async def hang() -> str:
    """Start a child and a setsid grandchild, then block this server for good."""
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    grandchild = int(child.stdout.readline())
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{os.getpid()}\n{child.pid}\n{grandchild}\n")
    os.replace(tmp, sys.argv[1])
    print(f"stubborn: hanging (child {child.pid}, grandchild {grandchild})", file=sys.stderr, flush=True)
    time.sleep(3600)  # blocks the event loop: the server is hung, not just busy
    return "never"


if __name__ == "__main__":
    app.run()
