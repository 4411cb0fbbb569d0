"""Graph teams in the scenario file: conditions are data, and `troupe check` finds what is wrong with a
graph at its file:line:column (unknown or unreachable nodes, unbounded loops, fan-ins that never fire)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import troupe, write

from autogen_troupe.errors import ScenarioError
from autogen_troupe.scenario import load_scenario
from autogen_troupe.scenario._graph import Mentions, NotWhen, OutputIs, entry_nodes

HEAD = """\
name: g
task: Plan a trip.
team:
  kind: graph
  agents:
    - {name: planner, system_message: Draft.}
    - {name: guide, system_message: Guide.}
    - {name: coach, system_message: Coach.}
    - {name: reviewer, system_message: Review.}
    - {name: summary, system_message: Sum.}
"""

GOOD = (
    HEAD
    + """\
  entry: [planner]
  edges:
    - {from: planner, to: guide}
    - {from: planner, to: coach}
    - {from: guide, to: reviewer}
    - {from: coach, to: reviewer}
    - {from: reviewer, to: planner, when: {not: {mentions: APPROVE}}}
    - {from: reviewer, to: summary}
  nodes:
    planner: {max_visits: 3}
"""
)


def test_a_graph_with_a_bounded_loop_and_a_fan_in_loads_with_its_conditions_as_data(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, GOOD))
    back = sc.team.edges[4]
    assert (back.from_, back.to) == ("reviewer", "planner")
    assert back.when == NotWhen(not_=Mentions(mentions="APPROVE"))
    assert sc.team.edges[5].when is None  # the default branch
    assert sc.team.nodes["planner"].max_visits == 3
    # the condition survives a dump and a reload, unlike AutoGen's callable conditions
    dumped = sc.team.model_dump(mode="json", exclude_defaults=True)
    assert dumped["edges"][4] == {
        "from": "reviewer",
        "to": "planner",
        "when": {"not": {"mentions": "APPROVE"}},
    }
    assert type(sc.team).model_validate(sc.team.model_dump(mode="json", exclude_unset=True)) == sc.team


def test_every_condition_kind_and_combination_parses(tmp_path: Path) -> None:
    when = (
        "{any: [{mentions: OK, ignore_case: true}, {regex: '^DONE'}, {source: guide},"
        " {output: {verdict: approve, score: 3}}, {all: [{tool_failed: true}, {not: {tool_failed: false}}]}]}"
    )
    text = (
        HEAD
        + f"  edges:\n    - {{from: planner, to: guide, when: {when}}}\n"
        + (
            "    - {from: planner, to: coach}\n    - {from: coach, to: reviewer}\n"
            "    - {from: guide, to: reviewer}\n    - {from: reviewer, to: summary}\n"
            "  nodes: {reviewer: {activation: any}}\n"
        )
    )
    sc = load_scenario(write(tmp_path, text))
    kinds = [type(c).__name__ for c in sc.team.edges[0].when.any]  # type: ignore[union-attr]
    assert kinds == ["Mentions", "RegexWhen", "SourceIs", "OutputIs", "AllWhen"]
    assert sc.team.edges[0].when.any[3] == OutputIs(output={"verdict": "approve", "score": 3})  # type: ignore[union-attr]


def test_entry_nodes_default_to_those_no_edge_leads_to(tmp_path: Path) -> None:
    sc = load_scenario(
        write(
            tmp_path,
            GOOD.replace("  entry: [planner]\n", "")
            .replace("    - {from: reviewer, to: planner, when: {not: {mentions: APPROVE}}}\n", "")
            .replace("    planner: {max_visits: 3}\n", "    planner: {}\n"),
        )
    )
    assert entry_nodes([a.name for a in sc.team.agents], sc.team.edges, sc.team.entry) == ["planner"]


BAD = {
    "unknown_node": (
        GOOD.replace("{from: coach, to: reviewer}", "{from: coach, to: reviewr}"),
        "edge 3 to 'reviewr', which is not an agent of this team",
        "16:25: team.edges[3].to",
    ),
    "unknown_entry": (
        GOOD.replace("entry: [planner]", "entry: [plnner]"),
        "entry 'plnner'",
        "11:11: team.entry[0]",
    ),
    "unknown_source": (
        GOOD.replace("{mentions: APPROVE}", "{source: revieuw}"),
        "condition names source 'revieuw'",
        "17:58: team.edges[4].when.not.source",
    ),
    "unreachable": (
        GOOD.replace("    - {from: reviewer, to: summary}\n", ""),
        "agent 'summary' is unreachable",
        "10:14: team.agents[4].name",
    ),
    "no_entry": (
        GOOD.replace("  entry: [planner]\n", ""),
        "every agent has an incoming edge",
        "12:5: team.edges",
    ),
    "unbounded_loop": (
        GOOD.replace(
            "{from: reviewer, to: planner, when: {not: {mentions: APPROVE}}}", "{from: reviewer, to: planner}"
        ).replace("planner: {max_visits: 3}", "planner: {}"),
        "the loop planner → guide → coach → reviewer has no bound and no exit",
        "13:7: team.edges[0]",
    ),
    "fan_in_waits_for_a_later_node": (
        GOOD.replace(
            "    - {from: reviewer, to: summary}\n",
            "    - {from: reviewer, to: summary}\n    - {from: summary, to: guide}\n",
        ),
        "'guide' waits for all its incoming edges (activation: all), but 'summary' only runs after 'guide'",
        "19:7: team.edges[6]",
    ),
    "fan_in_over_exclusive_branches": (
        HEAD
        + """\
  edges:
    - {from: planner, to: guide, when: {mentions: CULTURE}}
    - {from: planner, to: coach}
    - {from: guide, to: reviewer}
    - {from: coach, to: reviewer}
    - {from: reviewer, to: summary}
