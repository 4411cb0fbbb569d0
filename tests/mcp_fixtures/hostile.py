"""An MCP server whose every text is hostile to a terminal: rich markup (`[/bold][red]x`, a `[link=...]`)
and escape sequences that retitle or clear a terminal, overwrite a line, or ring its bell, in its tool
descriptions, tool results, log and progress notifications, resources and prompts. A client must show all
of it as text. `python hostile.py` serves over stdio.
"""

from __future__ import annotations

import warnings

import anyio
from mcp.server.mcpserver import Context, MCPServer

warnings.simplefilter("ignore")  # logging is deprecated in 2026-07-28, still in use

MARKUP = "[/bold][red]x[link=https://evil.example]click[/link]"
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\rover\x9b31m\x08"
HOSTILE = f"{MARKUP} {ESCAPES} end"

app = MCPServer("hostile")


@app.tool(description=f"Echo back. {HOSTILE}")
async def shout(ctx: Context) -> str:
    await ctx.report_progress(1, 2, f"progress {HOSTILE}")
    await ctx.log("warning", f"log {HOSTILE}", logger_name="hostile")
    return f"result {HOSTILE}"


@app.tool(name="odd[/b]\x1b[2Jname", description="A tool whose very name is hostile.")
def odd() -> str:
    return "ok"


@app.resource("notes://bad", name=f"bad[/i]{ESCAPES}", description=f"res {HOSTILE}", mime_type="text/plain")
def bad() -> str:
    return f"resource {HOSTILE}"


@app.prompt(name="bad_prompt", description=f"prompt {HOSTILE}")
def bad_prompt() -> str:
    return f"prompt text {HOSTILE}"


if __name__ == "__main__":
    anyio.run(app.run_stdio_async)
