"""The options several commands share, each declared once.

A *group* of options is a frozen dataclass whose fields are Typer options, e.g. `ModelFlags` (--profile,
--base-url, --model). A command takes the group as one keyword-only parameter, `endpoint: ModelFlags`;
`expand` (which `App.command` applies to every command) shows Typer the group's fields in that place, so
`--help` lists them where the parameter stands, and hands the command the one value built from them.
A group may also hold something open while the command runs (`active`: `EngineLogs` routes the
libraries' log lines, `Tracing` starts tracing).
A single option or argument shared as it is (`ScenarioArg`) is an `Annotated` alias.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import os
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import typer

from ..errors import UsageError

if TYPE_CHECKING:
    from ..models import Overrides

__all__ = [
    "Access",
    "ElicitOpt",
    "EndpointFlags",
    "EngineLogs",
    "JsonOpt",
    "ModelFlags",
    "OptionGroup",
    "QuietOpt",
    "ResultJsonOpt",
    "ScenarioArg",
    "ServerArg",
    "TaskOpt",
    "TranscriptsOpt",
    "expand",
]


class OptionGroup:
    """Base of the option groups: subclasses are frozen dataclasses of `Annotated[T, typer.Option(...)]`
    fields, each with its default."""

    order: ClassVar[int] = 0  # what groups hold open is entered by this, lowest first (outermost)

    def active(self) -> contextlib.AbstractContextManager[None]:
        """What the group holds open while the command runs; nothing unless a group says otherwise."""
        return contextlib.nullcontext()


def _group_of(annotation: Any) -> type[OptionGroup] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, OptionGroup) else None


def expand(command: Callable[..., Any]) -> Callable[..., Any]:
    """`command` with each option-group parameter shown to Typer as the group's options, and called with
    the group built from them, inside what each group holds open (`active`)."""
    shown: list[inspect.Parameter] = []
    groups: dict[str, tuple[type[OptionGroup], tuple[str, ...]]] = {}
    for p in inspect.signature(command, eval_str=True).parameters.values():
        group = _group_of(p.annotation)
        if group is None:
            shown.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY))
            continue
        hints = typing.get_type_hints(group, include_extras=True)
        fields = dataclasses.fields(group)  # type: ignore[arg-type]
        groups[p.name] = (group, tuple(f.name for f in fields))
        shown += [
            inspect.Parameter(
                f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=hints[f.name]
            )
            for f in fields
        ]
    names = [p.name for p in shown]
    if len(set(names)) != len(names):
        raise TypeError(f"{command.__name__}: an option group repeats a parameter name: {names}")

    @functools.wraps(command)
    def with_groups(**given: Any) -> Any:
        built = {name: group(**{f: given.pop(f) for f in fields}) for name, (group, fields) in groups.items()}
        with contextlib.ExitStack() as stack:
            for value in sorted(built.values(), key=lambda group: group.order):
                stack.enter_context(value.active())
            return command(**given, **built)

    with_groups.__signature__ = inspect.Signature(shown)  # type: ignore[attr-defined]
    with_groups.__annotations__ = {p.name: p.annotation for p in shown}  # what Typer's get_type_hints reads
    return with_groups


# --------------------------------------------------------------------------- the run commands

ScenarioArg = Annotated[str, typer.Argument(help="A scenario file, or the name of a bundled scenario.")]
TaskOpt = Annotated[str | None, typer.Option("--task", help="Replace the scenario's task.")]
TranscriptsOpt = Annotated[Path, typer.Option("--out", help="Folder for the JSONL transcript.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary.")]
ResultJsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]


@dataclass(frozen=True)
class EngineLogs(OptionGroup):
    """--verbose: while the command runs, the libraries' log lines (vLLM, torch, Python's warnings) go
    off the console into the log file the command names (`runtime.library_log_file`); with --verbose, to
    the console too."""

    order: ClassVar[int] = -1  # outside tracing, so the lines its SDK writes at exit are routed too

    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also show the model engine's own log lines.")
    ] = False

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        from ..runtime import library_logs

        with library_logs(console=self.verbose):
            yield


@dataclass(frozen=True)
class EndpointFlags(OptionGroup):
    """--profile and --base-url: which endpoint, over the scenario's and the environment's."""

    profile: Annotated[
        str | None, typer.Option("--profile", help="Model profile to use instead of the scenario's.")
    ] = None
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1."),
    ] = None

    def overrides(self) -> Overrides:
        """These flags over the TROUPE_* environment, as the library takes them."""
        return _overrides(self.profile, self.base_url, None)


@dataclass(frozen=True)
class ModelFlags(EndpointFlags):
    """--profile, --base-url and --model."""

    model: Annotated[
        str | None, typer.Option("--model", help="Model id at the endpoint (default: discovered).")
    ] = None

    def overrides(self) -> Overrides:
        return _overrides(self.profile, self.base_url, self.model)


def _overrides(profile: str | None, base_url: str | None, model: str | None) -> Overrides:
    from ..models import Overrides

    return Overrides.from_env(os.environ).merged(profile=profile, base_url=base_url, model=model)


# --------------------------------------------------------------------------- troupe mcp

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


@dataclass(frozen=True)
class Access(OptionGroup):
    """How `troupe mcp` starts and reaches a server: start-up time, HTTP headers, the keys of an `auth:`
    block (OAuth) given as flags."""

    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the login address instead of opening a browser.")
    ] = False
    startup_timeout: Annotated[
        float | None,
        typer.Option(
            "--startup-timeout",
            metavar="SECONDS",
            min=0.1,
            help="Give up when the server has not started and answered within this many seconds "
            "(default: its startup_timeout_s, 30; a person's OAuth login does not count).",
        ),
    ] = None
    header: Annotated[
        list[str] | None, typer.Option("--header", "-H", help="An HTTP header 'Name: value' (repeatable).")
    ] = None
    client_id: Annotated[str | None, typer.Option("--client-id", help="A client registered beforehand.")] = (
        None
    )
    client_secret: Annotated[
        str | None,
        typer.Option(
            "--client-secret", envvar="TROUPE_MCP_CLIENT_SECRET", help="Its secret (better: the env var)."
        ),
    ] = None
    grant: Annotated[
        str | None,
        typer.Option("--grant", help="authorization_code (a person) or client_credentials (a machine)."),
    ] = None
    scope: Annotated[str | None, typer.Option("--scope", help="Space-separated scopes to ask for.")] = None
    private_key: Annotated[
        str | None, typer.Option("--private-key", help="PEM key for private_key_jwt (client_credentials).")
    ] = None
    token_endpoint_auth: Annotated[
        str | None,
        typer.Option(
            "--token-endpoint-auth", help="client_secret_basic, client_secret_post, none or private_key_jwt."
        ),
    ] = None
    client_metadata_url: Annotated[
        str | None,
        typer.Option("--client-metadata-url", help="https URL of this client's metadata document."),
    ] = None
    redirect_port: Annotated[
        int | None, typer.Option("--redirect-port", help="Loopback port for the login redirect.")
    ] = None
    auth_setting: Annotated[
        list[str] | None,
        typer.Option(
            "--auth",
            metavar="KEY=VALUE",
            help="Any other key of an auth: block, e.g. issuer=https://login.example.com (repeatable).",
        ),
    ] = None

    def auth(self) -> dict[str, Any]:
        """The `auth:` keys these flags set (--auth KEY=VALUE first, the named flags over them)."""
        auth: dict[str, Any] = {}
        for item in self.auth_setting or []:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise typer.BadParameter(f"{item!r}: write it as KEY=VALUE", param_hint="--auth")
            auth[key.strip()] = value
        named = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "grant": self.grant,
            "scope": self.scope,
            "private_key_file": self.private_key,
            "token_endpoint_auth": self.token_endpoint_auth,
            "client_metadata_url": self.client_metadata_url,
            "redirect_port": self.redirect_port,
        }
        return auth | {key: value for key, value in named.items() if value is not None}

    def headers(self) -> dict[str, str]:
        pairs: dict[str, str] = {}
        for h in self.header or []:
            name, sep, value = h.partition(":")
            if not sep or not name.strip():
                raise UsageError(f"--header {h!r}: write it as 'Name: value'")
            pairs[name.strip()] = value.strip()
        return pairs
