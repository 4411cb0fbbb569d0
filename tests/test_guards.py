"""Guards: loop breakers (the same tool call again, an agent repeating itself) and budgets (tool calls per
run and per tool, tokens when a stream reports none, engine time), as termination rules and `limits`; each
one that fires is a `guard` entry of the transcript and checkable with `expect: {guards: [...]}`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAI, Reply, _stream_chunks
from helpers import write

from autogen_troupe import RunOptions, load_scenario, run_scenario
from autogen_troupe.agents._guards import similarity
from autogen_troupe.errors import ScenarioError
from autogen_troupe.models._endpoints import Overrides
from autogen_troupe.models._engine_time import EngineMeter, engine_clock, metering
from autogen_troupe.tapes import read_tape
from autogen_troupe.tapes._records import Guard, ToolResult
from autogen_troupe.testing import Reply as Scripted
from autogen_troupe.testing import ScriptedClient, tool_call
from autogen_troupe.testing._expect import check_expectations

SHREDDER = Path(__file__).resolve().parent / "mcp_fixtures" / "shredder.py"


def scenario(tmp_path: Path, *, limits: str = "", termination: str = "", expect: str = "") -> Any:
    """One agent with the shredder's tools, answering turn after turn (round robin of one)."""
    log = tmp_path / "shredder.log"
    text = (
        "name: clerk\ntask: Tidy the files.\n"
        "team:\n  kind: round_robin\n  agents: [{name: clerk, mcp: [files]}]\n"
        + (f"  termination: {termination}\n" if termination else "")
        + f"mcp_servers:\n  files: {{command: {sys.executable}, args: [{str(SHREDDER)!r}, {str(log)!r}], "
        "approve: allow}\n"
        + (f"limits: {limits}\n" if limits else "")
        + (f"expect: {expect}\n" if expect else "")
    )
    return load_scenario(write(tmp_path, text, "clerk.yaml"))


def guards_of(result: Any) -> list[Guard]:
    return [e for e in result.transcript if isinstance(e, Guard)]


async def test_the_same_tool_call_three_times_in_a_row_stops_the_run_by_default(tmp_path: Path) -> None:
    sc = scenario(tmp_path, expect="{guards: [repeated_tool_call]}")
    again = tool_call("peek", doc="a.txt")
    result = await run_scenario(sc, clients=ScriptedClient([again, again, again, "never asked"]))
    assert result.stopped_by == "limit"
    assert result.stop_reason.startswith("repeated_tool_call: peek was called 3 times in a row")
    (guard,) = guards_of(result)
    assert guard.guard == "repeated_tool_call" and guard.limit and guard.data["tool"] == "peek"
    assert result.transcript[-1] == guard  # after the run's last message
    assert (tmp_path / "shredder.log").read_text() == "peek a.txt\n" * 3
    assert check_expectations(result, sc.expect).passed


async def test_other_arguments_between_start_the_count_again(tmp_path: Path) -> None:
    sc = scenario(tmp_path, termination="{text_mention: DONE}", expect="{guards: []}")
    a, b = tool_call("peek", doc="a.txt"), tool_call("peek", doc="b.txt")
    result = await run_scenario(sc, clients=ScriptedClient([a, a, b, a, a, "DONE"]))
    assert result.stopped_by == "rule" and "DONE" in result.stop_reason
    assert guards_of(result) == [] and check_expectations(result, sc.expect).passed


async def test_a_repeated_tool_call_rule_with_its_own_count(tmp_path: Path) -> None:
    sc = scenario(
        tmp_path,
        limits="{repeated_tool_call: null}",
        termination="{any: [{repeated_tool_call: 4}, {text_mention: DONE}]}",
    )
    again = tool_call("label", doc="x")
    below = await run_scenario(sc, clients=ScriptedClient([again] * 3 + ["DONE"]))
    assert below.guards == () and "DONE" in below.stop_reason
    at = await run_scenario(sc, clients=ScriptedClient([again] * 4 + ["never asked"]))
    assert at.guards == ("repeated_tool_call",) and at.stopped_by == "rule"  # the scenario's own rule


