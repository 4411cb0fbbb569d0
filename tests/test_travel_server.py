"""The travel MCP server: its data, and every tool through a real MCP client session over stdio and HTTP."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import free_port
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from autogen_troupe.mcp_servers.travel import TOPICS, NotFound, load_travel_data

ROOT = Path(__file__).resolve().parents[1]
SERVER = ["-m", "autogen_troupe.mcp_servers.travel"]


# --------------------------------------------------------------------------- the data


def test_data_files_are_dated_and_consistent() -> None:
    data = load_travel_data()
    for doc in (data.countries_doc, data.rates_doc, data.phrases_doc):
        assert doc["source"] and doc["as_of"] == "2025-06-30"
    names = data.country_names()
    assert 30 <= len(names) <= 45
    assert {"Nepal", "South Korea", "Japan", "France"} <= set(names)
    for name in names:
        facts = data.country_facts(name)
        assert facts.currency.code in data.rates_doc["currencies"]
        assert facts.plug_types and facts.emergency_numbers and facts.capital
        for tz in facts.time_zones:
            zoneinfo.ZoneInfo(tz.zone)  # a real IANA name
        book = data.phrases(name)
        assert set(book.topics) == set(TOPICS) and all(book.topics.values())


def test_lookups_are_lenient() -> None:
    data = load_travel_data()
    assert data.country_facts("  SOUTH korea ").name == "South Korea"
    assert data.country_facts("kr").name == data.country_facts("KOR").name == "South Korea"
    assert data.country_facts("Türkiye").name == data.country_facts("turkiye").name == "Turkey"
    assert data.country_facts("the netherlands").iso2 == "NL"
    assert data.convert(10, "euros", "Japan").to_currency.code == "JPY"
    assert data.phrases("korean").language_code == data.phrases("Korea").language_code == "ko"
    assert data.phrases("Japan", "thank you").topics.keys() == {"thanks"}
    tiny = data.convert(5, "IDR", "SGD")
    assert 0 < tiny.converted < 0.01 and "0.000392 SGD" in tiny.summary  # small results keep their digits


def test_unknown_names_list_close_matches() -> None:
    data = load_travel_data()
    cases = [
        (lambda: data.country_facts("Nepall"), "Unknown country 'Nepall'. Did you mean: Nepal?"),
        (lambda: data.convert(1, "USD", "yenn"), "Did you mean: JPY (Japanese yen)?"),
        (
            lambda: data.convert(1, "dollar", "EUR"),
            "ambiguous; use an ISO code: AUD (Australian dollar), CAD",
        ),
        (lambda: data.phrases("Japan", "pirces"), "Did you mean: prices? Topics: greetings, thanks"),
        (lambda: data.phrases("Klingon"), "Known: Arabic, Czech"),
    ]
    for call, message in cases:
        with pytest.raises(NotFound) as e:
            call()
        assert message in str(e.value)


# --------------------------------------------------------------------------- through MCP


def text(result: Any) -> str:
    return "".join(c.text for c in result.content)


async def exercise(session: ClientSession) -> None:
    """Every tool, the happy paths and the errors, as a model would call them."""
    init = await session.initialize()
    from importlib.metadata import version

    assert (init.server_info.name, init.server_info.version) == ("troupe-travel", version("autogen-troupe"))
    caps = init.capabilities
    assert caps.tools is not None and caps.resources is None and caps.prompts is None  # only what it serves
    tools = {t.name: t for t in (await session.list_tools()).tools}
    assert set(tools) == {"convert_currency", "country_facts", "phrases"}
    assert tools["convert_currency"].input_schema["required"] == ["amount", "from_currency", "to_currency"]
    assert tools["convert_currency"].input_schema["properties"]["amount"]["type"] == "number"
    assert "Nepal" in (tools["country_facts"].description or "")
    assert tools["phrases"].input_schema["properties"]["topic"]["default"] == "all"
    assert all(t.annotations and t.annotations.read_only_hint for t in tools.values())

    money = await session.call_tool(
        "convert_currency", {"amount": 100, "from_currency": "usd", "to_currency": "NPR"}
    )
    assert not money.is_error and money.structured_content is not None
    assert money.structured_content["converted"] == 13710.0
    assert money.structured_content["as_of"] == "2025-06-30" and money.structured_content["source"]
    assert json.loads(text(money))["to_currency"] == {"code": "NPR", "name": "Nepalese rupee"}

    korea = await session.call_tool("country_facts", {"country": "south korea"})
    facts = korea.structured_content
    assert not korea.is_error and facts is not None
    assert (facts["capital"], facts["currency"]["code"], facts["plug_types"]) == ("Seoul", "KRW", ["C", "F"])
    assert facts["time_zones"] == [{"zone": "Asia/Seoul", "utc_offset": "+09:00", "summer_time": False}]
    assert facts["emergency_numbers"]["police"] == "112"
    nepal = await session.call_tool("country_facts", {"country": "NP"})
    assert (
        nepal.structured_content is not None
        and nepal.structured_content["time_zones"][0]["utc_offset"] == "+05:45"
    )

    hello = await session.call_tool("phrases", {"country_or_language": "Nepal", "topic": "greetings"})
    book = hello.structured_content
    assert not hello.is_error and book is not None
    assert (book["language"], book["country"], list(book["topics"])) == ("Nepali", "Nepal", ["greetings"])
    assert book["topics"]["greetings"][0] == {
        "phrase": "नमस्ते",
        "romanization": "namaste",
        "meaning": "Hello / goodbye (with palms pressed together)",
    }
    everything = await session.call_tool("phrases", {"country_or_language": "ja"})
    assert everything.structured_content is not None and list(
        everything.structured_content["topics"]
    ) == list(TOPICS)

    errors = [
        ("country_facts", {"country": "Nepall"}, "Unknown country 'Nepall'. Did you mean: Nepal?"),
        (
            "convert_currency",
            {"amount": 5, "from_currency": "XYZ", "to_currency": "EUR"},
            "Unknown currency 'XYZ'",
        ),
        ("convert_currency", {"amount": -5, "from_currency": "USD", "to_currency": "EUR"}, "zero or more"),
        ("convert_currency", {"amount": "lots", "from_currency": "USD", "to_currency": "EUR"}, "amount"),
        (
            "phrases",
            {"country_or_language": "France", "topic": "food"},
            "Unknown topic 'food'. Topics: greetings",
        ),
        ("phrases", {"country_or_language": "Frnace"}, "Did you mean: France?"),
        ("no_such_tool", {}, "Unknown tool"),
    ]
    for name, args, message in errors:
        result = await session.call_tool(name, args)
        assert result.is_error, (name, args)
        assert message in text(result)


async def test_every_tool_over_stdio(tmp_path: Path) -> None:
    params = StdioServerParameters(command=sys.executable, args=SERVER, cwd=str(ROOT))
    with (tmp_path / "stderr.txt").open("w") as err:
        async with stdio_client(params, errlog=err) as (read, write), ClientSession(read, write) as session:
            await exercise(session)


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, *SERVER, "--http", str(port)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # wait until it accepts connections (or dies)
            if proc.poll() is not None:
                pytest.fail(f"server exited: {(tmp_path / 'server.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("server did not listen within 60 s")
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


async def test_every_tool_over_http(http_server: str, tmp_path: Path) -> None:
    async with streamable_http_client(http_server) as (read, write), ClientSession(read, write) as session:
        await exercise(session)
    assert "serving on " + http_server in (tmp_path / "server.log").read_text()


def test_http_port_problems_are_one_line_errors() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for args, message in [
            (["--http", str(port)], f"error: cannot listen on 127.0.0.1:{port}: Address already in use"),
            (["--http", "0"], "argument --http: '0' is not a port number (1-65535)"),
        ]:
            done = subprocess.run(
                [sys.executable, *SERVER, *args], cwd=ROOT, capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 2 and "Traceback" not in done.stderr
            assert done.stderr.strip().splitlines()[-1].endswith(message)


# --------------------------------------------------------------------------- the scenario


def test_tools_scenario_wires_the_servers() -> None:
    from autogen_troupe.scenario._loader import load_scenario

    sc = load_scenario(ROOT / "scenarios" / "travel_planning_tools.yaml")
    agents = {a.name: a for a in sc.team.agents}
    assert list(agents) == ["planner_agent", "local_agent", "language_agent", "travel_summary_agent"]
    assert [u.server for u in agents["local_agent"].mcp] == ["travel", "time"]
    assert [(u.server, u.allow) for u in agents["language_agent"].mcp] == [("travel", ("phrases",))]
    assert agents["local_agent"].reflect_on_tool_use and agents["language_agent"].reflect_on_tool_use
    assert sc.mcp_servers["travel"].args == ("-m", "autogen_troupe.mcp_servers.travel")  # type: ignore[union-attr]


async def test_tools_scenario_runs_against_the_real_servers() -> None:
    import autogen_troupe.tools

    if not hasattr(autogen_troupe.tools, "load_python_tool"):
        pytest.skip("autogen_troupe.tools does not re-export load_python_tool yet")
    from autogen_troupe.runtime._runner import run_scenario
    from autogen_troupe.scenario._loader import load_scenario
    from autogen_troupe.testing import ScriptedClient, tool_call

    scripted = ScriptedClient(
        {
            "planner_agent": ["Day 1 Kathmandu, day 2 Bhaktapur, day 3 Nagarkot."],
            "local_agent": [tool_call("country_facts", country="Nepal"), "Nepal uses plugs C, D and M."],
            "language_agent": [
                tool_call("phrases", country_or_language="Nepal", topic="greetings"),
                "Say namaste.",
            ],
            "travel_summary_agent": ["The final plan: three days, plugs C/D/M, say namaste. TERMINATE"],
        }
    )
    result = await run_scenario(
        load_scenario(ROOT / "scenarios" / "travel_planning_tools.yaml"), clients=scripted
    )
    assert result.stopped_by == "rule" and "TERMINATE" in result.stop_reason
    outputs = {r.name: r.content for e in result.transcript if e.kind == "tool_result" for r in e.results}
    assert json.loads(outputs["country_facts"])["plug_types"] == ["C", "D", "M"]
    assert json.loads(outputs["phrases"])["topics"]["greetings"][0]["romanization"] == "namaste"


@pytest.mark.parametrize("mode", ["legacy", "auto"], ids=["handshake-era", "current"])
async def test_our_servers_declare_and_serve_only_tools_on_either_protocol(mode: str, tmp_path: Path) -> None:
    """The SDK's MCPServer declares prompts and resources by itself; `_serve.tools_only` takes them out of
    `initialize` (before 2026-07-28) and `server/discover` (since). If an SDK release routes either answer
    around the middleware, or changes their shape, this fails rather than our servers quietly declaring
    what they do not serve."""
    from mcp import Client
    from mcp.shared.exceptions import MCPError
    from mcp.types import METHOD_NOT_FOUND

    params = StdioServerParameters(command=sys.executable, args=SERVER, cwd=str(ROOT))
    async with Client(params, mode=mode) as client:
        assert (client.protocol_version < "2026") == (mode == "legacy")
        caps = client.server_capabilities
        assert caps is not None and caps.tools is not None
        assert caps.prompts is None and caps.resources is None
        for ask in (client.list_prompts, client.list_resources, client.list_resource_templates):
            with pytest.raises(MCPError) as refused:
                await ask()
            assert refused.value.code == METHOD_NOT_FOUND
        assert {t.name for t in (await client.list_tools()).tools} == {
            "convert_currency",
            "country_facts",
            "phrases",
        }
