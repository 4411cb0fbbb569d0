"""A small MCP server for the workbench tests.

`python toolbox.py` serves over stdio; `--http PORT` serves streamable HTTP on 127.0.0.1 instead;
`--once MARKER` serves over stdio the first time and fails to start once MARKER exists.
"""

from __future__ import annotations

import os
import sys

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

app = MCPServer("toolbox")


@app.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@app.tool()
def env_keys() -> list[str]:
    """The names of this process's environment variables."""
    return sorted(os.environ)


@app.tool()
def getenv(name: str) -> str:
    """The value of one environment variable, or '<unset>'."""
    return os.environ.get(name, "<unset>")


@app.tool()
def pid() -> int:
    """This server's process id."""
    return os.getpid()


@app.tool()
async def sleep(seconds: float) -> str:
    """Sleep, then say so (the server stays responsive meanwhile)."""
    await anyio.sleep(seconds)
    return f"slept {seconds}"


@app.tool()
def crash(code: int = 3) -> str:
    """Exit the whole server at once, as a crash would."""
    print("toolbox: crashing on purpose", file=sys.stderr, flush=True)
    os._exit(code)


@app.tool()
def fail() -> str:
    """Always raise, to show tool errors reach the model."""
    raise ToolError("this tool always fails")


@app.tool()
def headers(ctx: Context) -> dict[str, str]:
    """The HTTP request headers this call came with (empty over stdio)."""
    return {k.lower(): v for k, v in (ctx.headers or {}).items()}


@app.tool()
async def grow(name: str, ctx: Context) -> str:
    """Add a tool called `name` (it answers "grown") and announce the changed tool list."""

    def grown() -> str:
        return "grown"

    app.add_tool(grown, name=name, description="A tool added while the server runs.")
    await ctx.notify_tools_changed()  # protocol 2026-07-28: to `subscriptions/listen` streams
    await ctx.session.send_tool_list_changed()  # earlier protocols: a notification (dropped at 2026-07-28)
    return f"added {name}"


if __name__ == "__main__":
    print(f"toolbox: starting (pid {os.getpid()})", file=sys.stderr, flush=True)
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        app.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    elif (
        len(sys.argv) == 3 and sys.argv[1] == "--once"
    ):  # starts once; later starts fail, as a broken disk would
        if os.path.exists(sys.argv[2]):
            print("toolbox: refusing a second start", file=sys.stderr, flush=True)
            sys.exit(4)
        open(sys.argv[2], "w").close()
        app.run()
    else:
        app.run()
