"""Tests stay off the network: endpoints off this machine refuse to be called unless --troupe-live."""

from __future__ import annotations

import asyncio
from importlib import metadata
from pathlib import Path

import pytest
from autogen_core.models import UserMessage
from fake_openai import FakeOpenAI

from autogen_troupe.errors import NetworkBlocked, ProfileError
from autogen_troupe.models import _network
from autogen_troupe.models._network import check_endpoint, is_loopback, network_allowed
from autogen_troupe.models.openai import create_client, list_models
from autogen_troupe.scenario._schema import ModelSpec

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
REMOTE = "https://gateway.example.com/v1"


@pytest.fixture
def guarded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The session as a plain `pytest` run sets it: no --troupe-live."""
    monkeypatch.setattr(_network, "_session_allows", False)


@pytest.mark.parametrize(
    ("host", "local"),
    [("127.0.0.1", True), ("127.8.0.1", True), ("localhost", True), ("[::1]", True), ("::1", True),
     ("api.localhost", True), ("10.0.0.5", False), ("gateway.example.com", False), ("0.0.0.0", False)],
)  # fmt: skip
def test_loopback_hosts(host: str, local: bool) -> None:
    assert is_loopback(host) is local


def test_this_suite_runs_guarded() -> None:
    """The plugin turned the guard on for this very session (the suite runs without --troupe-live)."""
    with pytest.raises(NetworkBlocked):
        check_endpoint(REMOTE)


def test_remote_endpoint_refused_with_the_way_out(guarded: None) -> None:
    with pytest.raises(NetworkBlocked) as caught:
        create_client(ModelSpec(provider="openai", base_url=REMOTE, model="m"))
    message = str(caught.value)
    assert "https://gateway.example.com" in message and "--troupe-live" in message
    assert isinstance(caught.value, ProfileError)  # the CLI reports it as a setup problem, exit 2
    with pytest.raises(NetworkBlocked):
        asyncio.run(list_models(ModelSpec(provider="openai", base_url=REMOTE, model="m")))


def test_loopback_endpoint_allowed_and_answers(guarded: None) -> None:
    with FakeOpenAI(["hello from 127.0.0.1"]) as server:
        client = create_client(ModelSpec(provider="openai", base_url=server.base_url, model="m"))
        result = asyncio.run(client.create([UserMessage(content="hi", source="user")]))
    assert result.content == "hello from 127.0.0.1"


def test_client_made_while_allowed_is_refused_when_used_outside(guarded: None) -> None:
    with network_allowed():
        client = create_client(ModelSpec(provider="openai", base_url=REMOTE, model="m", max_retries=0))
    with pytest.raises(NetworkBlocked):
        asyncio.run(client.create([UserMessage(content="hi", source="user")]))


def test_network_allowed_lifts_and_restores(guarded: None) -> None:
    with network_allowed():
        check_endpoint(REMOTE)
        with network_allowed(False), pytest.raises(NetworkBlocked):
            check_endpoint(REMOTE)
        check_endpoint(REMOTE)
    with pytest.raises(NetworkBlocked):
        check_endpoint(REMOTE)


def test_outside_pytest_nothing_is_guarded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_network, "_session_allows", True)
    check_endpoint(REMOTE)


USER_TEST = """
import asyncio
from autogen_core.models import UserMessage
from autogen_troupe.models.openai import create_client
from autogen_troupe.scenario._schema import ModelSpec

def test_calls_a_gateway():
    spec = ModelSpec(provider="openai", base_url="http://troupe-guard-test.invalid/v1", model="m",
                     max_retries=0, timeout_s=5)
    client = create_client(spec)
    asyncio.run(client.create([UserMessage(content="hi", source="user")]))
"""


def _plugin_args() -> tuple[str, ...]:
    installed = any(ep.name == "troupe" for ep in metadata.entry_points(group="pytest11"))
    return () if installed else ("-p", "autogen_troupe.pytest_plugin")


def test_user_suite_is_guarded_until_live(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a user's project: the default run fails with NetworkBlocked; --troupe-live lets the call out
    (here to a name that cannot resolve, so it fails later, with the connection error)."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(test_gateway=USER_TEST)
    guarded_run = pytester.runpytest_subprocess(*_plugin_args(), "-q")
    guarded_run.assert_outcomes(failed=1)
    guarded_run.stdout.fnmatch_lines(["*NetworkBlocked*troupe-guard-test.invalid*--troupe-live*"])
    live = pytester.runpytest_subprocess(*_plugin_args(), "-q", "--troupe-live")
    live.assert_outcomes(failed=1)
    live.stdout.fnmatch_lines(["*ModelCallError*cannot connect*troupe-guard-test.invalid*"])
    assert "NetworkBlocked" not in live.stdout.str()


async def test_remote_mcp_server_refused_without_leaking_its_credentials(guarded: None) -> None:
    from autogen_troupe.errors import ToolCallError
    from autogen_troupe.scenario._schema import HttpServer
    from autogen_troupe.tools import McpServerPool

    url = "https://user:hunter2@mcp.example.invalid/mcp?token=abc"
    with pytest.raises(NetworkBlocked) as caught:
        await McpServerPool({"web": HttpServer(url=url, startup_timeout_s=5)}).start()
    message = str(caught.value)
    assert "MCP server 'web' at https://mcp.example.invalid" in message and "--troupe-live" in message
    assert "hunter2" not in message and "abc" not in message
    with network_allowed(), pytest.raises(ToolCallError) as reached:  # past the guard: DNS fails
        await McpServerPool({"web": HttpServer(url=url, startup_timeout_s=5)}).start()
    assert "could not be reached" in str(reached.value)
