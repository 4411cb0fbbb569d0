"""OAuth for HTTP MCP servers against a real protected server with its own authorization server
(tests/mcp_fixtures/oauth_server.py, the SDK's server parts) on 127.0.0.1: the login through `troupe mcp
login` with a stand-in browser, the stored tokens (0600), runs that use them, refresh, and the messages
when a login is missing."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import TESTS, free_port, troupe, write
from pydantic import SecretStr

from autogen_troupe.errors import ScenarioError, ToolCallError
from autogen_troupe.scenario import load_scenario
from autogen_troupe.scenario._mcp_auth import McpAuth
from autogen_troupe.scenario._schema import HttpServer, McpUse
from autogen_troupe.tools import McpServerPool
from autogen_troupe.tools._mcp_tokens import TokenFile, tokens_folder

OAUTH_SERVER = TESTS / "mcp_fixtures" / "oauth_server.py"
BROWSER = TESTS / "mcp_fixtures" / "browser.py"


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the OAuth fixture server exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("the OAuth fixture server did not start listening")


@pytest.fixture
def protected() -> Iterator[str]:
    """A fresh protected MCP server (and authorization server): its /mcp URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(OAUTH_SERVER), str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_listening(port, proc)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def tokens_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "config" / "troupe" / "mcp-tokens"
    monkeypatch.setenv("TROUPE_MCP_TOKENS", str(folder))
    return folder


def _browser_env(tmp_path: Path, tokens_dir: Path) -> dict[str, str]:
    return {
        "BROWSER": str(BROWSER),
        "BROWSER_LOG": str(tmp_path / "browser.log"),
        "TROUPE_MCP_TOKENS": str(tokens_dir),
    }


def _scenario(tmp_path: Path, url: str, auth: str = "auth: {}") -> Path:
    return write(
        tmp_path,
        f"""
        name: notes
        task: hi
        team: {{kind: single, agents: [{{name: a, mcp: [notes]}}]}}
        mcp_servers:
          notes:
            url: {url}
            {auth}
        """,
    )


async def _call(server: HttpServer, tool: str) -> str:
    async with McpServerPool({"notes": server}) as pool:
        wb = pool.workbench(McpUse(server="notes"))
        result = await wb.call_tool(tool, {})
        return "".join(getattr(p, "content", "") for p in result.result)


async def test_a_401_without_auth_says_authentication_is_needed_and_how(
    protected: str, tokens_dir: Path
) -> None:
    with pytest.raises(ToolCallError) as caught:
        await _call(HttpServer(url=protected), "whoami")
    message = str(caught.value)
    assert "answered 401: it needs authentication" in message
    assert "auth: {}" in message and "troupe mcp login SCENARIO.yaml:notes" in message
    assert not tokens_dir.exists()


