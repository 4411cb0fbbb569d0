"""An MCP server whose read-only tool blocks while a gate file exists, for killing a run mid tool call.

`python gate.py LOG GATE` serves over stdio. Each call appends `TOOL ARGUMENT` to LOG (one line, written
whole) first. `charge` (no hint: not to be made twice) returns at once; `lookup` (marked read-only) then
waits while GATE exists (the test removes it to release the call), without blocking the event loop.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

app = MCPServer("gate")
LOG, GATE = Path(sys.argv[1]), Path(sys.argv[2])


def _note(line: str) -> None:
    with LOG.open("a") as f:
        f.write(line + "\n")


@app.tool()
async def charge(amount: int) -> str:
    """Charge an amount."""
    _note(f"charge {amount}")
    return f"charged {amount}"


@app.tool(annotations=ToolAnnotations(read_only_hint=True))
async def lookup(item: str) -> str:
    """Look an item up."""
    _note(f"lookup {item}")
    while GATE.exists():
        await anyio.sleep(0.02)
    return f"{item} = 42"


if __name__ == "__main__":
    app.run()