async def test_an_agent_saying_nearly_the_same_thing_again_stops_the_run(tmp_path: Path) -> None:
    sc = scenario(
        tmp_path,
        limits="{repeated_message: null}",
        termination="{repeated_message: {times: 3, similarity: 0.9}}",
    )
    said = [
        "Day 1: Kathmandu, Durbar Square.",
        "day 1 - Kathmandu; Durbar square!",
        "Day 1: Kathmandu Durbar Square",
    ]
    result = await run_scenario(sc, clients=ScriptedClient([*said, "never asked"]))
    assert result.guards == ("repeated_message",) and result.stopped_by == "rule"
    assert result.stop_reason == (
        "repeated_message: clerk said nearly the same thing 3 times in a row (similarity at least 0.9)"
    )
    # just below: the third differs enough, so the count starts again
    other = [*said[:2], "Day 2: Pokhara and the lake.", "DONE"]
    sc2 = scenario(
        tmp_path, termination="{any: [{repeated_message: {times: 3, similarity: 0.9}}, {text_mention: DONE}]}"
    )
    result = await run_scenario(sc2, clients=ScriptedClient(other))
    assert result.guards == () and "DONE" in result.stop_reason


def test_near_means_normalised_text_similarity() -> None:
    assert similarity("Hello, World!", "hello world") == 1.0  # case, punctuation and spacing set aside
    assert similarity("Day 1: Kathmandu.", "Day 1: Kathmandu and Patan.") < 0.9
    assert 0.9 <= similarity("The plan is ready for review.", "The plan is ready for a review.") < 1.0
    assert similarity("", "anything") == 0.0


async def test_tool_call_caps_per_run_and_per_tool(tmp_path: Path) -> None:
    per_tool = scenario(
        tmp_path, limits="{max_tool_calls_per_tool: {label: 2}}", expect="{guards: [max_tool_calls_per_tool]}"
    )
    calls = [tool_call("label", doc="a"), tool_call("peek", doc="a"), tool_call("label", doc="b"), "never"]
    result = await run_scenario(per_tool, clients=ScriptedClient(calls))
    assert result.stop_reason == "max_tool_calls_per_tool: label called 2 times (cap 2)"
    assert result.stopped_by == "limit" and check_expectations(result, per_tool.expect).passed
    assert (tmp_path / "shredder.log").read_text() == "label a\npeek a\nlabel b\n"
    # below the cap: peek is not counted against label's
    below = scenario(
        tmp_path, limits="{max_tool_calls_per_tool: {label: 2}}", termination="{text_mention: DONE}"
    )
    result = await run_scenario(
        below, clients=ScriptedClient([*calls[:2], tool_call("peek", doc="c"), "DONE"])
    )
    assert result.guards == ()
    whole = scenario(tmp_path, limits="{max_tool_calls: 3}", termination="{text_mention: DONE}")
    result = await run_scenario(whole, clients=ScriptedClient([*calls[:3], "never"]))
    assert (
        result.guards == ("max_tool_calls",)
        and result.stop_reason == "max_tool_calls: 3 tool calls made (cap 3)"
    )
    result = await run_scenario(whole, clients=ScriptedClient([*calls[:2], "DONE"]))
    assert result.guards == ()


async def test_a_cap_holds_within_one_answer_too(tmp_path: Path) -> None:
    """Three calls of `label` in one answer under a cap of 2: the third is not made, the model reads why,
    and the run stops at the end of the turn."""
    sc = scenario(tmp_path, limits="{max_tool_calls_per_tool: {label: 2}}")
    three = Scripted(tool_calls=tuple(("label", {"doc": d}) for d in "abc"))
    result = await run_scenario(sc, clients=ScriptedClient([three, "never asked"]))
    # the answer's calls run side by side, so the server may log them in either order
    assert sorted((tmp_path / "shredder.log").read_text().splitlines()) == ["label a", "label b"]
    (results,) = [e.results for e in result.transcript if isinstance(e, ToolResult)]
    assert [r.is_error for r in results] == [False, False, True]
    assert results[2].content == (
        "Tool call 'label' not made: label may be called at most 2 times in this run "
        "(limits.max_tool_calls_per_tool)."
    )
    assert result.guards == ("max_tool_calls_per_tool",)
    whole = scenario(tmp_path, limits="{max_tool_calls: 1}")
    result = await run_scenario(whole, clients=ScriptedClient([three, "never asked"]))
    assert (tmp_path / "shredder.log").read_text().splitlines()[2:] == ["label a"]
    assert result.guards == ("max_tool_calls",)