async def test_a_run_never_opens_a_browser_and_names_the_login_command(
    protected: str, tokens_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROWSER", str(BROWSER))
    monkeypatch.setenv("BROWSER_LOG", str(tmp_path / "browser.log"))
    with pytest.raises(ToolCallError) as caught:
        await _call(HttpServer(url=protected, auth=McpAuth()), "whoami")
    assert "needs you to log in (OAuth) and no login is stored" in str(caught.value)
    assert "troupe mcp login SCENARIO.yaml:notes" in str(caught.value)
    assert not (tmp_path / "browser.log").exists()


def test_login_stores_tokens_privately_and_runs_use_them(
    protected: str, tokens_dir: Path, tmp_path: Path
) -> None:
    path = _scenario(tmp_path, protected)
    done = troupe("mcp", "login", f"{path}:notes", env=_browser_env(tmp_path, tokens_dir))
    assert done.returncode == 0, done.stderr
    assert "Logged in to" in done.stdout
    opened = (tmp_path / "browser.log").read_text().splitlines()
    assert len(opened) == 1 and "code_challenge_method=S256" in opened[0] and "redirect_uri=http" in opened[0]
    [stored] = list(tokens_dir.iterdir())
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(tokens_dir.stat().st_mode) == 0o700
    data = json.loads(stored.read_text())
    assert data["server_url"] == protected and data["tokens"]["access_token"].startswith("at-")
    assert data["client_info"]["client_id"]  # registered dynamically

    # A second login reuses what is stored: no browser.
    again = troupe("mcp", "login", f"{path}:notes", env=_browser_env(tmp_path, tokens_dir))
    assert again.returncode == 0, again.stderr
    assert len((tmp_path / "browser.log").read_text().splitlines()) == 1

    # The inspector and a run (no person) both use the stored tokens.
    listed = troupe("mcp", "tools", f"{path}:notes", "--json", env={"TROUPE_MCP_TOKENS": str(tokens_dir)})
    assert listed.returncode == 0, listed.stderr
    assert {t["name"] for t in json.loads(listed.stdout)} >= {"whoami", "grants"}
    whoami = troupe("mcp", "call", f"{path}:notes", "whoami", env={"TROUPE_MCP_TOKENS": str(tokens_dir)})
    assert whoami.stdout.strip() == data["client_info"]["client_id"]


async def test_a_token_the_server_echoes_is_masked_in_tool_results(
    protected: str, tokens_dir: Path, tmp_path: Path
) -> None:
    path = _scenario(tmp_path, protected)
    assert troupe("mcp", "login", f"{path}:notes", env=_browser_env(tmp_path, tokens_dir)).returncode == 0
    token = json.loads(next(tokens_dir.iterdir()).read_text())["tokens"]["access_token"]
    scenario = load_scenario(path)
    text = await _call(scenario.mcp_servers["notes"], "my_token")  # type: ignore[arg-type]
    assert text.startswith("your token is ") and token not in text and "***" in text


async def test_an_expired_token_is_refreshed_not_logged_in_again(
    protected: str, tokens_dir: Path, tmp_path: Path
) -> None:
    path = _scenario(tmp_path, protected)
    assert troupe("mcp", "login", f"{path}:notes", env=_browser_env(tmp_path, tokens_dir)).returncode == 0
    stored = next(tokens_dir.iterdir())
    data = json.loads(stored.read_text())
    old = data["tokens"]["access_token"]
    data["expires_at"] = time.time() - 60  # as after a day away
    stored.write_text(json.dumps(data))
    server = load_scenario(path).mcp_servers["notes"]
    grants = json.loads(await _call(server, "grants"))  # type: ignore[arg-type]
    assert grants == {"authorization_code": 1, "refresh_token": 1}
    fresh = json.loads(stored.read_text())
    assert fresh["tokens"]["access_token"] != old and fresh["expires_at"] > time.time()
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600


def test_the_time_a_person_takes_to_log_in_is_not_the_servers_startup_time(
    protected: str, tokens_dir: Path, tmp_path: Path
) -> None:
    slow = tmp_path / "slow-browser"
    slow.write_text(
        f"#!{sys.executable}\nimport runpy, sys, time\ntime.sleep(4)  # a person reading the consent page\n"
        f"runpy.run_path({str(BROWSER)!r}, run_name='__main__')\n"
    )
    slow.chmod(0o755)
    env = {**_browser_env(tmp_path, tokens_dir), "BROWSER": str(slow)}
    done = troupe("mcp", "login", protected, "--startup-timeout", "2", env=env)
    assert done.returncode == 0, done.stderr
    assert "Logged in to" in done.stdout


def test_logout_forgets_the_login(protected: str, tokens_dir: Path, tmp_path: Path) -> None:
    env = _browser_env(tmp_path, tokens_dir)
    assert troupe("mcp", "login", protected, env=env).returncode == 0
    assert list(tokens_dir.iterdir())
    gone = troupe("mcp", "logout", protected, env=env)
    assert gone.returncode == 0 and "Forgot the login" in gone.stdout
    assert not list(tokens_dir.iterdir())
    assert "No login stored" in troupe("mcp", "logout", protected, env=env).stdout


def test_login_refuses_a_command_server(tmp_path: Path) -> None:
    done = troupe("mcp", "login", f"{sys.executable} -m mcp_server_time")
    assert done.returncode == 2 and "only HTTP servers" in done.stderr


def test_auth_block_errors_are_located(tmp_path: Path) -> None:
    path = _scenario(tmp_path, "http://127.0.0.1:9/mcp", "auth: {grant: client_credentials}")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    [issue] = caught.value.issues
    assert (issue.line, issue.field) == (7, "mcp_servers.notes.auth")
    assert "client_credentials needs a client_id" in issue.message
    path = _scenario(tmp_path, "http://127.0.0.1:9/mcp", "auth: {client_secret: x}")
    with pytest.raises(ScenarioError, match="a client_secret needs the client_id"):
        load_scenario(path)
    path = _scenario(
        tmp_path, "http://127.0.0.1:9/mcp", "auth: {}\n            headers: {Authorization: Bearer x}"
    )
    with pytest.raises(ScenarioError, match="either an Authorization header or an auth: block"):
        load_scenario(path)


def test_identity_assertion_needs_its_identity_provider(tmp_path: Path) -> None:
    path = _scenario(tmp_path, "http://127.0.0.1:9/mcp", "auth: {grant: identity_assertion, client_id: c}")
    with pytest.raises(ScenarioError, match="identity_assertion needs client_secret, issuer, idp_"):
        load_scenario(path)
    path = _scenario(tmp_path, "http://127.0.0.1:9/mcp", "auth: {id_token: x}")
    with pytest.raises(ScenarioError, match="only used with grant: identity_assertion"):
        load_scenario(path)


def test_the_secret_of_an_auth_block_stays_secret() -> None:
    auth = McpAuth(grant="client_credentials", client_id="machine", client_secret=SecretStr("s3cr3t-value"))
    assert "s3cr3t-value" not in repr(auth) and "s3cr3t-value" not in auth.model_dump_json()
    assert auth.endpoint_auth == "client_secret_basic"


async def test_token_file_round_trip_and_permissions(tmp_path: Path) -> None:
    from mcp.shared.auth import OAuthToken

    tokens = TokenFile("http://Example.com:8080/mcp#frag", tmp_path / "t")
    assert await tokens.get_tokens() is None and not tokens.has_tokens()
    await tokens.set_tokens(OAuthToken(access_token="abc-123-xyz", expires_in=60, refresh_token="r-456"))
    again = TokenFile("http://example.com:8080/mcp", tmp_path / "t")  # the same server, written differently
    assert again.path == tokens.path and (await again.get_tokens()).access_token == "abc-123-xyz"  # type: ignore[union-attr]
    assert again.expires_at is not None and again.expires_at > time.time()
    assert oct(stat.S_IMODE(tokens.path.stat().st_mode)) == oct(0o600)
    assert "abc-123-xyz" not in json.dumps(again.summary())
    again.forget_tokens()
    assert not TokenFile("http://example.com:8080/mcp", tmp_path / "t").has_tokens()


def test_tokens_folder_follows_the_config_folder(tmp_path: Path) -> None:
    assert tokens_folder({"TROUPE_MCP_TOKENS": str(tmp_path)}) == tmp_path
    assert tokens_folder({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "troupe" / "mcp-tokens"
    assert tokens_folder({"XDG_CONFIG_HOME": "relative"}) == Path.home() / ".config" / "troupe" / "mcp-tokens"
    assert os.path.isabs(tokens_folder({}))
