"""Trajectory expectations in an eval: the scenario's and each row's tool calls (which, in what order,
with which arguments, how many in all and per tool), speakers and tool errors, each a line of the
summary and the report like any other expectation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fake_openai import Reply
from helpers import write
from test_eval_runs import CITIES, last_user, records, scenario

from autogen_troupe.eval import evaluate, load_tasks
from autogen_troupe.scenario import load_scenario

TOOL = (
    "\n              tools: ['autogen_troupe.tools.examples:trip_budget']"
    "\n              reflect_on_tool_use: true"
)


def respond(body: dict[str, Any]) -> Reply:
    """One trip_budget call; two for Lima; then the plan."""
    city = next((c for c in CITIES if c in last_user(body) or c in json.dumps(body["messages"])), "?")
    if not any(m["role"] == "tool" for m in body["messages"]):
        call = ("trip_budget", {"days": 2, "daily_usd": 50})
        return Reply(tool_calls=[call, call] if city == "Lima" else [call])
    return Reply(text=f"Day 1 in {city}. TERMINATE")


async def test_trajectory_expectations_per_scenario_and_per_row(tmp_path: Path, srv) -> None:
    srv.responder = respond
    sc = scenario(tmp_path, srv, judge=False, extra=TOOL)
    assert sc.source is not None
    text = sc.source.read_text()
    stop = "stop_reason: {contains: TERMINATE}"
    indent = text.split(stop)[0].rsplit("\n", 1)[1]
    extra = [
        "tool_calls: {per_tool: {trip_budget: {max: 1}}, calls: [trip_budget], order: superset}",
        "speakers: {includes: [planner], last: planner}",
        "no_tool_errors: true",
    ]
    sc.source.write_text(text.replace(stop, stop + "".join(f"\n{indent}{x}" for x in extra)))
    sc = load_scenario(sc.source)
    kyoto = {
        "calls": [{"name": "trip_budget", "arguments": {"days": 2}}],
        "order": "strict",
        "count": {"max": 1},
    }
    rows = [
        {"id": "kyoto", "vars": {"city": "Kyoto"}, "expect": {"tool_calls": kyoto}},
        {"id": "lima", "vars": {"city": "Lima"}, "expect": {"tool_calls": {"count": {"max": 1}}}},
        {"id": "oslo", "vars": {"city": "Oslo"}, "expect": {"tool_calls": [{"name": "trip_budget",
            "arguments": {"days": 3}}]}},
    ]  # fmt: skip
    tasks = load_tasks(write(tmp_path, "".join(json.dumps(r) + "\n" for r in rows), "t.jsonl"), sc)
    result = await evaluate(sc, tasks, out=tmp_path / "out")
    by = {r["task_id"]: r for r in records(tmp_path / "out")}
    assert by["kyoto"]["outcome"] == "pass"
    assert by["kyoto"]["checks"] == {
        "run": True,
        "stop_reason": True,
        "speakers": True,
        "tool_calls": True,
        "no_tool_errors": True,
        "task.tool_calls": True,
    }
    assert {k for k, ok in by["lima"]["checks"].items() if not ok} == {"tool_calls", "task.tool_calls"}
    assert any(
        f.startswith("tool_calls.per_tool.trip_budget: expected at most 1 calls of trip_budget; got 2")
        for f in by["lima"]["failures"]
    )
    assert any(
        f.startswith("task.tool_calls.count: expected at most 1 tool calls") for f in by["lima"]["failures"]
    )
    assert {k for k, ok in by["oslo"]["checks"].items() if not ok} == {"task.tool_calls"}
    rates = result.summary.checks
    assert (rates["tool_calls"].passed, rates["task.tool_calls"].passed, rates["speakers"].passed) == (
        2,
        1,
        3,
    )
    page = (tmp_path / "out" / "report.html").read_text()
    for name in ("task.tool_calls", "no_tool_errors", "speakers"):
        assert f"<td>{name}</td>" in page
