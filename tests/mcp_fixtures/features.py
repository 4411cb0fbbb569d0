"""An MCP server that uses what a client offers besides tools: it asks questions (elicitation), asks the
client's model to write (sampling), lists the client's roots, reports progress and logs, and serves
resources, a resource template and prompts. `python features.py` serves over stdio; `--http PORT` over
streamable HTTP on 127.0.0.1.
"""

from __future__ import annotations

import sys
import warnings
from typing import Annotated

import anyio
import mcp_types
from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.resolve import Elicit, ListRoots, Resolve, Sample
from pydantic import BaseModel, Field

warnings.simplefilter("ignore")  # roots, logging and sampling are deprecated in 2026-07-28, still in use

app = MCPServer("features")


class Traveller(BaseModel):
    name: str = Field(description="Your name")
    nights: int = Field(2, description="Nights to stay")


def _ask_traveller(city: str) -> Elicit[Traveller]:
    return Elicit(f"Who is travelling to {city}?", Traveller)


@app.tool()
async def book(city: str, who: Annotated[ElicitationResult[Traveller], Resolve(_ask_traveller)]) -> str:
    """Book a room in a city; asks the person for their name and how many nights."""
    if not isinstance(who, AcceptedElicitation):
        return f"booking in {city} not made: the person chose {who.action}"
    return f"booked {who.data.nights} night(s) in {city} for {who.data.name}"


def _ask_model(text: str) -> Sample:
    message = mcp_types.SamplingMessage(role="user", content=mcp_types.TextContent(type="text", text=text))
    return Sample([message], max_tokens=2000, system_prompt="Summarize in one line.")


@app.tool()
async def summarize(text: str, reply: Annotated[mcp_types.CreateMessageResult, Resolve(_ask_model)]) -> str:
    """Summarize a text with the client's own model."""
    return f"summary: {getattr(reply.content, 'text', reply.content)}"


def _roots() -> ListRoots:
    return ListRoots()


@app.tool()
async def workspace(roots: Annotated[mcp_types.ListRootsResult, Resolve(_roots)]) -> str:
    """The client's roots, one URI per line."""
    return "\n".join(str(r.uri) for r in roots.roots) or "no roots"


@app.tool()
async def crunch(steps: int, ctx: Context) -> str:
    """Work in steps, reporting progress and logging each one."""
    for i in range(1, steps + 1):
        await anyio.sleep(0.01)
        await ctx.report_progress(i, steps, f"step {i}")
        await ctx.log("info", f"finished step {i} of {steps}", logger_name="crunch")
    await ctx.log("debug", "a debug line below the default level")
    return f"crunched {steps} steps"


@app.resource("notes://readme", name="readme", description="How the notes are kept", mime_type="text/plain")
def readme() -> str:
    return "Notes are kept per city."


@app.resource("notes://city/{city}", name="city_note", description="The note kept for one city")
def city_note(city: str) -> str:
    return f"{city}: bring an umbrella."


@app.prompt(name="travel_agent", description="A system message for a travel agent")
def travel_agent(style: str = "brief") -> str:
    return f"You are a travel agent. Answer in a {style} way."


@app.prompt(name="plan_trip", description="A task: plan a trip")
def plan_trip(city: str, days: str = "2") -> str:
    return f"Plan a {days} day trip to {city}."


if __name__ == "__main__":
    if "--http" in sys.argv:
        port = int(sys.argv[sys.argv.index("--http") + 1])
        anyio.run(lambda: app.run_streamable_http_async(host="127.0.0.1", port=port))
    else:
        anyio.run(app.run_stdio_async)
