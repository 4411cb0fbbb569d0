"""MCP servers shared by a run's agents, and each agent's filtered view as an AutoGen `Workbench`.

We cannot use autogen-ext's `McpWorkbench`: it does not import with the `mcp` 2.x SDK (see FACTS).
The MCP SDK (about 0.8 s to import) is imported only when a pool starts a server or a tool answers, so
a run without MCP servers never loads it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from autogen_core import CancellationToken, Image
from autogen_core.tools import (
    ImageResultContent,
    ParametersSchema,
    TextResultContent,
    ToolResult,
    ToolSchema,
    Workbench,
)
from typing_extensions import Self

from .._redact import redact_text
from ..errors import ToolCallError
from ..scenario._schema import HttpServer, McpPrompt, McpUse, StdioServer
from ._mcp_client import CALL_ID, CALLER, McpClientOptions
from ._mcp_resources import READ_RESOURCE
from ._narrowing import argument_problems, narrowed, refusal

if TYPE_CHECKING:
    import mcp_types

    from ._mcp_session import ServerHandle

__all__ = ["McpServerPool", "McpWorkbench"]

logger = logging.getLogger(__name__)


class McpServerPool:
    """The run's MCP servers: one process (or HTTP link) per server, shared by every agent naming it.

    Use as an async context manager. Entering starts every server at once and lists its tools (bounded by
    each server's `startup_timeout_s`); leaving closes every session and makes sure every child process is
    gone, also when the run is cancelled.
    """

    def __init__(
        self,
        servers: Mapping[str, StdioServer | HttpServer],
        options: Mapping[str, McpClientOptions] | None = None,
    ) -> None:
        """`options` says, per server name, how questions, sampling, roots and notes are handled (default:
        questions declined, no sampling, no roots, notes dropped)."""
        self._servers = dict(servers)
        self._options = dict(options or {})
        self._handles: dict[str, ServerHandle] = {}
        self._pids: list[int] = []
        self._open = False

    @property
    def child_pids(self) -> tuple[int, ...]:
        """Every process id this pool started, restarts included (for checks that none is left)."""
        return tuple(self._pids)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Start every server concurrently; raises ToolCallError naming each one that failed."""
        if self._open or self._handles:
            raise RuntimeError("McpServerPool is already started")
        if not self._servers:
            self._open = True
            return
        from ._mcp_session import ServerHandle

        self._handles = {
            name: ServerHandle(name, s, self._pids.append, self._options.get(name))
            for name, s in self._servers.items()
        }
        try:
            results = await asyncio.gather(
                *(h.open() for h in self._handles.values()), return_exceptions=True
            )
        except BaseException:
            await self.aclose()
            raise
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            await self.aclose()
            other = [f for f in failures if not isinstance(f, ToolCallError)]
            if other:
                raise other[0]
            if len(failures) == 1:
                raise failures[0]
            raise ToolCallError("\n\n".join(str(f) for f in failures))
        self._open = True

    async def aclose(self) -> None:
        """Close every session and stop every child; safe to call twice."""
        self._open = False
        handles, self._handles = list(self._handles.values()), {}
        try:
            await asyncio.shield(asyncio.gather(*(h.close() for h in handles), return_exceptions=True))
        finally:
            for h in handles:  # an orderly close that was cut short leaves no survivors either
                h.kill_now()

    # ---------------------------------------------------------------- agents' views

    def _handle(self, server: str) -> ServerHandle:
        if server not in self._handles:
            state = "known servers: " + (", ".join(sorted(self._handles)) or "none")
            if not self._open:
                state = "the pool is not started"
            raise ToolCallError(f"no MCP server named {server!r} in this run ({state})")
        return self._handles[server]

    def server_tools(self, server: str) -> list[str]:
        """The tool names the server itself offers, in its order."""
        return [t.name for t in self._handle(server).tools]

    def _offered(self, use: McpUse) -> list[str]:
        """The server's tools, and `read_resource` when the agent may read its resources."""
        return self.server_tools(use.server) + ([READ_RESOURCE] if use.resources else [])

    def problems(self, use: McpUse) -> list[str]:
        """Mistakes in an agent's allow/deny/rename for this server, as sentences (empty when fine)."""
        offered = self._offered(use)
        out: list[str] = []
        handle = self._handle(use.server)
        catalogue = handle.catalogue
        if use.resources and not (catalogue.resources or catalogue.templates):
            out.append(f"resources: true, but MCP server {use.server!r} lists no resources or templates")
        by_server = handle.server.approve
        approve = tuple(n for p in (use.approve, by_server) if isinstance(p, dict) for n in p)
        checks = (
            ("allow", use.allow or ()),
            ("deny", use.deny),
            ("rename", tuple(use.rename)),
            ("approve", approve),
        )
        for key, names in checks:
            for n in names:
                if n not in offered:
                    out.append(
                        f"{key} names tool {n!r}, which MCP server {use.server!r} does not offer "
                        f"(it offers: {', '.join(offered) or 'no tools'})"
                    )
        if rules := handle.server.arguments:
            schemas = {t.name: dict(_parameters(t.input_schema)) for t in handle.tools}
            out += argument_problems(use.server, schemas, rules)
        seen: dict[str, str] = {}
        for original, shown in _visible(use, offered):
            if shown in seen:
                out.append(
                    f"tools {seen[shown]!r} and {original!r} of MCP server {use.server!r} would both be "
                    f"called {shown!r}"
                )
            seen[shown] = original
        return out

    def tool_names(self, use: McpUse) -> list[str]:
        """The names an agent with this `use` sees, to check for clashes across its servers and tools."""
        return [shown for _, shown in _visible(use, self._offered(use))]

    def workbench(self, use: McpUse, agent: str | None = None) -> McpWorkbench:
        """An agent's view of one server; raises ToolCallError if `problems(use)` finds any."""
        issues = self.problems(use)
        if issues:
            raise ToolCallError(f"MCP server {use.server!r}: " + "; ".join(issues))
        return McpWorkbench(self, use, agent=agent)

    async def prompt(self, ref: McpPrompt) -> str:
        """The text of a server's prompt (a system message or the task); raises ToolCallError."""
        from ._mcp_resources import prompt_text

        handle = self._handle(ref.server)
        offered = [p.name for p in handle.catalogue.prompts]
        if ref.name not in offered:
            raise ToolCallError(
                f"MCP server {ref.server!r} has no prompt {ref.name!r} "
                f"(it offers: {', '.join(offered) or 'no prompts'})"
            )
        result = await handle.get_prompt(ref.name, dict(ref.arguments), handle.server.call_timeout_s)
        return prompt_text(result)

    def _is_open(self) -> bool:
        return self._open


def _visible(use: McpUse, offered: list[str]) -> list[tuple[str, str]]:
    """(server name, name shown to the agent) for each tool the agent may use."""
    return [
        (n, use.rename.get(n, n))
        for n in offered
        if (use.allow is None or n in use.allow) and n not in use.deny
    ]


def _parameters(schema: dict[str, Any]) -> ParametersSchema:
    """The tool's input schema as AutoGen wants it: an object schema with `$ref`s inlined."""
    if "$defs" in schema or "definitions" in schema:
        import jsonref

        try:
            schema = jsonref.replace_refs(schema, proxies=False, lazy_load=False)
        except Exception:  # an unresolvable $ref: leave it for the model to cope with
            logger.debug("could not inline $refs of a tool schema", exc_info=True)
        schema = {k: v for k, v in schema.items() if k not in ("$defs", "definitions")}
    params = ParametersSchema(
        type="object",
        properties=dict(schema.get("properties") or {}),
        required=list(schema.get("required") or []),
        additionalProperties=bool(schema.get("additionalProperties", False)),
    )
    return params


def _content(block: Any) -> TextResultContent | ImageResultContent:
    import mcp_types

    if isinstance(block, mcp_types.TextContent):
        return TextResultContent(content=block.text)
    if isinstance(block, mcp_types.ImageContent):
        return ImageResultContent(content=Image.from_base64(block.data))
    if isinstance(block, mcp_types.EmbeddedResource):
        text = getattr(block.resource, "text", None)
        if isinstance(text, str):
            return TextResultContent(content=text)
    if isinstance(block, mcp_types.ResourceLink):
        return TextResultContent(content=f"[resource {block.name}: {block.uri}]")
    if isinstance(block, mcp_types.AudioContent):
        return TextResultContent(content=f"[audio {block.mime_type}, not shown]")
    return TextResultContent(content=block.model_dump_json(by_alias=True, exclude_none=True))


def _to_tool_result(name: str, result: mcp_types.CallToolResult) -> ToolResult:
    """The server's answer as the model will read it, with every secret masked (a server may echo its
    token, or its error may quote a credential)."""
    parts = [_content(b) for b in result.content]
    if not parts and result.structured_content is not None:
        parts = [TextResultContent(content=json.dumps(result.structured_content, ensure_ascii=False))]
    parts = [
        TextResultContent(content=redact_text(p.content)) if isinstance(p, TextResultContent) else p
        for p in parts
    ]
    return ToolResult(name=name, result=parts, is_error=bool(result.is_error))


def _error(name: str, message: str) -> ToolResult:
    return ToolResult(name=name, result=[TextResultContent(content=redact_text(message))], is_error=True)


class McpWorkbench(Workbench):
    """An agent's view of a pooled MCP server: allow/deny/rename applied, a call timeout, errors as results.

    The pool owns the server: `start`/`stop` here neither start nor stop it. Failures the model can act on
    (tool errors, timeouts, unknown tool names, a crashed server) come back as `ToolResult(is_error=True)`.
    """

    def __init__(self, pool: McpServerPool, use: McpUse, *, agent: str | None = None) -> None:
        self._pool = pool
        self._use = use
        self._agent = agent
        self._handle = pool._handle(use.server)
        self._timeout_s = use.call_timeout_s or self._handle.server.call_timeout_s

    @property
    def server(self) -> str:
        return self._use.server

    def _names(self) -> dict[str, str]:
        """Shown name -> server name, for the tools the server lists now."""
        return {shown: orig for orig, shown in _visible(self._use, self._offered())}

    def idempotent(self, shown: str) -> bool:
        """Whether the server marks its tool (by the name the agent sees) read-only or idempotent."""
        original = self._names().get(shown, shown)
        tool = next((t for t in self._handle.tools if t.name == original), None)
        hints = tool.annotations if tool is not None else None
        return bool(hints is not None and (hints.read_only_hint or hints.idempotent_hint))

    def _offered(self) -> list[str]:
        return [t.name for t in self._handle.tools] + ([READ_RESOURCE] if self._use.resources else [])

    def _reads(self, original: str) -> bool:
        """Whether a call of the server's tool `original` is our read_resource tool."""
        return self._use.resources and original == READ_RESOURCE

    async def list_tools(self) -> list[ToolSchema]:
        from ._mcp_resources import read_resource_schema

        tools = {t.name: (t.description or "", t.input_schema) for t in self._handle.tools}
        if self._use.resources:
            tools[READ_RESOURCE] = read_resource_schema(self.server, self._handle.catalogue)
        rules = self._handle.server.arguments
        return [
            ToolSchema(
                name=shown,
                description=tools[orig][0],
                parameters=narrowed(_parameters(tools[orig][1]), rules.get(orig, {})),
            )
            for orig, shown in _visible(self._use, list(tools))
        ]

    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        cancellation_token: CancellationToken | None = None,
        call_id: str | None = None,
    ) -> ToolResult:
        names = self._names()
        if name not in names:
            offered = ", ".join(names) or "none"
            return _error(name, f"Tool {name!r} is not available here; the tools are: {offered}.")
        given = dict(arguments or {})
        refused = refusal(name, given, self._handle.server.arguments.get(names[name], {}))
        if refused is None:
            refused = await self._approve(name, names[name], given, call_id)
        if refused is not None:
            return _error(name, refused)
        # The task below inherits these: sampling answers with this agent's model, notes go with the call.
        caller, call = CALLER.set(self._agent), CALL_ID.set(call_id)
        try:
            running = asyncio.ensure_future(self._call(names[name], given))
        finally:
            CALLER.reset(caller)
            CALL_ID.reset(call)
        if cancellation_token is not None:
            cancellation_token.link_future(running)
        try:
            result = await running
        except ToolCallError as exc:
            return _error(name, str(exc))
        except Exception as exc:  # the model reads what went wrong instead of the run failing
            logger.debug("MCP tool %r failed", name, exc_info=True)
            return _error(name, f"Tool {name!r} failed: {type(exc).__name__}: {exc}")
        if isinstance(result, str):
            return ToolResult(name=name, result=[TextResultContent(content=redact_text(result))])
        return _to_tool_result(name, result)

    async def _approve(
        self, shown: str, original: str, arguments: dict[str, Any], call_id: str | None
    ) -> str | None:
        """None when the call may run (`approve:`, see `_approvals`); else why not, for the model."""
        from ._approvals import ToolApproval, approval_for, decide

        tool = next((t for t in self._handle.tools if t.name == original), None)
        hints = tool.annotations if tool is not None else None
        policy = approval_for(
            original,
            agent=self._use.approve,
            server=self._handle.server.approve,
            destructive=bool(hints is not None and hints.destructive_hint is True),
        )
        if policy == "allow":
            return None
        options = self._pool._options.get(self.server)
        call = ToolApproval(self.server, shown, arguments, self._agent)

        def note(text: str, data: dict[str, Any]) -> None:
            if options is not None:
                details = {"tool": shown, "arguments": arguments, "policy": policy, **data}
                options.note("approval", text, details, tool=shown, caller=(self._agent, call_id))

        return await decide(call, policy, options.confirm if options is not None else None, note)

    async def _call(self, original: str, arguments: dict[str, Any]) -> mcp_types.CallToolResult | str:
        if not self._reads(original):
            return await self._handle.call_tool(original, arguments, self._timeout_s)
        from ._mcp_resources import resource_text

        uri = arguments.get("uri")
        if not isinstance(uri, str) or not uri:
            raise ToolCallError(f"{READ_RESOURCE} needs a 'uri' (a string), got {uri!r}.")
        return resource_text(await self._handle.read_resource(uri, self._timeout_s))

    async def start(self) -> None:
        """Nothing to start: the pool started the server. Fails if the pool is not open."""
        if not self._pool._is_open():
            raise ToolCallError(f"MCP server {self.server!r} is not running: its pool is not open")

    async def stop(self) -> None:
        """Nothing to stop: other agents may share the server, and the pool stops it at the end of the run."""

    async def reset(self) -> None:
        """MCP sessions keep no per-agent state for us to reset."""

    async def save_state(self) -> Mapping[str, Any]:
        return {"type": "TroupeMcpWorkbenchState", "server": self.server}

    async def load_state(self, state: Mapping[str, Any]) -> None:
        """Nothing to load: the state holds no more than the server's name."""
