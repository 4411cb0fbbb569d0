"""The travel MCP server: three read-only tools over the package's dated, illustrative data."""

from __future__ import annotations

import inspect
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from .._serve import package_version, tools_only
from ._data import TOPICS, Conversion, CountryFacts, NotFound, PhraseBook, TravelData, load_travel_data

__all__ = ["create_server"]

_READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


def create_server(data: TravelData | None = None) -> MCPServer:
    """The travel server; `data` defaults to the JSON files shipped in the package."""
    # Longer than 60 lines on purpose: three tools, each a closure over `data` whose annotated signature and
    # docstring are its schema, read best side by side with the server they are added to.
    data = data or load_travel_data()
    server = MCPServer(
        "troupe-travel",
        version=package_version(),
        instructions="Travel facts for about 40 countries: currency conversion, country facts and "
        "common local phrases. The data is illustrative and dated (see as_of in each answer).",
        log_level="WARNING",
        subscriptions=False,
        middleware=[tools_only],  # declares and serves tools only
    )
    countries = ", ".join(data.country_names())

    def convert_currency(
        amount: Annotated[float, Field(description="How much money to convert, e.g. 100.")],
        from_currency: Annotated[
            str, Field(description="ISO 4217 code such as 'USD', a currency name, or a country name.")
        ],
        to_currency: Annotated[
            str, Field(description="ISO 4217 code such as 'NPR', a currency name, or a country name.")
        ],
    ) -> Conversion:
        """Convert an amount between two currencies with a dated table of approximate rates.

        The rates are illustrative mid-market values (see `as_of`), not live quotes.
        """
        try:
            return data.convert(amount, from_currency, to_currency)
        except NotFound as e:
            raise ToolError(e.message) from None

    def country_facts(
        country: Annotated[
            str, Field(description="Country name (any case), alias or ISO code, e.g. 'Nepal', 'KR', 'JPN'.")
        ],
    ) -> CountryFacts:
        """Facts about a country: capital, languages, currency, time zones, plugs, emergency numbers.

        Accepts names in any case, common aliases and ISO 3166 codes.
        """
        try:
            return data.country_facts(country)
        except NotFound as e:
            raise ToolError(e.message) from None

    def phrases(
        country_or_language: Annotated[
            str,
            Field(
                description="A language ('Nepali', 'ko') or a country whose main language to use ('Japan')"
            ),
        ],
        topic: Annotated[
            str, Field(description=f"One of: {', '.join(TOPICS)}; or 'all' for every topic.")
        ] = "all",
    ) -> PhraseBook:
        """Common phrases in the local language with romanization and English meaning, by topic."""
        try:
            return data.phrases(country_or_language, topic)
        except NotFound as e:
            raise ToolError(e.message) from None

    for fn in (convert_currency, country_facts, phrases):
        description = inspect.cleandoc(fn.__doc__ or "")
        if fn is country_facts:
            description += f"\n\nKnown countries: {countries}."
        server.add_tool(fn, description=description, annotations=_READ_ONLY)
    return server
