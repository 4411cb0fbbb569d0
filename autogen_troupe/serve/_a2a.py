"""Every served scenario as an A2A agent (Agent2Agent protocol, the official `a2a-sdk`).

GET  /a2a                                          the A2A agents served: name, URL, card URL
GET  /a2a/{scenario}/.well-known/agent-card.json   the scenario's agent card (no token needed: it says
                                                   how to authenticate, and holds no secret)
POST /a2a/{scenario}                               JSON-RPC: SendMessage / message/send,
                                                   SendStreamingMessage / message/stream, GetTask /
                                                   tasks/get, CancelTask / tasks/cancel, ... (A2A 1.0,
                                                   and 0.3's method names on the same URL)

The SDK's JSON-RPC dispatcher and request handler do the protocol; `TeamExecutor` runs the team through
the server's RunManager, so the rest of serve's rules hold here too (the guard's Host, Origin, token and
body checks run before this; events are masked; errors are one paragraph). The SDK is imported at the
first A2A request, so a server that is never asked over A2A does not load it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .._redact import redact_text
from ._http import offered_scenario, read_json

__all__ = ["CARD_PATH", "is_card_path", "routes"]

CARD_PATH = "/.well-known/agent-card.json"
_PREFIX = "/a2a/"


def is_card_path(path: str) -> bool:
    """An agent card's path, which the guard lets through without the token."""
    return path.startswith(_PREFIX) and path.endswith(CARD_PATH) and path.count("/") == 4


def _server(request: Request) -> Any:
    return request.app.state.troupe


def _agent_url(request: Request, name: str) -> str:
    return str(request.base_url).rstrip("/") + _PREFIX + name


def agent_card(offered: Any, url: str, *, token: bool) -> Any:
    """The scenario's card: its name and description, a skill per agent the team has (people left out),
    streaming, JSON-RPC 1.0 and 0.3 at `url`, and the bearer scheme when the server has a token."""
    from importlib.metadata import PackageNotFoundError, version

    from a2a.types.a2a_pb2 import (
        AgentCapabilities,
        AgentCard,
        AgentInterface,
        AgentSkill,
        HTTPAuthSecurityScheme,
        SecurityRequirement,
        SecurityScheme,
        StringList,
    )

    try:
        ours = version("autogen-troupe")
    except PackageNotFoundError:  # a source tree that is not installed
        ours = "0"
    sc = offered.scenario
    team = sc.team
    skills = [
        AgentSkill(
            id=a.name,
            name=a.name,
            description=redact_text(a.description),
            tags=[a.kind, team.kind],
        )
        for a in team.agents
        if a.kind != "user"
    ]
    people = [a.name for a in team.agents if a.kind == "user"]
    about = sc.description or f"The {sc.name} team ({team.kind}: {', '.join(a.name for a in team.agents)})."
    if people:
        about += f" It asks a person ({', '.join(people)}): the task then waits in input-required."
    if sc.mcp_servers:  # `approve: ask`, or a tool its server marks destructive
        about += (
            " A tool call may need the person's approval: the task waits in input-required for yes or no."
        )
    card = AgentCard(
        name=sc.name,
        description=redact_text(about),
        version=ours,
        supported_interfaces=[
            AgentInterface(url=url, protocol_binding="JSONRPC", protocol_version="1.0"),
            AgentInterface(url=url, protocol_binding="JSONRPC", protocol_version="0.3"),
        ],
        capabilities=AgentCapabilities(streaming=True),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=skills,
    )
    if token:
        card.security_schemes["bearer"].CopyFrom(
            SecurityScheme(
                http_auth_security_scheme=HTTPAuthSecurityScheme(
                    scheme="Bearer", description="The server's token (--token or TROUPE_SERVE_TOKEN)."
                )
            )
        )
        card.security_requirements.append(SecurityRequirement(schemes={"bearer": StringList()}))
    return card


class _Agents:
    """Each scenario's request handler and dispatcher, made at its first A2A request and kept."""

    def __init__(self) -> None:
        self.dispatchers: dict[str, Any] = {}
        self.handlers: list[Any] = []

    def dispatcher(self, request: Request, offered: Any) -> Any:
        got = self.dispatchers.get(offered.name)
        if got is None:
            from a2a.server.routes.jsonrpc_dispatcher import JsonRpcDispatcher
            from a2a.server.tasks import InMemoryTaskStore

            from ._a2a_executor import TeamExecutor, TeamRequestHandler

            server = _server(request)
            card = agent_card(
                offered, _agent_url(request, offered.name), token=server.config.token is not None
            )
            handler = TeamRequestHandler(
                agent_executor=TeamExecutor(server, offered.name),
                task_store=InMemoryTaskStore(),
                agent_card=card,
            )
            got = JsonRpcDispatcher(request_handler=handler, enable_v0_3_compat=True)
            self.handlers.append(handler)
            self.dispatchers[offered.name] = got
        return got

    async def aclose(self) -> None:
        for handler in self.handlers:
            await handler.aclose()


def agents_of(app: Any) -> _Agents:
    """The app's A2A agents (made on first use)."""
    agents = getattr(app.state, "a2a", None)
    if agents is None:
        agents = app.state.a2a = _Agents()
    return agents


async def listing(request: Request) -> JSONResponse:
    out = []
    for offered in _server(request).catalog:
        url = _agent_url(request, offered.name)
        out.append({"name": offered.name, "url": url, "card": url + CARD_PATH})
    return JSONResponse({"agents": out})


async def card(request: Request) -> Response:
    from a2a.server.request_handlers.response_helpers import agent_card_to_dict

    offered = offered_scenario(request, over=" over A2A")
    url = _agent_url(request, offered.name)
    made = agent_card(offered, url, token=_server(request).config.token is not None)
    return JSONResponse(agent_card_to_dict(made))


async def rpc(request: Request) -> Response:
    """One JSON-RPC request, read at the door as every JSON body is (JSON, nesting, valid text), then the
    SDK's dispatcher (the body is kept by the request, so it reads the same bytes)."""
    offered = offered_scenario(request, over=" over A2A")
    await read_json(request)
    dispatcher = agents_of(request.app).dispatcher(request, offered)
    response: Response = await dispatcher.handle_requests(request)
    return response


routes = [
    Route("/a2a", listing, methods=["GET"]),
    Route("/a2a/{name}" + CARD_PATH, card, methods=["GET"]),
    Route("/a2a/{name}", rpc, methods=["POST"]),
    Route("/a2a/{name}/", rpc, methods=["POST"]),
]
