"""What a model or tool call's span says before the call starts, as plain data (no OpenTelemetry)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = ["ChatFacts", "ToolFacts", "host_port"]


def host_port(url: str) -> tuple[str | None, int | None]:
    """A URL's host and port (the scheme's default when none is written) as spans name a server."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    except ValueError:
        return None, None
    return parts.hostname, port


@dataclass(frozen=True)
class ChatFacts:
    """What a model call's span says before it starts: who is asked, where, with which settings."""

    provider: str | None
    request_model: str | None = None
    server_address: str | None = None
    server_port: int | None = None
    in_process: bool = False  # the in-process engine or a cassette: INTERNAL, not CLIENT
    settings: Mapping[str, Any] = field(default_factory=dict)  # temperature, max_tokens, top_p, seed


@dataclass(frozen=True)
class ToolFacts:
    """What a tool call's span says before it starts. `mcp_server` is None for a Python tool."""

    mcp_server: str | None = None
    transport: str | None = None  # pipe | tcp
    server_address: str | None = None
    server_port: int | None = None
