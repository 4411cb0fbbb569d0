"""OAuth tokens of MCP servers, one file per server in the user's config folder, readable by the user only.

`$TROUPE_MCP_TOKENS` names the folder; else `$XDG_CONFIG_HOME/troupe/mcp-tokens` (`~/.config/...`, or
`%APPDATA%\\troupe\\mcp-tokens` on Windows), beside the profile file. A file holds the server's URL, its
tokens with the time they expire, and the client registration troupe made there. Every token read or
written is also handed to the redaction module, so it is masked in transcripts, logs and cassettes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from mcp.shared.auth_utils import resource_url_from_server_url

from .._redact import remember_secrets

__all__ = ["TokenFile", "tokens_folder"]


def tokens_folder(env: Mapping[str, str] | None = None) -> Path:
    """The folder of stored MCP tokens (see the module docstring)."""
    env = os.environ if env is None else env
    if env.get("TROUPE_MCP_TOKENS"):
        return Path(env["TROUPE_MCP_TOKENS"]).expanduser()
    if sys.platform == "win32" and env.get("APPDATA"):
        return Path(env["APPDATA"]) / "troupe" / "mcp-tokens"
    xdg = env.get("XDG_CONFIG_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "troupe" / "mcp-tokens"
    return Path.home() / ".config" / "troupe" / "mcp-tokens"


def _file_name(resource: str) -> str:
    host = re.sub(r"[^A-Za-z0-9.-]+", "_", resource.split("://", 1)[-1].split("/", 1)[0])[:60]
    return f"{host}-{hashlib.sha256(resource.encode()).hexdigest()[:16]}.json"


class TokenFile:
    """The SDK's `TokenStorage` on one JSON file per server (mode 0600 in a 0700 folder)."""

    def __init__(self, server_url: str, folder: Path | None = None) -> None:
        self.resource = resource_url_from_server_url(server_url)
        self.path = (folder or tokens_folder()) / _file_name(self.resource)
        self._data: dict[str, Any] | None = None

    # ---------------------------------------------------------------- the file

    def _load(self) -> dict[str, Any]:
        if self._data is None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = {}  # none yet, or unreadable: log in again rather than fail
            if not isinstance(data, dict) or data.get("server_url") != self.resource:
                data = {}
            self._data = data
            tokens = data.get("tokens") or {}
            remember_secrets({tokens.get("access_token"), tokens.get("refresh_token")} - {None, ""})
        return self._data

    def _save(self) -> None:
        data = dict(self._load(), server_url=self.resource)
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(OSError):  # a folder the user made: keep it theirs, only tighten ours
            if folder.name == "mcp-tokens":
                folder.chmod(0o700)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
        os.replace(tmp, self.path)

    def forget(self) -> bool:
        """Delete the stored tokens and registration (a logout); whether there were any."""
        self._data = {}
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True

    def forget_tokens(self) -> None:
        """Drop the tokens but keep the registration: the next connection logs in again."""
        data = self._load()
        if data.pop("tokens", None) is not None:
            data.pop("expires_at", None)
            self._save()

    # ---------------------------------------------------------------- what it holds

    @property
    def expires_at(self) -> float | None:
        """When the stored access token expires (epoch seconds), if the server said."""
        value = self._load().get("expires_at")
        return float(value) if isinstance(value, int | float) else None

    def has_tokens(self) -> bool:
        return bool((self._load().get("tokens") or {}).get("access_token"))

    def summary(self) -> dict[str, Any]:
        """What is stored, without the secrets: for `troupe mcp login --status` style output."""
        data = self._load()
        tokens = data.get("tokens") or {}
        client = data.get("client_info") or {}
        return {
            "server_url": self.resource,
            "file": str(self.path),
            "logged_in": bool(tokens.get("access_token")),
            "can_refresh": bool(tokens.get("refresh_token")),
            "scope": tokens.get("scope"),
            "expires_at": data.get("expires_at"),
            "client_id": client.get("client_id"),
        }

    # ---------------------------------------------------------------- the SDK's TokenStorage

    async def get_tokens(self) -> OAuthToken | None:
        raw = self._load().get("tokens")
        try:
            return OAuthToken.model_validate(raw) if raw else None
        except ValueError:
            return None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        remember_secrets({tokens.access_token, tokens.refresh_token} - {None, ""})
        data = self._load()
        data["tokens"] = tokens.model_dump(mode="json", exclude_none=True)
        data["expires_at"] = time.time() + int(tokens.expires_in) if tokens.expires_in is not None else None
        self._save()

    def client_info(self) -> OAuthClientInformationFull | None:
        """The stored registration, if any (also outside an event loop)."""
        raw = self._load().get("client_info")
        try:
            return OAuthClientInformationFull.model_validate(raw) if raw else None
        except ValueError:
            return None

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info()

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        if client_info.client_secret:
            remember_secrets({client_info.client_secret})
        self._load()["client_info"] = client_info.model_dump(mode="json", exclude_none=True)
        self._save()

    def drop_client_info(self) -> None:
        """Forget the registration (and with it the tokens it got): the next login registers again."""
        data = self._load()
        if data.pop("client_info", None) is not None:
            data.pop("tokens", None)
            data.pop("expires_at", None)
            self._save()
