"""`troupe mcp ...`: look into one MCP server, as a person debugging it would (and as the official
conformance suite drives our client). Thin like `cli.py`: the work is in `tools/_mcp_inspect.py`.

SERVER is a URL (streamable HTTP), a command (`"python -m mcp_server_time"`, stdio), or
`scenario.yaml:name` (a server of a scenario, with its settings and `auth:`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._cli_common import App, _fail, _safe, err, out
from ._text import safe_text, terminal_safe
from .errors import TroupeError, UsageError
from .runtime._signals import exit_code, run_async

if TYPE_CHECKING:
    from mcp import Client

    from .tools._mcp_inspect import Target
    from .tools._mcp_session import ServerHandle

__all__ = ["mcp_app"]

mcp_app = App(
    help="Inspect one MCP server: its tools, resources and prompts; call a tool; log in (OAuth).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

ServerArg = Annotated[str, typer.Argument(help="A URL, a command (quoted), or scenario.yaml:name.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout (for programs).")]
ElicitOpt = Annotated[
    str | None,
    typer.Option(
        "--elicitation",
        metavar="POLICY",
        help="Answer the server's questions: ask (default on a terminal), decline, accept_defaults.",
    ),
]
StartupOpt = Annotated[
    float | None,
    typer.Option(
        "--startup-timeout",
        metavar="SECONDS",
        min=0.1,
        help="Give up when the server has not started and answered within this many seconds "
        "(default: its startup_timeout_s, 30; a person's OAuth login does not count).",
    ),
]
NoBrowserOpt = Annotated[
    bool, typer.Option("--no-browser", help="Print the login address instead of opening a browser.")
]
HeaderOpt = Annotated[
    list[str] | None, typer.Option("--header", "-H", help="An HTTP header 'Name: value' (repeatable).")
]
ClientIdOpt = Annotated[str | None, typer.Option("--client-id", help="A client registered beforehand.")]
SecretOpt = Annotated[
    str | None,
    typer.Option(
        "--client-secret", envvar="TROUPE_MCP_CLIENT_SECRET", help="Its secret (better: the env var)."
    ),
]
GrantOpt = Annotated[
    str | None,
    typer.Option("--grant", help="authorization_code (a person) or client_credentials (a machine)."),
]
ScopeOpt = Annotated[str | None, typer.Option("--scope", help="Space-separated scopes to ask for.")]
KeyOpt = Annotated[
    str | None, typer.Option("--private-key", help="PEM key for private_key_jwt (client_credentials).")
]
MethodOpt = Annotated[
    str | None,
    typer.Option(
        "--token-endpoint-auth", help="client_secret_basic, client_secret_post, none or private_key_jwt."
    ),
]
CimdOpt = Annotated[
    str | None, typer.Option("--client-metadata-url", help="https URL of this client's metadata document.")
]
PortOpt = Annotated[int | None, typer.Option("--redirect-port", help="Loopback port for the login redirect.")]
AuthSetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--auth",
        metavar="KEY=VALUE",
        help="Any other key of an auth: block, e.g. issuer=https://login.example.com (repeatable).",
    ),
]


# Each command's parameter -> the `auth:` key it sets.
_AUTH_KEYS = {
    "client_id": "client_id",
    "client_secret": "client_secret",
    "grant": "grant",
    "scope": "scope",
    "private_key": "private_key_file",
    "token_endpoint_auth": "token_endpoint_auth",
    "client_metadata_url": "client_metadata_url",
    "redirect_port": "redirect_port",
}


@dataclass(frozen=True)
class _Common:
    """The options every `troupe mcp` command shares, read once from the command's parameters by name."""

    as_json: bool
    elicitation: str | None
    no_browser: bool
    headers: list[str]
    auth: dict[str, Any]
    startup_timeout_s: float | None = None

    @classmethod
    def of(cls, params: dict[str, Any]) -> _Common:
        auth: dict[str, Any] = {}
        for item in params.get("auth_setting") or []:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise typer.BadParameter(f"{item!r}: write it as KEY=VALUE", param_hint="--auth")
            auth[key.strip()] = value
        auth |= {key: params[name] for name, key in _AUTH_KEYS.items() if params.get(name) is not None}
        return cls(
            params.get("as_json", False),
            params.get("elicitation"),
            params.get("no_browser", False),
            params.get("header") or [],
            auth,
            params.get("startup_timeout"),
        )


