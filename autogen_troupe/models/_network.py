"""The guard that keeps tests off the network: model endpoints and MCP servers outside this machine
refuse to be called.

The pytest plugin turns it on for the whole session unless `--troupe-live` (or `troupe_live = true`) is
given, so a test that forgot its cassette fails at once with a message saying so, instead of calling (and
paying for) a real gateway. Loopback endpoints stay allowed: local test servers and a vLLM you started on
127.0.0.1 are part of the machine. A context can override the session's choice with `network_allowed()`.

The state is a context variable over a process-wide default: the default reaches every thread (the plugin
runs scenarios on a thread of their own), the variable lets one task or test decide for itself.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterator
from contextvars import ContextVar
from urllib.parse import urlsplit

from .._redact import safe_url
from ..errors import NetworkBlocked

__all__ = ["check_endpoint", "is_loopback", "network_allowed", "set_session_default"]

_allowed: ContextVar[bool | None] = ContextVar("troupe_network_allowed", default=None)
_session_allows = True  # outside pytest nothing is guarded

_HOW_TO_ALLOW = (
    "record a cassette with --troupe-record=new, or allow calls to real endpoints with --troupe-live "
    "(ini: troupe_live = true)"
)


def set_session_default(allowed: bool) -> None:
    """Whether endpoints outside this machine may be called where no context said otherwise."""
    global _session_allows
    _session_allows = allowed


@contextlib.contextmanager
def network_allowed(allowed: bool = True) -> Iterator[None]:
    """Allow (or forbid) calls to non-local endpoints within this context, whatever the session says."""
    token = _allowed.set(allowed)
    try:
        yield
    finally:
        _allowed.reset(token)


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(url: str, what: str = "the model endpoint") -> None:
    """Raise NetworkBlocked when `url` is off this machine and the network is not allowed here.

    `what` names the thing being called in the message ("the model endpoint", "MCP server 'x' at").
    """
    allowed = _allowed.get()
    if allowed if allowed is not None else _session_allows:
        return
    parts = urlsplit(url if "//" in url else f"//{url}")
    if parts.hostname is None or is_loopback(parts.hostname):
        return
    where = safe_url(url) if parts.scheme else parts.hostname
    raise NetworkBlocked(f"tests may not call {what} {where}, which is off this machine: {_HOW_TO_ALLOW}")
