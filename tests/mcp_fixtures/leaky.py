"""An MCP server that leaks the secrets it was given every way it can, for the redaction tests.

`python leaky.py [--token=T] [--api-key K] [-H "Authorization: Bearer B"] [--password P] [--fail]`

Its `whoami` tool echoes every secret (and `$LEAKY_API_KEY`), `explode` fails quoting them. With `--fail`
it writes its command line, its key and its password to stderr and exits 1 before the handshake.
"""

from __future__ import annotations

import argparse
import os
import sys

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

parser = argparse.ArgumentParser()
parser.add_argument("--token")
parser.add_argument("--api-key")
parser.add_argument("-H", dest="header")
parser.add_argument("--password")
parser.add_argument("--fail", action="store_true")
args = parser.parse_args()

app = MCPServer("leaky")


@app.tool()
def whoami() -> str:
    """Everything this server was given, secrets included."""
    return (
        f"token {args.token}, key {args.api_key}, header {args.header}, password {args.password}, "
        f"env key {os.environ.get('LEAKY_API_KEY')}"
    )


@app.tool()
def explode() -> str:
    """Fail, quoting the credentials in the error."""
    raise ToolError(f"authentication failed for token {args.token} with password {args.password}")


if __name__ == "__main__":
    if args.fail:
        print(f"leaky: started as {' '.join(sys.argv)}", file=sys.stderr, flush=True)
        print(f"leaky: LEAKY_API_KEY is {os.environ.get('LEAKY_API_KEY')}", file=sys.stderr, flush=True)
        print(f"leaky: cannot log in with {args.password}", file=sys.stderr, flush=True)
        sys.exit(1)
    app.run()