""",
        "but 'coach' runs only on 'planner''s default branch",
        "15:7: team.edges[3]",
    ),
    "duplicate_edge": (
        GOOD.replace(
            "    - {from: reviewer, to: summary}\n",
            "    - {from: reviewer, to: summary}\n    - {from: reviewer, to: summary, when: {regex: x}}\n",
        ),
        "edges 5 and 6 both lead from 'reviewer' to 'summary'",
        "19:7: team.edges[6]",
    ),
    "bad_regex": (
        GOOD.replace("{mentions: APPROVE}", "{regex: '(unclosed'}"),
        "does not compile",
        "17:57: team.edges[4].when.not.regex",
    ),
    "unknown_condition": (
        GOOD.replace("{mentions: APPROVE}", "{contains: APPROVE}"),
        "an edge condition needs one of",
        "17:49: team.edges[4].when.not",
    ),
    "edges_outside_a_graph": (
        GOOD.replace("kind: graph", "kind: round_robin"),
        "edges only applies to kind 'graph', not 'round_robin'",
        "13:5: team.edges",
    ),
    "path_outside_a_graph": (
        HEAD.replace("kind: graph", "kind: round_robin") + "expect: {path: [planner]}\n",
        "path only applies to graph teams",
        "11:16: expect.path",
    ),
    "path_names_an_unknown_node": (
        GOOD + "expect: {path: {subsequence: [planner, reviewr]}}\n",
        "'reviewr' is not an agent of this team",
        "21:40: expect.path.subsequence[1]",
    ),
}

STRUCTURED = GOOD.replace(
    "{name: reviewer, system_message: Review.}",
    "{name: reviewer, output_schema: {type: object, properties: {verdict: {enum: [approve, revise]}, "
    "score: {type: integer}}}}",
)
_BACK = "{not: {mentions: APPROVE}}"
BAD.update(
    {
        "output_field_unknown": (
            STRUCTURED.replace(_BACK, "{output: {verdit: revise}}"),
            "'reviewer' answers under its output_schema, and the output has no field 'verdit' (fields: "
            "verdict, score)",
            "17:61: team.edges[4].when.output.verdit",
        ),
        "output_value_off_the_enum": (
            STRUCTURED.replace(_BACK, "{output: {verdict: revised}}"),
            "\"revised\" can never be the value of 'verdict': Input should be 'approve' or 'revise'",
            "17:62: team.edges[4].when.output.verdict",
        ),
        "output_value_of_the_wrong_type": (
            STRUCTURED.replace(_BACK, "{any: [{mentions: X}, {output: {score: high}}]}"),
            "\"high\" can never be the value of 'score'",
            "17:82: team.edges[4].when.any[1].output.score",
        ),
    }
)


def test_output_conditions_that_the_schema_allows_load(tmp_path: Path) -> None:
    text = STRUCTURED.replace(_BACK, "{any: [{output: {verdict: revise}}, {output: {score: 2}}]}")
    sc = load_scenario(write(tmp_path, text))
    assert sc.team.edges[4].when is not None


@pytest.mark.parametrize("case", sorted(BAD))
def test_graph_mistakes_are_located(tmp_path: Path, case: str) -> None:
    text, message, where = BAD[case]
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    shown = str(info.value)
    assert message in shown, shown
    assert f"{path}:{where}" in shown, shown


def test_troupe_check_reports_a_graph_mistake_with_its_place(tmp_path: Path) -> None:
    good = write(tmp_path, GOOD, "good.yaml")
    bad = write(tmp_path, BAD["unbounded_loop"][0], "bad.yaml")
    run = troupe("check", str(good), str(bad))
    assert run.returncode == 2, run.stderr
    assert f"{bad}:13:7: team.edges[0]: the loop planner" in run.stderr
    assert "Traceback" not in run.stderr
    assert "good.yaml" in run.stdout
