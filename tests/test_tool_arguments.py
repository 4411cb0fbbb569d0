"""Narrower argument schemas for MCP tools (`arguments:` under a server): read and checked with the
scenario (enum_file at its line), checked against the server's own schema when the run starts, shown to
the model (a long list said, not listed), and enforced on every call before the server sees it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, Reply
from helpers import troupe, write

from autogen_troupe import RunOptions, load_scenario, run_scenario
from autogen_troupe.agents._context import ContextBudget
from autogen_troupe.errors import ScenarioError, ToolCallError
from autogen_troupe.models._shown_tools import SHOWN_ENUM, shown_tool
from autogen_troupe.scenario._schema import McpUse
from autogen_troupe.tapes._records import ToolResult
from autogen_troupe.testing import ScriptedClient, tool_call
from autogen_troupe.tools import McpServerPool

SHREDDER = Path(__file__).resolve().parent / "mcp_fixtures" / "shredder.py"
ROOT = Path(__file__).resolve().parent.parent
ZONES = [z for z in (ROOT / "scenarios" / "time_zones.txt").read_text().splitlines() if not z.startswith("#")]


def clerk(tmp_path: Path, arguments: str, *, model: str = "") -> Path:
    """One agent with the shredder's tools (each call is written to its log); `arguments` is the server's
    `arguments:` block as flow YAML."""
    log = tmp_path / "shredder.log"
    return write(
        tmp_path,
        "name: clerk\ntask: Tidy the files.\n"
        + model
        + "team:\n  kind: round_robin\n  agents: [{name: clerk, mcp: [files]}]\n"
        "  termination: {text_mention: DONE}\n"
        f"mcp_servers:\n  files:\n    command: {sys.executable}\n"
        f"    args: [{str(SHREDDER)!r}, {str(log)!r}]\n"
        f"    approve: allow\n    arguments: {arguments}\n",
        "clerk.yaml",
    )


def made(tmp_path: Path) -> str:
    log = tmp_path / "shredder.log"
    return log.read_text() if log.exists() else ""


def tool_texts(result: object) -> list[tuple[str, bool]]:
    entries = result.transcript  # type: ignore[attr-defined]
    return [(r.content, r.is_error) for e in entries if isinstance(e, ToolResult) for r in e.results]


# --------------------------------------------------------------------------- the scenario file


def test_enum_file_is_read_relative_to_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "docs.txt").write_text("# the documents\na.txt\n\n  b.txt  \na.txt\n# c.txt\n")
    sc = load_scenario(clerk(tmp_path, "{peek: {doc: {enum_file: docs.txt}}}"))
    rule = sc.mcp_servers["files"].arguments["peek"]["doc"]
    assert rule.enum == ("a.txt", "b.txt") and rule.enum_file == "docs.txt"


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("{peek: {doc: {enum_file: nothere.txt}}}", "doc: no file 'nothere.txt' in "),
        ("{peek: {doc: {enum_file: empty.txt}}}", "doc: 'empty.txt' lists no values"),
        ("{peek: {doc: {enum: [a], enum_file: empty.txt}}}", "doc: give enum or enum_file, not both"),
        ("{peek: {doc: {pattern: '['}}}", "doc.pattern: not a regular expression"),
        ("{peek: {doc: {minimum: 5, maximum: 1}}}", "doc: minimum 5.0 is above maximum 1.0"),
        ("{peek: {doc: {}}}", "doc: say what is allowed"),
        ("{peek: {doc: {enum: [ab, x], pattern: '^a'}}}", "doc: enum value 'x' does not match the pattern"),
        ("{peek: {doc: {enum: []}}}", "doc.enum: "),
        ("{peek: {doc: {oneof: [a]}}}", "doc.oneof: "),
        ("{peek: {doc: {enum_file: folder}}}", "doc: not a regular file: 'folder' in "),
        ("{peek: {doc: {enum_file: fifo}}}", "doc: not a regular file: 'fifo' in "),
        ("{peek: {doc: {enum_file: binary.txt}}}", "doc: cannot read 'binary.txt': 'utf-8' codec"),
        ("{peek: {doc: {enum_file: huge.txt}}}", "doc: 'huge.txt' is over 4 MB"),
    ],
)
def test_a_wrong_rule_is_an_error_at_its_line(tmp_path: Path, block: str, message: str) -> None:
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00a")
    (tmp_path / "huge.txt").write_bytes(b"a\n" * 2_500_000)
    os.mkfifo(tmp_path / "fifo")  # reading it would block the load for good
    path = clerk(tmp_path, block)
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    text = str(e.value)
    assert f"{path}:12:" in text and "mcp_servers.files.arguments.peek." in text and message in text


# --------------------------------------------------------------------------- against the real server


async def test_rules_naming_what_the_server_lacks_stop_the_run_before_any_call(tmp_path: Path) -> None:
    block = "{peel: {doc: {enum: [a]}}, peek: {document: {enum: [a]}, doc: {enum: [1]}}}"
    sc = load_scenario(clerk(tmp_path, block))
    with pytest.raises(ToolCallError) as e:
        await run_scenario(sc, clients=ScriptedClient([tool_call("peek", doc="a"), "DONE"]))
    text = str(e.value)
    assert "arguments names tool 'peel', which MCP server 'files' does not offer" in text
    assert "arguments names peek.document, but tool 'peek' of MCP server 'files' has no such argument" in text
    assert "arguments allows 1 for peek.doc, which the server's schema refuses (type 'string')" in text
    assert made(tmp_path) == ""


async def test_the_model_sees_the_narrowed_schema(tmp_path: Path) -> None:
    block = "{peek: {doc: {enum: [a.txt, b.txt], description: One of the two files.}}}"
    sc = load_scenario(clerk(tmp_path, block))
    async with McpServerPool(sc.mcp_servers) as pool:
        tools = {t["name"]: t for t in await pool.workbench(McpUse(server="files")).list_tools()}
    doc = tools["peek"]["parameters"]["properties"]["doc"]
    assert doc["enum"] == ["a.txt", "b.txt"] and doc["description"] == "One of the two files."
    assert doc["type"] == "string"  # the server's own keywords stay
    assert "enum" not in tools["shred"]["parameters"]["properties"]["doc"]  # other tools as they were


async def test_a_value_outside_the_rule_is_refused_before_the_server_sees_it(tmp_path: Path) -> None:
    zones = tmp_path / "zones.txt"
    zones.write_text("\n".join(ZONES))
    block = "{peek: {doc: {enum_file: zones.txt}}, label: {doc: {pattern: '^[a-z]+[.]txt$'}}}"
    sc = load_scenario(clerk(tmp_path, block))
    calls = [
        tool_call("peek", doc="Asia/Tokio"),
        tool_call("peek", doc="UTC+8"),
        tool_call("label", doc="../etc/passwd"),
        tool_call("peek", doc="Asia/Tokyo"),
        tool_call("label", doc="notes.txt"),
        "DONE",
    ]
    result = await run_scenario(sc, clients=ScriptedClient(calls))
    texts = tool_texts(result)
    assert texts[0] == (
        f"Argument 'doc' of 'peek': 'Asia/Tokio' is not allowed. The closest of the {len(ZONES)} allowed "
        "values: 'Asia/Tokyo', 'Asia/Tomsk', 'Asia/Taipei', 'Asia/Thimphu', 'Asia/Tbilisi'.",
        True,
    )
    assert texts[1][1] and "'UTC+8' is not allowed." in texts[1][0]
    assert texts[2] == (
        "Argument 'doc' of 'label': '../etc/passwd' does not match the pattern '^[a-z]+[.]txt$'.",
        True,
    )
    assert texts[3:] == [("Asia/Tokyo: nothing to see", False), ("notes.txt labelled", False)]
    assert made(tmp_path) == "peek Asia/Tokyo\nlabel notes.txt\n"  # the refused calls never reached it


async def test_numbers_outside_the_bounds_and_short_lists_are_named(tmp_path: Path) -> None:
    block = "{peek: {doc: {enum: [a.txt, b.txt]}}}"
    sc = load_scenario(clerk(tmp_path, block))
    result = await run_scenario(sc, clients=ScriptedClient([tool_call("peek", doc="c.txt"), "DONE"]))
    assert tool_texts(result) == [
        ("Argument 'doc' of 'peek': 'c.txt' is not allowed. Allowed: 'a.txt', 'b.txt'.", True)
    ]


# --------------------------------------------------------------------------- what the model reads


def test_a_long_list_is_said_and_a_short_one_listed() -> None:
    long = {
        "name": "t",
        "parameters": {
            "type": "object",
            "properties": {"zone": {"type": "string", "description": "A zone.", "enum": ZONES}},
        },
    }
    shown = shown_tool(long)
    assert shown["parameters"]["properties"]["zone"] == {
        "type": "string",
        "description": f"A zone. One of {len(ZONES)} allowed values.",
    }
    assert long["parameters"]["properties"]["zone"]["enum"] == ZONES  # the original is left alone
    short = {
        "name": "t",
        "parameters": {"type": "object", "properties": {"zone": {"enum": ZONES[:SHOWN_ENUM]}}},
    }
    assert shown_tool(short) is short


async def test_the_context_budget_counts_what_the_model_reads() -> None:
    def tools(enum: list[str] | None):
        zone: dict[str, object] = {"type": "string", "description": "A zone."}
        if enum is not None:
            zone["enum"] = enum

        async def listed() -> list[object]:
            return [{"name": "t", "parameters": {"type": "object", "properties": {"zone": zone}}}]

        return listed

    plain = await ContextBudget(4096, 256, "", tools(None)).tokens()
    narrowed = await ContextBudget(4096, 256, "", tools(ZONES)).tokens()
    assert 0 < plain - narrowed < 20  # "One of 418 allowed values.", not 418 names


def test_an_endpoint_is_sent_the_short_view_and_its_calls_are_checked(
    srv: FakeOpenAI, tmp_path: Path
) -> None:
    zones = tmp_path / "zones.txt"
    zones.write_text("\n".join(ZONES))
    model = f"model: {{provider: openai, base_url: {srv.base_url!r}, model: m}}\n"
    sc = load_scenario(clerk(tmp_path, "{peek: {doc: {enum_file: zones.txt}}}", model=model))
    srv.script(
        [
            Reply(tool_calls=[("peek", {"doc": "Asia/Tokio"})]),
            Reply(tool_calls=[("peek", {"doc": "Asia/Tokyo"})]),
            Reply(text="DONE"),
        ]
    )
    import asyncio

    result = asyncio.run(run_scenario(sc, options=RunOptions()))
    first = srv.chat_requests[0].json
    (peek,) = [t["function"] for t in first["tools"] if t["function"]["name"] == "peek"]
    assert "enum" not in peek["parameters"]["properties"]["doc"]
    assert peek["parameters"]["properties"]["doc"]["description"].endswith(
        f"One of {len(ZONES)} allowed values."
    )
    assert len(json.dumps(first["tools"])) < 2000
    second = srv.chat_requests[1].json["messages"]
    assert any(
        "The closest of the" in str(m.get("content")) and "'Asia/Tokyo'" in str(m.get("content"))
        for m in second
    )
    assert made(tmp_path) == "peek Asia/Tokyo\n" and tool_texts(result)[1] == (
        "Asia/Tokyo: nothing to see",
        False,
    )


def test_refusals_read_values_as_json_does() -> None:
    from autogen_troupe.scenario._tool_arguments import ArgumentRule
    from autogen_troupe.tools._narrowing import refusal

    numbers = {"n": ArgumentRule(enum=(1, 2), minimum=1)}
    assert refusal("t", {"n": 2}, numbers) is None and refusal("t", {"n": 1.0}, numbers) is None
    assert refusal("t", {"n": True}, numbers) == "Argument 'n' of 't': True is not allowed. Allowed: 1, 2."
    assert refusal("t", {}, numbers) is None  # a missing argument is the server's to refuse
    low = {"n": ArgumentRule(minimum=1, maximum=5)}
    assert refusal("t", {"n": "3"}, low) == "Argument 'n' of 't': '3' is not a number of at least 1."
    assert refusal("t", {"n": 9}, low) == "Argument 'n' of 't': 9 is not a number of at most 5."
    zones = {"z": ArgumentRule(enum=tuple(ZONES))}
    huge = "Asia/" + "x" * 1_000_000
    said = refusal("t", {"z": huge}, zones)
    assert said is not None and len(said) < 300 and "It must be one of 418 allowed values" in said
    assert refusal("t", {"z": {"nested": ["Asia/Tokyo"]}}, zones) is not None


def test_a_forks_scenario_written_elsewhere_finds_its_enum_file(srv: FakeOpenAI, tmp_path: Path) -> None:
    """`troupe fork --cassette` with another task writes the changed scenario beside the cassette; its
    `enum_file` (relative to the original's folder) is named from there, so `troupe test` loads and replays
    it."""
    (tmp_path / "docs.txt").write_text("a.txt\nb.txt\n")
    path = clerk(tmp_path, "{peek: {doc: &doc {enum_file: docs.txt}}, label: {doc: *doc}}")
    out = tmp_path / "runs"
    srv.script([Reply(tool_calls=[("peek", {"doc": "a.txt"})]), Reply(text="DONE")])
    done = troupe("run", str(path), "--base-url", srv.base_url, "--model", "m", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    (original,) = out.glob("clerk-*.jsonl")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    srv.script([Reply(tool_calls=[("label", {"doc": "b.txt"})]), Reply(text="DONE")])
    forked = troupe(
        "fork", str(original), "--at", "1", "--out", str(out), "--task", "Tidy b.",
        "--cassette", str(elsewhere / "again.cassette.json"),
    )  # fmt: skip
    assert forked.returncode == 0, forked.stdout + forked.stderr
    written = elsewhere / "again.yaml"
    assert "enum_file: ../docs.txt" in written.read_text()
    assert load_scenario(written).mcp_servers["files"].arguments["label"]["doc"].enum == ("a.txt", "b.txt")
    srv.reset()
    tested = troupe("test", str(written))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert not srv.chat_requests
