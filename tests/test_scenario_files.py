"""Scenario files: every bundled one validates; every bad-input case gets a located message, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import cli, write

from autogen_troupe.errors import ScenarioError
from autogen_troupe.scenario import bundled_scenarios, expand_env, load_scenario
from autogen_troupe.scenario._schema import AnyOf, HttpServer, MaxMessages, StdioServer, TextMention


def test_bundled_scenarios_validate() -> None:
    names = set(bundled_scenarios())
    assert {"travel_planning", "time_agent", "trip_desk"} <= names
    for name in names:
        load_scenario(name)


def test_travel_planning_matches_the_tutorial() -> None:
    sc = load_scenario("travel_planning")
    assert sc.task == "Plan a 3 day trip to Nepal."
    assert [a.name for a in sc.team.agents] == [
        "planner_agent",
        "local_agent",
        "language_agent",
        "travel_summary_agent",
    ]
    assert sc.team.kind == "round_robin"
    rule = sc.team.termination
    assert isinstance(rule, AnyOf)
    assert TextMention(text_mention="TERMINATE") in rule.any
    assert any(isinstance(r, MaxMessages) for r in rule.any)


def test_mcp_server_kind_is_inferred() -> None:
    sc = load_scenario("time_agent")
    assert isinstance(sc.mcp_servers["time"], StdioServer)


def test_http_server_and_env_expansion(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """
        name: x
        task: "${TASK:-say hi}"
        team:
          kind: single
          agents: [{name: a, mcp: [web]}]
        mcp_servers:
          web: {url: "http://127.0.0.1:${PORT}/mcp"}
    """,
    )
    sc = load_scenario(p, env={"PORT": "9000"})
    assert sc.task == "say hi"
    assert isinstance(sc.mcp_servers["web"], HttpServer)
    assert sc.mcp_servers["web"].url == "http://127.0.0.1:9000/mcp"


def test_expand_env() -> None:
    assert expand_env("${A}-${B:-x}", {"A": "1"}) == "1-x"
    assert expand_env("${B:-x}", {"B": ""}) == "x"
    with pytest.raises(KeyError):
        expand_env("${MISSING}", {})


BAD = {
    "syntax": ("name: x\nteam:\n  kind: single\n  agents: [ {name: a\n", "YAML syntax error", None),
    "unknown_key": (
        "name: x\nteam:\n  kind: single\n  agents:\n    - name: a\n      sytem_message: hi\n",
        "unknown key 'sytem_message'; did you mean 'system_message'?",
        "6:7: team.agents[0].sytem_message",
    ),
    "wrong_type": (
        "name: x\nteam:\n  kind: round_robin\n  max_turns: lots\n  agents: [{name: a}]\n",
        "valid integer",
        "4:14: team.max_turns",
    ),
    "missing_name": (
        "name: x\nteam:\n  kind: round_robin\n  agents:\n    - description: nobody\n",
        "required field is missing",
        "5:7: team.agents[0].name",
    ),
    "duplicate_agents": (
        "name: x\nteam:\n  kind: round_robin\n  agents:\n    - name: a\n    - name: a\n",
        "two agents are named 'a'",
        "6:13: team.agents[1].name",
    ),
    "dangling_rule": (
        "name: x\nteam:\n  kind: round_robin\n  agents: [{name: a}]\n  termination:\n"
        "    any:\n      - text_mention: DONE\n      - source_match: [ghost]\n",
        "termination rule refers to 'ghost'",
        "8:24: team.termination.any[1].source_match[0]",
    ),
    "undefined_mcp": (
        "name: x\nteam:\n  kind: single\n  agents:\n    - name: a\n      mcp: [clock]\n",
        "mcp server 'clock', which is not defined",
        "6:13: team.agents[0].mcp[0]",
    ),
    "unknown_team_kind": (
        "name: x\nteam:\n  kind: round_robbin\n  agents: [{name: a}]\n",
        "Input should be 'round_robin', 'selector', 'swarm', 'single' or 'graph'",
        "3:9: team.kind",
    ),
    # A key in the wrong section is told where it belongs, not matched to a look-alike here.
    "termination_at_top_level": (
        "name: x\ntermination: {max_messages: 3}\nteam:\n  kind: single\n  agents: [{name: a}]\n",
        "`termination` belongs under `team`, not at the top level",
        "2:1: termination",
    ),
    "agents_at_top_level": (
        "name: x\nagents: [{name: a}]\nteam:\n  kind: single\n  agents: [{name: a}]\n",
        "`agents` belongs under `team` or `expect`, not at the top level",
        "2:1: agents",
    ),
    "mcp_at_team_level": (
        "name: x\nteam:\n  kind: single\n  agents: [{name: a}]\n  mcp: [time]\n",
        "`mcp` belongs under `team.agents[]`, not under `team`",
        "5:3: team.mcp",
    ),
    "mcp_servers_in_team": (
        "name: x\nteam:\n  kind: single\n  agents: [{name: a}]\n  mcp_servers: {}\n",
        "`mcp_servers` belongs at the top level, not under `team`",
        "5:3: team.mcp_servers",
    ),
    "temperature_in_an_agent": (
        "name: x\nteam:\n  kind: single\n  agents: [{name: a, temperature: 0}]\n",
        "`temperature` belongs under `model`, not under `team.agents[0]`",
        "4:22: team.agents[0].temperature",
    ),
    "misspelled_key_of_another_section": (
        "name: x\nterminaton: {max_messages: 3}\nteam:\n  kind: single\n  agents: [{name: a}]\n",
        "unknown key 'terminaton'; did you mean `termination` (under `team`)?",
        "2:1: terminaton",
    ),
    # YAML syntax errors in plain words, the parser's wording after them.
    "syntax_unclosed_list": (
        "name: [a, b\ntask: t\n",
        "YAML syntax error: the '[' list opened at line 1, column 7 is not closed: a ']' (or a ',') is "
        "missing. Parser: while parsing a flow sequence",
        "2:5",
    ),
    "syntax_colon_in_text": (
        "name: x\ntask: Plan: a trip\n",
        "YAML syntax error: a ':' here cannot start a value; quote the text if it holds ': '",
        "2:11",
    ),
    "syntax_tab": (
        "name: x\nteam:\n\tkind: single\n",
        "a tab is used for indentation; YAML needs spaces",
        "3:1",
    ),
    "syntax_indentation": (
        "name: x\nteam:\n  kind: single\n agents: []\n",
        "this line is indented differently from the block it belongs to",
        "4:2",
    ),
    "syntax_list_item": (
        "name: x\nteam:\n  agents:\n    - name: a\n    name: b\n",
        "this line sits in the '- ' list that starts at line 4, column 5 but is not a list item",
        "5:5",
    ),
    "syntax_unclosed_quote": (
        'name: x\ntask: "unclosed\n',
        "the quoted text opened at line 2, column 7 is never closed",
        "3:1",
    ),
    "syntax_two_documents": ("name: x\n---\nname: y\n", "holds more than one YAML document", "2:1"),
    # Text that cannot be written as UTF-8 is refused at the door, where it sits.
    "lone_surrogate_task": (
        'name: x\ntask: "Plan \\ud800"\nteam: {kind: single, agents: [{name: a}]}\n',
        "this is not text: it holds a lone surrogate",
        "2:7: task",
    ),
    "lone_surrogate_key": (
        'name: x\nteam: {kind: single, agents: [{name: a, "sys\\udfff": 1}]}\n',
        "a key: this is not text: it holds a lone surrogate",
        "2:41: team.agents[0]",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_located_through_the_cli(tmp_path: Path, case: str) -> None:
    text, message, where = BAD[case]
    p = tmp_path / f"{case}.yaml"
    p.write_text(text)
    proc = cli("check", str(p))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert message in proc.stderr
    assert proc.stderr.startswith(f"{p}:")
    if where:
        assert f"{p}:{where}: " in proc.stderr


def test_every_issue_is_reported_at_once(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """
        name: x
        team:
          kind: round_robin
          agents:
            - name: a
              sytem_message: hi
          terminaton: {max_messages: 3}
        model: {base_url: "${NOPE_URL}"}
    """,
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(p, env={})
    fields = [i.field for i in info.value.issues]
    assert fields == ["team.agents[0].sytem_message", "team.terminaton", "model.base_url"]


def test_lone_surrogates_from_escapes_or_the_environment_are_refused(tmp_path: Path) -> None:
    """YAML's \\u escapes name code points, so an escaped surrogate pair is two lone halves; an
    environment variable holding bytes that are not UTF-8 reaches Python as lone surrogates too."""
    p = write(
        tmp_path,
        """
        name: x
        description: "\\ud83d\\ude00"
        task: ${TASK}
        team: {kind: single, agents: [{name: a}]}
    """,
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(p, env={"TASK": "Plan \udcff"})
    assert [(i.line, i.column, i.field) for i in info.value.issues] == [
        (2, 14, "description"),
        (3, 7, "task"),
    ]
    assert all("lone surrogate" in i.message for i in info.value.issues)
    ok = write(
        tmp_path, 'name: x\ndescription: "\\U0001F600 \\u00e9"\nteam: {kind: single, agents: [{name: a}]}\n'
    )
    assert load_scenario(ok).description == "\U0001f600 \u00e9"


def test_check_accepts_folders_and_reports_ok(scenarios_dir: Path) -> None:
    proc = cli("check", str(scenarios_dir))
    assert proc.returncode == 0, proc.stderr
    assert "ok" in proc.stdout and "travel_planning.yaml" in proc.stdout


def test_schema_command_prints_json_schema() -> None:
    proc = cli("schema")
    assert proc.returncode == 0
    schema = json.loads(proc.stdout)
    assert "team" in schema["properties"]


def test_the_shipped_schema_is_what_troupe_schema_prints(scenarios_dir: Path) -> None:
    """scenarios/scenario.schema.json is regenerated with `troupe schema > scenarios/scenario.schema.json`."""
    proc = cli("schema")
    assert proc.returncode == 0
    shipped = scenarios_dir / "scenario.schema.json"
    assert shipped.read_text(encoding="utf-8") == proc.stdout, (
        "scenarios/scenario.schema.json is stale: run `troupe schema > scenarios/scenario.schema.json`"
    )


def test_bundled_scenarios_point_at_the_shipped_schema_and_pass_it(scenarios_dir: Path) -> None:
    import jsonschema  # installed with mcp
    import yaml

    schema = json.loads((scenarios_dir / "scenario.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    for path in sorted(scenarios_dir.glob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        target = path.parent / first.split("$schema=", 1)[1].strip()
        assert target.resolve() == (scenarios_dir / "scenario.schema.json").resolve(), path
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))]
        assert not errors, (path, errors)
    # and the schema is strict where the loader is: an unknown key is flagged by editors too
    bad = {"name": "x", "team": {"kind": "single", "agents": [{"name": "a"}]}, "termination": {}}
    assert list(validator.iter_errors(bad))


def test_run_of_a_missing_scenario_is_exit_2() -> None:
    proc = cli("run", "no_such_scenario")
    assert proc.returncode == 2
    assert "no bundled scenario named 'no_such_scenario'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_list_shows_bundled() -> None:
    proc = cli("list")
    assert proc.returncode == 0
    assert "travel_planning" in proc.stdout and "round_robin" in proc.stdout