def _headers(given: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for h in given:
        name, sep, value = h.partition(":")
        if not sep or not name.strip():
            raise UsageError(f"--header {h!r}: write it as 'Name: value'")
        pairs[name.strip()] = value.strip()
    return pairs


def _target(server: str, common: _Common) -> Target:
    from .tools._mcp_inspect import Target, auth_from_options, resolve_target

    target = auth_from_options(resolve_target(server), common.auth, _headers(common.headers))
    if common.startup_timeout_s is None:
        return target
    server_settings = target.server.model_copy(update={"startup_timeout_s": common.startup_timeout_s})
    return Target(target.name, server_settings, target.source)


def _session(
    server: str,
    common: _Common,
    work: Callable[[ServerHandle, Client], Awaitable[Any]],
) -> Any:
    """Open SERVER as `common` says, run `work` on it, close it; errors become messages and exit codes."""
    from .tools._mcp_auth import LoginUI
    from .tools._mcp_client import ELICITATION_POLICIES, McpClientOptions, terminal_ask
    from .tools._mcp_inspect import open_server

    try:
        if common.elicitation is not None and common.elicitation not in ELICITATION_POLICIES:
            raise UsageError(
                f"--elicitation {common.elicitation!r}: choose one of {', '.join(ELICITATION_POLICIES)}"
            )
        target = _target(server, common)
        options = McpClientOptions(
            server=target.name,
            elicitation=common.elicitation,  # type: ignore[arg-type]
            ask=terminal_ask(),
            on_note=_print_note,
        )
        login = LoginUI(
            open_browser=not common.no_browser, tell=lambda t: err.print(terminal_safe(t), markup=False)
        )

        async def main() -> Any:
            async with open_server(target, login=login, options=options) as (handle, client):
                return await work(handle, client)

        return run_async(main())
    except KeyboardInterrupt as e:
        err.print("Interrupted", markup=False)
        raise typer.Exit(exit_code(e)) from None
    except TroupeError as e:
        _fail(e)


def _print_note(note: Any) -> None:
    """A server's note (log line, progress, question asked) on stderr, dim label first, shown as text."""
    from rich.text import Text

    err.print(Text.assemble((f"{note.kind}:", "dim"), " ", safe_text(note.text)), highlight=False)


def _row(*cells: str) -> list[Any]:
    """A table row of a server's text (names, descriptions, URIs): shown as text, never as markup."""
    return [safe_text(c) for c in cells]


def _dump(value: Any) -> None:
    from ._redact import redact_data

    typer.echo(json.dumps(redact_data(value), indent=2, ensure_ascii=False))


def _jsonable(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


# --------------------------------------------------------------------------- commands


@mcp_app.command()
def tools(
    server: ServerArg,
    as_json: JsonOpt = False,
    elicitation: ElicitOpt = None,
    no_browser: NoBrowserOpt = False,
    startup_timeout: StartupOpt = None,
    header: HeaderOpt = None,
    client_id: ClientIdOpt = None,
    client_secret: SecretOpt = None,
    grant: GrantOpt = None,
    scope: ScopeOpt = None,
    private_key: KeyOpt = None,
    token_endpoint_auth: MethodOpt = None,
    client_metadata_url: CimdOpt = None,
    redirect_port: PortOpt = None,
    auth_setting: AuthSetOpt = None,
) -> None:
    """List the tools SERVER offers."""
    common = _Common.of(locals())

    async def work(handle: ServerHandle, client: Client) -> Any:
        return list(handle.tools)

    found = _session(server, common, work)
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


@mcp_app.command()
def call(
    server: ServerArg,
    tool: Annotated[str, typer.Argument(help="The tool's name.")],
    args: Annotated[str, typer.Option("--args", help="The arguments as a JSON object.")] = "{}",
    as_json: JsonOpt = False,
    elicitation: ElicitOpt = None,
    no_browser: NoBrowserOpt = False,
    startup_timeout: StartupOpt = None,
    header: HeaderOpt = None,
    client_id: ClientIdOpt = None,
    client_secret: SecretOpt = None,
    grant: GrantOpt = None,
    scope: ScopeOpt = None,
    private_key: KeyOpt = None,
    token_endpoint_auth: MethodOpt = None,
    client_metadata_url: CimdOpt = None,
    redirect_port: PortOpt = None,
    auth_setting: AuthSetOpt = None,
) -> None:
    """Call TOOL of SERVER with --args and print its result (exit 1 if the tool reports an error)."""
    try:
        arguments = json.loads(args)
    except ValueError as e:
        err.print(f"--args is not JSON: {e}", markup=False)
        raise typer.Exit(2) from None
    if not isinstance(arguments, dict):
        err.print('--args must be a JSON object, e.g. \'{"city": "Paris"}\'', markup=False)
        raise typer.Exit(2)
    common = _Common.of(locals())

    async def work(handle: ServerHandle, client: Client) -> Any:
        from .tools._mcp_client import progress_callback

        progress: Any = progress_callback(handle.options, tool)
        timeout = handle.server.call_timeout_s
        return await client.call_tool(
            tool, arguments, read_timeout_seconds=timeout, progress_callback=progress
        )

    result = _session(server, common, work)
    if as_json:
        _dump(_jsonable(result))
    else:
        _print_blocks(result.content)
        if result.structured_content is not None and not result.content:
            out.print(
                _safe(json.dumps(result.structured_content, indent=2, ensure_ascii=False)), markup=False
            )
    if result.is_error:
        raise typer.Exit(1)


def _print_blocks(blocks: list[Any]) -> None:
    for block in blocks:
        text = getattr(block, "text", None)
        if isinstance(text, str):
            out.print(_safe(text), markup=False, highlight=False)
        elif getattr(block, "type", "") == "resource" and isinstance(
            getattr(block.resource, "text", None), str
        ):
            out.print(_safe(f"[resource {block.resource.uri}]\n{block.resource.text}"), markup=False)
        else:
            kind = getattr(block, "type", "content")
            mime = getattr(block, "mime_type", None) or getattr(block, "uri", "")
            out.print(_safe(f"[{kind} {mime}]"), markup=False, highlight=False)


@mcp_app.command()
def resources(
    server: ServerArg,
    read: Annotated[str | None, typer.Option("--read", metavar="URI", help="Print this resource.")] = None,
    as_json: JsonOpt = False,
    elicitation: ElicitOpt = None,
    no_browser: NoBrowserOpt = False,
    startup_timeout: StartupOpt = None,
    header: HeaderOpt = None,
    client_id: ClientIdOpt = None,
    client_secret: SecretOpt = None,
    grant: GrantOpt = None,
    scope: ScopeOpt = None,
    private_key: KeyOpt = None,
    token_endpoint_auth: MethodOpt = None,
    client_metadata_url: CimdOpt = None,
    redirect_port: PortOpt = None,
    auth_setting: AuthSetOpt = None,
) -> None:
    """List SERVER's resources and resource templates, or print one with --read URI."""
    common = _Common.of(locals())

    async def work(handle: ServerHandle, client: Client) -> Any:
        if read is not None:
            return await client.read_resource(read)
        listed = await client.list_resources() if _offers(client, "resources") else None
        templates = await client.list_resource_templates() if listed is not None else None
        return listed, templates

    found = _session(server, common, work)
    if read is not None:
        if as_json:
            _dump(_jsonable(found))
            return
        for c in found.contents:
            text = getattr(c, "text", None)
            shown = text if isinstance(text, str) else f"[{c.mime_type or 'binary'} {c.uri}]"
            out.print(_safe(shown), markup=False, highlight=False)
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


@mcp_app.command()
def prompts(
    server: ServerArg,
    get: Annotated[str | None, typer.Option("--get", metavar="NAME", help="Print this prompt.")] = None,
    args: Annotated[str, typer.Option("--args", help="With --get: its arguments as a JSON object.")] = "{}",
    as_json: JsonOpt = False,
    elicitation: ElicitOpt = None,
    no_browser: NoBrowserOpt = False,
    startup_timeout: StartupOpt = None,
    header: HeaderOpt = None,
    client_id: ClientIdOpt = None,
    client_secret: SecretOpt = None,
    grant: GrantOpt = None,
    scope: ScopeOpt = None,
    private_key: KeyOpt = None,
    token_endpoint_auth: MethodOpt = None,
    client_metadata_url: CimdOpt = None,
    redirect_port: PortOpt = None,
    auth_setting: AuthSetOpt = None,
) -> None:
    """List SERVER's prompts, or print one with --get NAME --args JSON."""
    try:
        arguments = {str(k): str(v) for k, v in json.loads(args).items()}
    except (ValueError, AttributeError):
        err.print('--args must be a JSON object of strings, e.g. \'{"city": "Paris"}\'', markup=False)
        raise typer.Exit(2) from None
    common = _Common.of(locals())

    async def work(handle: ServerHandle, client: Client) -> Any:
        if get is not None:
            return await client.get_prompt(get, arguments)
        return await client.list_prompts() if _offers(client, "prompts") else None

    found = _session(server, common, work)
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


@mcp_app.command()
def login(
    server: ServerArg,
    force: Annotated[bool, typer.Option("--force", help="Log in again even if a login is stored.")] = False,
    as_json: JsonOpt = False,
    no_browser: NoBrowserOpt = False,
    startup_timeout: StartupOpt = None,
    header: HeaderOpt = None,
    client_id: ClientIdOpt = None,
    client_secret: SecretOpt = None,
    grant: GrantOpt = None,
    scope: ScopeOpt = None,
    private_key: KeyOpt = None,
    token_endpoint_auth: MethodOpt = None,
    client_metadata_url: CimdOpt = None,
    redirect_port: PortOpt = None,
    auth_setting: AuthSetOpt = None,
) -> None:
    """Log in to an HTTP SERVER (OAuth) and store its tokens for later runs; opens the browser if needed."""
    from .tools._mcp_tokens import TokenFile

    common = _Common.of(locals())
    try:
        target = _target(server, common)
    except TroupeError as e:
        _fail(e)
    if target.url is None:
        _fail(UsageError("only HTTP servers (a URL) use a login; a command's server needs none"))
    tokens = TokenFile(target.url)
    if force:
        tokens.forget_tokens()

    async def work(handle: ServerHandle, client: Client) -> Any:
        return None

    _session(server, common, work)
    summary = TokenFile(target.url).summary()
    if as_json:
        _dump(summary)
    elif summary["logged_in"]:
        out.print(
            f"Logged in to {target.url}; tokens stored in {summary['file']}", markup=False, soft_wrap=True
        )
    else:
        out.print(f"{target.url} asked for no login; nothing stored.", markup=False)


@mcp_app.command()
def logout(server: ServerArg) -> None:
    """Forget the stored tokens and client registration of an HTTP SERVER."""
    from .tools._mcp_inspect import resolve_target
    from .tools._mcp_tokens import TokenFile

    try:
        target = resolve_target(server)
    except TroupeError as e:
        _fail(e)
    if target.url is None:
        _fail(UsageError("only HTTP servers (a URL) use a login"))
    gone = TokenFile(target.url).forget()
    out.print(f"{'Forgot the login of' if gone else 'No login stored for'} {target.url}", markup=False)
