"""The travel MCP server: `python -m autogen_troupe.mcp_servers.travel [--http PORT]`."""

from __future__ import annotations

from ._data import TOPICS, Conversion, CountryFacts, NotFound, PhraseBook, TravelData, load_travel_data
from ._server import create_server

__all__ = [
    "TOPICS",
    "Conversion",
    "CountryFacts",
    "NotFound",
    "PhraseBook",
    "TravelData",
    "create_server",
    "load_travel_data",
]
