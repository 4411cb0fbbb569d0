"""What `troupe serve` is set up with, and the rule it will not start without: off the loopback
interface, a token.

Loopback (127.0.0.1, ::1, localhost) is reachable only from this machine, so no token is needed there;
any other address lets the network in, and every request must then carry the token.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._redact import remember_secrets
from ..errors import ProfileError

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_RUNS",
    "DEFAULT_PORT",
    "TOKEN_ENV",
    "ServeConfig",
    "is_loopback",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_MAX_RUNS = 8
DEFAULT_MAX_BODY_BYTES = 1024 * 1024  # a chat request with a long history fits; a flood does not
TOKEN_ENV = "TROUPE_SERVE_TOKEN"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address, IPv6 with or without brackets) is this machine only."""
    h = host.strip().lower()
    if h in LOOPBACK_NAMES or h.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(h.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeConfig:
    """Settings of one server. `overrides` (models.Overrides) apply to every run, as `troupe run`'s
    --profile/--base-url/--model do; `max_runs` bounds the runs going at once (more get HTTP 503)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    out_dir: Path = Path("troupe-runs")
    max_runs: int = DEFAULT_MAX_RUNS
    token: str | None = field(default=None, repr=False)
    cors: tuple[str, ...] = ()
    overrides: Any = None
    env: Mapping[str, str] | None = field(default=None, repr=False)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    keep_finished: int = 200  # finished runs kept in memory (every one stays on disk)

    @classmethod
    def checked(cls, **settings: Any) -> ServeConfig:
        """A config that is safe to serve: the token from `token=` or TROUPE_SERVE_TOKEN, required (and
        remembered as a secret, so no log or message shows it) when the host is not loopback."""
        env = settings.get("env")
        env = os.environ if env is None else env
        token = (settings.pop("token", None) or env.get(TOKEN_ENV) or "").strip() or None
        config = cls(token=token, **settings)
        if config.max_runs < 1:
            raise ProfileError(f"--max-runs must be at least 1 (got {config.max_runs})")
        if not 0 <= config.port <= 65535:
            raise ProfileError(f"--port must be between 0 and 65535 (got {config.port})")
        for origin in config.cors:
            if origin == "*" or not origin.startswith(("http://", "https://")) or origin.count("/") != 2:
                raise ProfileError(
                    f"--cors takes an origin such as https://app.example:3000 (scheme, host, optional "
                    f"port, no path), not {origin!r}; '*' is refused because runs cost money"
                )
        if token is None and not is_loopback(config.host):
            raise ProfileError(
                f"refusing to serve on {config.host}: any other address than 127.0.0.1/::1/localhost lets "
                "the network start runs, so a token is required (clients send it as a bearer token; the page "
                f"asks for it once): set {TOKEN_ENV} or pass --token"
            )
        if token is not None:
            remember_secrets([token])
        return config

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def url(self, port: int | None = None) -> str:
        """The address people open (a wildcard bind is shown as 127.0.0.1)."""
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port if port is None else port}/"
