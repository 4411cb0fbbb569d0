"""Each expectation kind passes where it should and fails where it should, with a message that helps."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from autogen_troupe.runtime._transcript import (
    RunResult,
    Text,
    ToolCall,
    ToolCallItem,
    ToolResult,
    ToolResultItem,
    Usage,
)
from autogen_troupe.scenario._schema import Expect
from autogen_troupe.testing._expect import check_expectations


def _text(source: str, content: str, tokens: tuple[int, int] | None = None) -> Text:
    usage = Usage(prompt_tokens=tokens[0], completion_tokens=tokens[1]) if tokens else None
    return Text(source=source, elapsed_s=0.0, content=content, usage=usage)


def _call(source: str, *calls: tuple[str, dict[str, Any]]) -> ToolCall:
    items = tuple(ToolCallItem(id=f"c{i}", name=n, arguments=json.dumps(a)) for i, (n, a) in enumerate(calls))
    return ToolCall(source=source, elapsed_s=0.0, calls=items)


def _result(source: str, name: str, content: str, is_error: bool = False) -> ToolResult:
    item = ToolResultItem(call_id="c0", name=name, content=content, is_error=is_error)
    return ToolResult(source=source, elapsed_s=0.0, results=(item,))


def run(*entries: Any, stop: str = "Text 'TERMINATE' mentioned", stopped_by: str = "rule") -> RunResult:
    usage = Usage()
    for e in entries:
        if e.usage is not None:
            usage = usage + e.usage
    return RunResult(
        scenario="demo",
        task="Plan a trip",
        stop_reason=stop,
        stopped_by=stopped_by,  # type: ignore[arg-type]
        transcript=tuple(entries),
        usage=usage,
        duration_s=0.1,
    )


TRIP = run(
    _text("user", "Plan a trip"),
    _call("clock", ("get_current_time", {"timezone": "Asia/Seoul"})),
    _result("clock", "get_current_time", '{"datetime": "2026-11-22T09:00:00+09:00"}'),
    _text("clock", "It is 9:00 in Seoul.", (100, 10)),
    _call(
        "guide",
        ("convert_currency", {"amount": 100, "from": "USD", "to": "KRW"}),
        ("phrases", {"lang": "ko"}),
    ),
    _result("guide", "convert_currency", "133000 KRW"),
    _text("guide", "Visit Gyeongbokgung.", (200, 20)),
    _text("desk", "Summary: all set. TERMINATE", (300, 30)),
)


def check(result: RunResult, **expect: Any):
    return check_expectations(result, Expect.model_validate(expect))


def failed(report) -> list[str]:
    return [f.expectation for f in report.failures]


# --------------------------------------------------------------------------- each kind


@pytest.mark.parametrize(
    ("spec", "ok"),
    [
        ({"equals": "Text 'TERMINATE' mentioned"}, True),
        ({"equals": "TERMINATE"}, False),
        ({"contains": "TERMINATE"}, True),
        ({"contains": "Maximum"}, False),
        ({"regex": r"^Text '\w+' mentioned$"}, True),
        ({"regex": r"^Maximum number"}, False),
    ],
)
def test_stop_reason(spec: dict[str, str], ok: bool) -> None:
    report = check(TRIP, stop_reason=spec)
    assert report.passed is ok
    if not ok:
        (f,) = report.failures
        assert f.expectation == f"stop_reason.{next(iter(spec))}"
        assert "Text 'TERMINATE' mentioned" in f.actual


def test_speakers_exact_order() -> None:
    assert check(TRIP, speakers=["user", "clock", "guide", "desk"]).passed
    report = check(TRIP, speakers=["user", "guide", "clock", "desk"])
    (f,) = report.failures
    assert f.expectation == "speakers.exact"
    assert "first difference at message 1" in f.expected
    assert f.actual == "[user, clock, guide, desk]"
    assert any("clock: It is 9:00 in Seoul." in line for line in f.lines)


def test_speakers_first_last_set_includes() -> None:
    assert check(TRIP, speakers={"first": "user", "last": "desk"}).passed
    assert check(TRIP, speakers={"set": ["desk", "guide", "clock", "user"]}).passed
    assert check(TRIP, speakers={"includes": ["guide"]}).passed
    report = check(
        TRIP, speakers={"first": "clock", "last": "guide", "set": ["user", "clock"], "includes": ["bob"]}
    )
    assert failed(report) == ["speakers.first", "speakers.last", "speakers.set", "speakers.includes"]
    by = {f.expectation: f for f in report.failures}
    assert "not expected: desk, guide" in by["speakers.set"].actual
    assert "never spoke: bob" in by["speakers.includes"].actual


def test_tool_calls_names_and_argument_subsets() -> None:
    assert check(TRIP, tool_calls=["get_current_time"]).passed
    assert check(
        TRIP, tool_calls=[{"name": "get_current_time", "arguments": {"timezone": "Asia/Seoul"}}]
    ).passed
    assert check(
        TRIP, tool_calls=[{"name": "convert_currency", "arguments": {"to": "KRW"}, "agent": "guide"}]
    ).passed
    report = check(TRIP, tool_calls=[{"name": "get_current_time", "arguments": {"timezone": "Europe/Paris"}}])
    (f,) = report.failures
    assert f.expectation == "tool_calls (order: subset)"
    assert "missing get_current_time" in f.actual and "Europe/Paris" in f.actual
    assert any("[tool call] get_current_time" in line for line in f.lines)
    assert not check(TRIP, tool_calls=[{"name": "convert_currency", "agent": "clock"}]).passed


CALLS = ["get_current_time", "convert_currency", "phrases"]


@pytest.mark.parametrize(
    ("order", "calls", "ok"),
    [
        ("strict", CALLS, True),
        ("strict", ["convert_currency", "get_current_time", "phrases"], False),
        ("strict", CALLS[:2], False),
        ("unordered", ["phrases", "get_current_time", "convert_currency"], True),
        ("unordered", CALLS[:2], False),
        ("unordered", [*CALLS, "phrases"], False),
        ("subset", ["phrases", "get_current_time"], True),
        ("subset", ["phrases", "phrases"], False),  # one-to-one: only one phrases call happened
        ("superset", [*CALLS, "weather"], True),
        ("superset", CALLS[:2], False),
        ("superset", ["get_current_time", "convert_currency", {"name": "phrases", "agent": "guide"}], True),
        ("superset", ["get_current_time", "convert_currency", {"name": "phrases", "agent": "clock"}], False),
    ],
)
def test_tool_call_order_modes(order: str, calls: list[str], ok: bool) -> None:
    report = check(TRIP, tool_calls={"calls": calls, "order": order})
    assert report.passed is ok, report
    if not ok:
        assert report.failures[0].expectation == f"tool_calls (order: {order})"


def test_superset_allows_repeated_calls_of_a_listed_kind() -> None:
    r = run(_text("user", "x"), *[_call("clock", ("get_current_time", {"timezone": "Asia/Seoul"}))] * 3)
    assert check(r, tool_calls={"calls": ["get_current_time", "convert_time"], "order": "superset"}).passed
    assert not check(r, tool_calls={"calls": ["get_current_time"], "order": "unordered"}).passed
    assert check(r, tool_calls={"calls": ["get_current_time"] * 3, "order": "unordered"}).passed
    assert not check(r, tool_calls={"calls": ["get_current_time"] * 4, "order": "subset"}).passed


def test_argument_matching_is_one_to_one_not_greedy() -> None:
    r = run(
        _text("user", "x"),
        _call("a", ("f", {"x": 1, "y": 2}), ("f", {"x": 1})),
    )
    # The first expectation could take either call; the pairing must still place both.
    assert check(
        r,
        tool_calls={
            "calls": [{"name": "f", "arguments": {"x": 1}}, {"name": "f", "arguments": {"y": 2}}],
            "order": "unordered",
        },
    ).passed


def test_message_count_range() -> None:
    assert check(TRIP, messages={"min": 4, "max": 4}).passed
    assert check(TRIP, messages={"max": 10}).passed
    report = check(TRIP, messages={"min": 5, "max": 8})
    (f,) = report.failures
    assert (f.expectation, f.expected, f.actual) == (
        "messages",
        "at least 5 and at most 8 messages (the task included)",
        "4",
    )
    assert not check(TRIP, messages={"max": 3}).passed


def test_final_message() -> None:
    assert check(TRIP, final_message={"contains": "TERMINATE"}).passed
    assert check(TRIP, final_message={"regex": r"Summary: .* TERMINATE$"}).passed
    report = check(TRIP, final_message={"contains": "Seoul", "regex": "^Day 1"})
    assert failed(report) == ["final_message.contains", "final_message.regex"]
    assert report.failures[0].lines == ("#7 desk: Summary: all set. TERMINATE",)


def test_max_total_tokens() -> None:
    assert check(TRIP, max_total_tokens=660).passed
    report = check(TRIP, max_total_tokens=659)
    (f,) = report.failures
    assert f.actual == "660 (600 prompt + 60 completion)"
    assert f.lines[0] == "desk: 330 tokens"  # the biggest spender first


def test_no_tool_errors() -> None:
    assert check(TRIP, no_tool_errors=True).passed
    broken = run(
        _text("user", "x"),
        _call("clock", ("get_current_time", {"timezone": "Mars/Base"})),
        _result("clock", "get_current_time", "Invalid timezone: Mars/Base", is_error=True),
    )
    report = check(broken, no_tool_errors=True)
    (f,) = report.failures
    assert f.actual == "1 tool error(s)"
    assert "get_current_time ERROR: Invalid timezone: Mars/Base" in f.lines[0]
    assert check(broken, no_tool_errors=False).passed


def test_per_agent_constraints() -> None:
    ok = {
        "clock": {"messages": {"min": 1, "max": 1}, "contains": "Seoul", "tool_calls": ["get_current_time"]},
        "guide": {
            "regex": "Gyeong\\w+",
            "tool_calls": {"calls": ["phrases", "convert_currency"], "order": "unordered"},
        },
    }
    assert check(TRIP, agents=ok).passed
    bad = {
        "clock": {"messages": {"min": 2}, "contains": "Paris", "tool_calls": ["convert_currency"]},
        "desk": {"regex": "^Day", "tool_calls": {"calls": [], "order": "superset"}},
    }
    report = check(TRIP, agents=bad)
    assert failed(report) == [
        "agents.clock.messages",
        "agents.clock.contains",
        "agents.clock.tool_calls (order: subset)",
        "agents.desk.regex",
    ]
    assert report.failures[0].lines == ("#3 clock: It is 9:00 in Seoul.",)


def test_a_failed_run_fails_whatever_is_expected() -> None:
    r = run(_text("user", "x"), stop="ModelCallError: connection refused", stopped_by="error")
    report = check_expectations(r, None)
    assert failed(report) == ["run"]
    assert "error" in report.failures[0].actual


def test_report_text_names_expectation_expected_and_actual() -> None:
    report = check(
        TRIP, speakers={"last": "guide"}, max_total_tokens=10, stop_reason={"contains": "TERMINATE"}
    )
    text = str(report)
    assert text.startswith("demo: 2 of 3 expectations failed")
    assert "speakers.last: expected 'guide'; got [user, clock, guide, desk]" in text
    assert "max_total_tokens: expected at most 10 tokens; got 660" in text
    assert check(TRIP, stop_reason={"contains": "TERMINATE"}).passed
    assert str(check(TRIP, stop_reason={"contains": "TERMINATE"})) == "demo: 1 expectations hold"


# --------------------------------------------------------------------------- the block itself


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"messages": {"min": 5, "max": 2}}, "min (5) is greater than max (2)"),
        ({"messages": {}}, "give min, max or both"),
        ({"speakers": {}}, "give at least one of exact"),
        ({"final_message": {"regex": "("}}, "does not compile"),
        ({"agents": {"a": {"regex": "["}}}, "does not compile"),
        ({"tool_calls": {"calls": ["x"], "order": "sideways"}}, "strict"),
        ({"stop_reason": {}}, "give one of equals, contains or regex"),
    ],
)
def test_bad_expect_blocks_are_rejected(block: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as e:
        Expect.model_validate(block)
    assert message in str(e.value)


def test_unknown_agent_names_in_expect_are_located(tmp_path) -> None:
    from autogen_troupe.errors import ScenarioError
    from autogen_troupe.scenario import load_scenario

    f = tmp_path / "s.yaml"
    f.write_text(
        "name: s\ntask: hi\nteam:\n  kind: round_robin\n  agents: [{name: a}, {name: b}]\n"
        "expect:\n  tool_calls:\n    calls: [{name: t, agent: zed}]\n"
    )
    with pytest.raises(ScenarioError) as e:
        load_scenario(f)
    (issue,) = e.value.issues
    assert "'zed' is not an agent of this team" in issue.message
    assert issue.line == 8


def test_tool_call_counts_in_all_and_per_tool() -> None:
    """`count` bounds the calls in all, `per_tool` each named tool's; alone or beside a list of calls."""
    r = run(_text("user", "x"), *[_call("clock", ("get_current_time", {"timezone": "Asia/Seoul"}))] * 3)
    assert check(r, tool_calls={"count": {"max": 3}, "per_tool": {"get_current_time": {"max": 3}}}).passed
    report = check(r, tool_calls={"count": {"max": 2}, "per_tool": {"get_current_time": {"max": 1}}})
    by = {f.expectation: f for f in report.failures}
    assert set(by) == {"tool_calls.count", "tool_calls.per_tool.get_current_time"}
    assert by["tool_calls.count"].expected == "at most 2 tool calls"
    assert by["tool_calls.count"].actual == "3 tool calls"
    assert by["tool_calls.per_tool.get_current_time"].expected == "at most 1 calls of get_current_time"
    assert not check(r, tool_calls={"per_tool": {"search": {"min": 1}}}).passed
    both = check(r, tool_calls={"calls": ["phrases"], "count": {"max": 1}})
    assert {f.expectation for f in both.failures} == {"tool_calls.count", "tool_calls (order: subset)"}
    per_agent = check(r, agents={"clock": {"tool_calls": {"count": {"max": 2}}}})
    assert [f.expectation for f in per_agent.failures] == ["agents.clock.tool_calls.count"]
    assert check(TRIP, agents={"clock": {"tool_calls": {"count": {"max": 1}}}}).passed
    with pytest.raises(ValidationError, match="min"):
        Expect.model_validate({"tool_calls": {"count": {"min": 3, "max": 1}}})
