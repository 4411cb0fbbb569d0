"""`python -m autogen_troupe.mcp_servers.travel`: the travel MCP server over stdio, or HTTP with --http."""

from __future__ import annotations

import argparse

from .._serve import add_transport_args, serve
from ._server import create_server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m autogen_troupe.mcp_servers.travel",
        description="MCP server with travel tools: convert_currency, country_facts, phrases "
        "(illustrative, dated data shipped in the package).",
    )
    add_transport_args(parser)
    serve(create_server(), parser.parse_args(argv))


if __name__ == "__main__":
    main()
