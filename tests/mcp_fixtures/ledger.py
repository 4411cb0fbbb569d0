"""An MCP server whose first tool call hangs, for cutting a run while a tool runs.

`python ledger.py LOG` serves over stdio. `lookup` is marked read-only, `charge` carries no hint. Each call
appends `TOOL ARGUMENT` to LOG (one line, written whole) before anything else; the first call ever then
waits for good (without blocking the event loop, so the server still ends when its stdin closes).
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

app = MCPServer("ledger")
LOG = Path(sys.argv[1])


async def _note(line: str) -> None:
    with LOG.open("a") as f:
        f.write(line + "\n")
    if LOG.read_text().count("\n") == 1:
        await anyio.sleep_forever()


@app.tool(annotations=ToolAnnotations(read_only_hint=True))
async def lookup(item: str) -> str:
    """Look an item up."""
    await _note(f"lookup {item}")
    return f"{item} = 42"


@app.tool()
async def charge(amount: int) -> str:
    """Charge an amount."""
    await _note(f"charge {amount}")
    return f"charged {amount}"


if __name__ == "__main__":
    app.run()
