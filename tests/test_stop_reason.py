"""The reason a run stopped is a typed value decided where the conditions are built (agents/_stop.py): which
rule or cap fired, by a stable name, with AutoGen's text kept as it was; the transcript's result record
holds it, and a transcript written before it existed still reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import write

from autogen_troupe import RunOptions, StopReason, load_scenario, run_scenario
from autogen_troupe.tapes import read_tape
from autogen_troupe.testing import ScriptedClient

TEAM = """\
name: pair
task: Plan it.
team:
  kind: round_robin
  agents:
    - {name: a, system_message: Plan.}
    - {name: b, system_message: Check.}
"""


async def _run(tmp_path: Path, extra: str, replies: list[str]) -> tuple[StopReason, Path]:
    scenario = load_scenario(write(tmp_path, TEAM + extra))
    result = await run_scenario(
        scenario, clients=ScriptedClient(replies), options=RunOptions(out_dir=tmp_path / "runs")
    )
    assert result.transcript_path is not None
    return result.stop, result.transcript_path


async def test_the_rule_that_fired_is_named_and_autogen_text_kept(tmp_path: Path) -> None:
    rule = "  termination: {any: [{text_mention: TERMINATE}, {max_messages: 20}]}\n"
    stop, transcript = await _run(tmp_path, rule, ["x", "ok TERMINATE"])
    assert stop == StopReason(
        kind="rule", condition="text_mention", fired=("text_mention",), text="Text 'TERMINATE' mentioned"
    )
    tape = read_tape(transcript)
    assert tape.result is not None and tape.result.stop == stop
    line = json.loads(transcript.read_text().splitlines()[-1])
    # readers of the plain fields keep working beside the typed one
    assert line["stop"]["condition"] == "text_mention"
    assert (line["stop_reason"], line["stopped_by"]) == ("Text 'TERMINATE' mentioned", "rule")
    whole = tape.run_result()
    assert whole is not None and whole.stop == stop and whole.stop_reason == stop.text


@pytest.mark.parametrize(
    ("extra", "kind", "fired"),
    [
        ("limits: {max_messages: 3}\n", "limit", ("max_messages",)),  # the cap, no rule of its own
        ("  termination: {max_messages: 3}\nlimits: {max_messages: 3}\n", "rule", ("max_messages",)),
        ("  termination: {token_usage: 5}\n", "rule", ("token_usage",)),
    ],
    ids=["cap", "own-rule-equal-to-the-cap", "token-usage"],
)
async def test_a_cap_and_a_rule_are_told_apart_without_reading_text(
    tmp_path: Path, extra: str, kind: str, fired: tuple[str, ...]
) -> None:
    stop, _ = await _run(tmp_path, extra, ["one two three four five six"] * 5)
    assert (stop.kind, stop.condition, stop.fired) == (kind, fired[0], fired)


async def test_an_all_rule_names_every_part_that_fired(tmp_path: Path) -> None:
    extra = "  termination: {all: [{text_mention: DONE}, {max_messages: 4}]}\n"
    stop, _ = await _run(tmp_path, extra, ["DONE", "more", "more"])
    assert stop.kind == "rule" and stop.fired == ("text_mention", "max_messages")
    assert stop.condition == "max_messages"  # the part that fired last ended the run


async def test_a_team_ending_on_its_own_turns_is_max_turns(tmp_path: Path) -> None:
    one = "name: one\ntask: Hi.\nteam: {kind: single, agents: [{name: a}]}\n"
    scenario = load_scenario(write(tmp_path, one))
    result = await run_scenario(scenario, clients=ScriptedClient(["hello"]))
    assert (result.stop.kind, result.stop.condition) == ("rule", "max_turns")
    assert result.stop_reason == "Maximum number of turns 1 reached."


async def test_any_condition_built_with_a_name_says_so() -> None:
    """How a guard joins: `named(condition, NAME, kind="limit")`, OR-ed into the team's condition."""
    from autogen_agentchat.conditions import SourceMatchTermination

    from autogen_troupe.agents._build import assemble_team
    from autogen_troupe.agents._stop import named, watch_of
    from autogen_troupe.scenario import Scenario

    scenario = Scenario.model_validate(
        {"name": "g", "task": "t", "team": {"kind": "round_robin", "agents": [{"name": "a"}, {"name": "b"}]}}
    )
    client = ScriptedClient(["first", "second", "third"])
    team = assemble_team(
        scenario,
        client_for=lambda agent, ref: client,
        extra_termination=named(SourceMatchTermination(["b"]), "guard_demo", kind="limit"),
    )
    result = await team.run(task="go")
    assert result.stop_reason == "'b' answered"  # AutoGen's own text, unchanged
    watch = watch_of(team)
    assert watch is not None and watch.stop is not None
    assert (watch.stop.kind, watch.stop.condition) == ("limit", "guard_demo")


def test_a_transcript_older_than_the_typed_stop_still_reads(tmp_path: Path) -> None:
    lines = [
        {"record": "run", "scenario": "old", "started_at": "2026-12-01T00:00:00Z", "task": "t"},
        {"record": "entry", "kind": "text", "source": "user", "elapsed_s": 0, "content": "t"},
        {
            "record": "result", "scenario": "old", "task": "t", "stop_reason": "Maximum number of messages 4 "
            "reached, current message count: 4", "stopped_by": "limit", "usage": {}, "duration_s": 1.0,
        },
    ]  # fmt: skip
    path = tmp_path / "old.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    result = read_tape(path).run_result()
    assert result is not None and result.ok
    assert result.stop == StopReason(kind="limit", text=lines[2]["stop_reason"])
    assert (result.stopped_by, result.stop.condition) == ("limit", None)


async def test_troupe_serve_lists_past_runs_through_the_typed_reader(tmp_path: Path) -> None:
    """A past run's summary carries its typed stop; an older transcript (no `stop`) reads as before, and
    a record whose fields do not fit is skipped, not shown half."""
    from autogen_troupe.serve._past import list_past, read_past

    rule = "  termination: {text_mention: TERMINATE}\n"
    _, transcript = await _run(tmp_path, rule, ["x", "ok TERMINATE"])
    out = transcript.parent
    old = [
        {"record": "run", "scenario": "old", "started_at": "2026-12-01T00:00:00Z", "task": "t"},
        {"record": "entry", "kind": "text", "source": "user", "elapsed_s": 0, "content": "t"},
        {"record": "entry", "kind": "text", "source": ["not", "a", "name"], "elapsed_s": 0, "content": "t"},
        {"record": "result", "scenario": "old", "task": "t", "stop_reason": "cap", "stopped_by": "limit",
         "usage": {"prompt_tokens": 3}, "duration_s": 1.0},
    ]  # fmt: skip
    (out / "old-1.jsonl").write_text("".join(json.dumps(x) + "\n" for x in old))
    listed = {r["id"]: r for r in list_past(out)}
    new = listed[transcript.stem]
    assert new["status"] == "done" and new["stop"]["condition"] == "text_mention"
    assert new["stop_reason"] == "Text 'TERMINATE' mentioned" and new["stopped_by"] == "rule"
    was = listed["old-1"]
    assert (was["status"], was["stopped_by"], was["stop"]["condition"]) == ("done", "limit", None)
    assert was["usage"]["prompt_tokens"] == 3
    one = read_past(out, "old-1")
    assert one is not None and [e["source"] for e in one["entries"]] == ["user"]
    assert one["messages"] == 1
