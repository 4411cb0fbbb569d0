"""`troupe mcp ...`: look into one MCP server, as a person debugging it would (and as the official
conformance suite drives our client). Thin: the work is in the tools room (`tools/_mcp_inspect.py`).

SERVER is a URL (streamable HTTP), a command (`"python -m mcp_server_time"`, stdio), or
`scenario.yaml:name` (a server of a scenario, with its settings and `auth:`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .._text import safe_text, terminal_safe
from ..errors import UsageError
from .console import err, out, safe
from .errors import BadInput
from .options import Access, ElicitOpt, JsonOpt, ServerArg

if TYPE_CHECKING:
    from mcp import Client

    from ..tools import ServerHandle, Target

__all__ = ["call", "login", "logout", "prompts", "resources", "tools"]


def _target(server: str, access: Access) -> Target:
    from ..tools import Target, auth_from_options, resolve_target

    target = auth_from_options(resolve_target(server), access.auth(), access.headers())
    if access.startup_timeout is None:
        return target
    server_settings = target.server.model_copy(update={"startup_timeout_s": access.startup_timeout})
    return Target(target.name, server_settings, target.source)


def _session(
    server: str,
    access: Access,
    work: Callable[[ServerHandle, Client], Awaitable[Any]],
    *,
    elicitation: str | None = None,
) -> Any:
    """Open SERVER as `access` says, run `work` on it, close it (errors and stops end the command as
    every command's do)."""
    from ..runtime import run_async
    from ..tools import ELICITATION_POLICIES, LoginUI, McpClientOptions, open_server, terminal_ask

    if elicitation is not None and elicitation not in ELICITATION_POLICIES:
        raise UsageError(f"--elicitation {elicitation!r}: choose one of {', '.join(ELICITATION_POLICIES)}")
    target = _target(server, access)
    options = McpClientOptions(
        server=target.name,
        elicitation=elicitation,  # type: ignore[arg-type]
        ask=terminal_ask(),
        on_note=_print_note,
    )
    login = LoginUI(
        open_browser=not access.no_browser, tell=lambda t: err.print(terminal_safe(t), markup=False)
    )

    async def main() -> Any:
        async with open_server(target, login=login, options=options) as (handle, client):
            return await work(handle, client)

    return run_async(main())


def _print_note(note: Any) -> None:
    """A server's note (log line, progress, question asked) on stderr, dim label first, shown as text."""
    from rich.text import Text

    err.print(Text.assemble((f"{note.kind}:", "dim"), " ", safe_text(note.text)), highlight=False)


def _row(*cells: str) -> list[Any]:
    """A table row of a server's text (names, descriptions, URIs): shown as text, never as markup."""
    return [safe_text(c) for c in cells]


def _dump(value: Any) -> None:
    from .._redact import redact_data

    typer.echo(json.dumps(redact_data(value), indent=2, ensure_ascii=False))


def _jsonable(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


# --------------------------------------------------------------------------- commands


def tools(
    server: ServerArg,
    as_json: JsonOpt = False,
    elicitation: ElicitOpt = None,
    *,
    access: Access,
) -> None:
    """List the tools SERVER offers."""

    async def work(handle: ServerHandle, client: Client) -> Any:
        return list(handle.tools)

    found = _session(server, access, work, elicitation=elicitation)
    if as_json:
        _dump([_jsonable(t) for t in found])
        return
    from rich.table import Table

    table = Table("tool", "arguments (* required)", "description")
    for t in found:
        props = (t.input_schema or {}).get("properties") or {}
        required = set((t.input_schema or {}).get("required") or ())
        args = ", ".join(f"{n}{'*' if n in required else ''}" for n in props)
        table.add_row(*_row(t.name, args, (t.description or "").strip().split("\n")[0]))
    out.print(table)


def call(
    server: ServerArg,
    tool: Annotated[str, typer.Argument(help="The tool's name.")],
    args: Annotated[str, typer.Option("--args", help="The arguments as a JSON object.")] = "{}",
    as_json: JsonOpt = False,
    elicitation: ElicitOpt = None,
    *,
    access: Access,
) -> None:
    """Call TOOL of SERVER with --args and print its result (exit 1 if the tool reports an error)."""
    try:
        arguments = json.loads(args)
    except ValueError as e:
        raise BadInput(f"--args is not JSON: {e}") from None
    if not isinstance(arguments, dict):
        raise BadInput('--args must be a JSON object, e.g. \'{"city": "Paris"}\'')

    async def work(handle: ServerHandle, client: Client) -> Any:
        from ..tools import progress_callback

        progress: Any = progress_callback(handle.options, tool)
        timeout = handle.server.call_timeout_s
        return await client.call_tool(
            tool, arguments, read_timeout_seconds=timeout, progress_callback=progress
        )

    result = _session(server, access, work, elicitation=elicitation)
    if as_json:
        _dump(_jsonable(result))
    else:
        _print_blocks(result.content)
        if result.structured_content is not None and not result.content:
            out.print(safe(json.dumps(result.structured_content, indent=2, ensure_ascii=False)), markup=False)
    if result.is_error:
        raise typer.Exit(1)


def _print_blocks(blocks: list[Any]) -> None:
    for block in blocks:
        text = getattr(block, "text", None)
        if isinstance(text, str):
            out.print(safe(text), markup=False, highlight=False)
        elif getattr(block, "type", "") == "resource" and isinstance(
            getattr(block.resource, "text", None), str
        ):
            out.print(safe(f"[resource {block.resource.uri}]\n{block.resource.text}"), markup=False)
        else:
            kind = getattr(block, "type", "content")
            mime = getattr(block, "mime_type", None) or getattr(block, "uri", "")
            out.print(safe(f"[{kind} {mime}]"), markup=False, highlight=False)


def resources(
    server: ServerArg,
    read: Annotated[str | None, typer.Option("--read", metavar="URI", help="Print this resource.")] = None,
    as_json: JsonOpt = False,
    elicitation: ElicitOpt = None,
    *,
    access: Access,
) -> None:
    """List SERVER's resources and resource templates, or print one with --read URI."""

    async def work(handle: ServerHandle, client: Client) -> Any:
        if read is not None:
            return await client.read_resource(read)
        listed = await client.list_resources() if _offers(client, "resources") else None
        templates = await client.list_resource_templates() if listed is not None else None
        return listed, templates

    found = _session(server, access, work, elicitation=elicitation)
    if read is not None:
        if as_json:
            _dump(_jsonable(found))
            return
        for c in found.contents:
            text = getattr(c, "text", None)
            shown = text if isinstance(text, str) else f"[{c.mime_type or 'binary'} {c.uri}]"
            out.print(safe(shown), markup=False, highlight=False)
        return
    listed, templates = found
    if as_json:
        _dump(
            {
                "resources": [_jsonable(r) for r in (listed.resources if listed else [])],
                "resource_templates": [
                    _jsonable(t) for t in (templates.resource_templates if templates else [])
                ],
            }
        )
        return
    if listed is None or not (listed.resources or (templates and templates.resource_templates)):
        out.print("This server offers no resources.", markup=False)
        return
    from rich.table import Table

    table = Table("uri", "name", "type", "description")
    for r in listed.resources:
        table.add_row(*_row(str(r.uri), r.name, r.mime_type or "", (r.description or "").split("\n")[0]))
    for t in templates.resource_templates if templates else []:
        table.add_row(*_row(t.uri_template, t.name, t.mime_type or "", "(template) " + (t.description or "")))
    out.print(table)


def _offers(client: Client, what: str) -> bool:
    caps = client.server_capabilities
    return caps is not None and getattr(caps, what, None) is not None


def prompts(
    server: ServerArg,
    get: Annotated[str | None, typer.Option("--get", metavar="NAME", help="Print this prompt.")] = None,
    args: Annotated[str, typer.Option("--args", help="With --get: its arguments as a JSON object.")] = "{}",
    as_json: JsonOpt = False,
    elicitation: ElicitOpt = None,
    *,
    access: Access,
) -> None:
    """List SERVER's prompts, or print one with --get NAME --args JSON."""
    try:
        arguments = {str(k): str(v) for k, v in json.loads(args).items()}
    except (ValueError, AttributeError):
        raise BadInput('--args must be a JSON object of strings, e.g. \'{"city": "Paris"}\'') from None

    async def work(handle: ServerHandle, client: Client) -> Any:
        if get is not None:
            return await client.get_prompt(get, arguments)
        return await client.list_prompts() if _offers(client, "prompts") else None

    found = _session(server, access, work, elicitation=elicitation)
    if get is not None:
        if as_json:
            _dump(_jsonable(found))
            return
        for m in found.messages:
            out.rule(safe_text(m.role), align="left")
            _print_blocks([m.content])
        return
    if as_json:
        _dump([_jsonable(p) for p in (found.prompts if found else [])])
        return
    if found is None or not found.prompts:
        out.print("This server offers no prompts.", markup=False)
        return
    from rich.table import Table

    table = Table("prompt", "arguments (* required)", "description")
    for p in found.prompts:
        names = ", ".join(f"{a.name}{'*' if a.required else ''}" for a in p.arguments or [])
        table.add_row(*_row(p.name, names, (p.description or "").split("\n")[0]))
    out.print(table)


def login(
    server: ServerArg,
    force: Annotated[bool, typer.Option("--force", help="Log in again even if a login is stored.")] = False,
    as_json: JsonOpt = False,
    *,
    access: Access,
) -> None:
    """Log in to an HTTP SERVER (OAuth) and store its tokens for later runs; opens the browser if needed."""
    from ..tools import TokenFile

    target = _target(server, access)
    if target.url is None:
        raise UsageError("only HTTP servers (a URL) use a login; a command's server needs none")
    tokens = TokenFile(target.url)
    if force:
        tokens.forget_tokens()

    async def work(handle: ServerHandle, client: Client) -> Any:
        return None

    _session(server, access, work)
    summary = TokenFile(target.url).summary()
    if as_json:
        _dump(summary)
    elif summary["logged_in"]:
        out.print(
            f"Logged in to {target.url}; tokens stored in {summary['file']}", markup=False, soft_wrap=True
        )
    else:
        out.print(f"{target.url} asked for no login; nothing stored.", markup=False)


def logout(server: ServerArg) -> None:
    """Forget the stored tokens and client registration of an HTTP SERVER."""
    from ..tools import TokenFile, resolve_target

    target = resolve_target(server)
    if target.url is None:
        raise UsageError("only HTTP servers (a URL) use a login")
    gone = TokenFile(target.url).forget()
    out.print(f"{'Forgot the login of' if gone else 'No login stored for'} {target.url}", markup=False)
