"""An MCP server with a tool it marks destructive, for tool approvals.

`python shredder.py LOG` serves over stdio. `shred` is marked destructive (`destructiveHint: true`), `peek`
read-only, `label` carries no hint. Each call appends `TOOL ARGUMENT` to LOG, so a test sees which calls
were really made.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

app = MCPServer("shredder")
LOG = Path(sys.argv[1])


def _note(line: str) -> None:
    with LOG.open("a") as f:
        f.write(line + "\n")


@app.tool(annotations=ToolAnnotations(destructive_hint=True))
def shred(doc: str) -> str:
    """Shred a document for good."""
    _note(f"shred {doc}")
    return f"{doc} shredded"


@app.tool(annotations=ToolAnnotations(read_only_hint=True))
def peek(doc: str) -> str:
    """Read a document."""
    _note(f"peek {doc}")
    return f"{doc}: nothing to see"


@app.tool()
def label(doc: str) -> str:
    """Put a label on a document."""
    _note(f"label {doc}")
    return f"{doc} labelled"


if __name__ == "__main__":
    app.run()