async def test_a_guard_expected_but_not_fired_fails_the_expectation(tmp_path: Path) -> None:
    sc = scenario(tmp_path, termination="{text_mention: DONE}", expect="{guards: [repeated_message]}")
    result = await run_scenario(sc, clients=ScriptedClient(["DONE"]))
    report = check_expectations(result, sc.expect)
    assert not report.passed
    (failure,) = report.failures
    assert failure.expectation == "guards" and failure.actual == "no guard fired"


def test_a_misspelt_guard_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"expect.guards\[0\]: Input should be 'repeated_tool_call'"):
        scenario(tmp_path, expect="{guards: [repeated_tool_calls]}")
    with pytest.raises(ScenarioError, match="repeated_tool_call: must be a valid integer from 2 to"):
        scenario(tmp_path, termination="{repeated_tool_call: 1}")


async def test_a_token_budget_fires_when_the_stream_reports_no_usage(srv: FakeOpenAI, tmp_path: Path) -> None:
    words = "one two three four five six seven eight nine ten eleven twelve"
    silent = Reply(
        chunks=tuple(_stream_chunks(0, "m", Reply(text=words), [], "stop", None))
    )  # no usage chunk
    srv.default = silent
    text = (
        "name: talker\ntask: Talk.\nteam: {kind: round_robin, agents: [{name: a, stream: true}]}\n"
        "limits: {max_total_tokens: 200, repeated_message: null}\n"
    )
    sc = load_scenario(write(tmp_path, text, "talker.yaml"))
    opts = RunOptions(overrides=Overrides(base_url=srv.base_url, model="m"), out_dir=tmp_path / "runs")
    result = await run_scenario(sc, options=opts)
    assert srv.chat_requests[0].json["stream_options"] == {"include_usage": True}
    assert result.guards == ("max_total_tokens",) and result.stopped_by == "limit"
    assert len(srv.chat_requests) < 10 and result.usage.completion_tokens >= 12 * len(srv.chat_requests)
    tape = read_tape(result.transcript_path)
    assert [e.guard for e in tape.of(Guard)] == ["max_total_tokens"]


async def test_engine_time_is_metered_reported_and_capped(tmp_path: Path) -> None:
    ticks = iter([10.0, 12.5, 20.0, 21.0])  # a fake clock: two requests of 2.5 s and 1 s
    meter = EngineMeter()
    with metering(meter):
        for _ in range(2):
            with engine_clock(lambda: next(ticks)):
                pass
    assert meter.seconds == 3.5 and meter.requests == 2
    with engine_clock(lambda: next(ticks, 0.0)):  # outside a run: charged to nobody
        pass

    class Engine(ScriptedClient):
        """A scripted model that charges 2 s of engine time per answer, as the in-process client does."""

        clock = iter(range(0, 1000, 2))

        async def create(self, messages: Any, **kw: Any) -> Any:
            with engine_clock(lambda: float(next(self.clock))):
                return await super().create(messages, **kw)

        async def create_stream(self, messages: Any, **kw: Any) -> Any:
            with engine_clock(lambda: float(next(self.clock))):
                async for item in super().create_stream(messages, **kw):
                    yield item

    sc = scenario(tmp_path, limits="{max_engine_seconds: 5}", termination="{text_mention: DONE}")
    result = await run_scenario(
        sc, clients=Engine(["a", "b", "c", "d"]), options=RunOptions(out_dir=tmp_path / "r")
    )
    assert result.guards == ("max_engine_seconds",) and result.engine_s == 6.0
    assert result.stop_reason == "max_engine_seconds: the engine spent 6.00 s on this run (cap 5 s)"
    assert read_tape(result.transcript_path).run_result().engine_s == 6.0
    plain = await run_scenario(sc, clients=ScriptedClient(["DONE"]))
    assert plain.engine_s is None  # no engine used
