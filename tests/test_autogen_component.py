"""`troupe export --format autogen` and `troupe import`: the JSON loads and runs in a plain AutoGen process
(no troupe module imported) against the fake endpoint over HTTP; every bundled scenario that exports comes
back as the same team; what has no AutoGen equivalent is refused or named, never dropped."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAI, by_system
from helpers import cli, write
from test_serve_api import SPEAKERS, TRAVEL

from autogen_troupe.agents import export_autogen, import_autogen
from autogen_troupe.agents._interop import ALLOWED_NAMESPACES, components
from autogen_troupe.errors import ScenarioError
from autogen_troupe.models import Overrides
from autogen_troupe.scenario import Scenario, load_scenario
from autogen_troupe.scenario._loader import bundled_scenarios

PLAIN_AUTOGEN = """\
import asyncio, json, sys
from autogen_agentchat.base import Team
team = Team.load_component(json.load(open(sys.argv[1])))
result = asyncio.run(team.run(task=sys.argv[2]))
troupe = sorted(m for m in sys.modules if m.split(".")[0] == "autogen_troupe")
print(json.dumps({"stop_reason": result.stop_reason, "sources": [m.source for m in result.messages],
                  "troupe_modules": troupe}))
"""
ROOT = Path(__file__).resolve().parents[1]
ENDPOINT = Overrides(base_url="http://127.0.0.1:9/v1", model="fake-model")
GRAPH = """\
name: review_loop
task: Write a haiku.
team:
  kind: graph
  agents:
    - {name: writer, system_message: Write.}
    - {name: reviewer, system_message: Review.}
    - {name: publisher, system_message: Publish.}
  edges:
    - {from: writer, to: reviewer}
    - {from: reviewer, to: writer, when: {mentions: REVISE}}
    - {from: reviewer, to: publisher, when: {mentions: APPROVE}}
  entry: [writer]
  nodes: {publisher: {activation: any}}
limits: {max_messages: 9}
"""


def plain_autogen(team_json: Path, task: str, base_url: str) -> dict[str, Any]:
    """Load and run the team in a child Python that imports only AutoGen (and says which troupe modules
    it ended up with); the key comes from OPENAI_API_KEY, as the export says."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TROUPE_", "PYTHONPATH"))}
    env["OPENAI_API_KEY"] = "sk-from-the-environment"
    done = subprocess.run(
        [sys.executable, "-c", PLAIN_AUTOGEN, str(team_json), task],
        capture_output=True,
        text=True,
        env=env,
        cwd=team_json.parent,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_an_exported_team_runs_in_plain_autogen(srv: FakeOpenAI, tmp_path: Path) -> None:
    srv.responder = by_system(TRAVEL)
    done = cli(
        "export",
        "travel_planning",
        "--format",
        "autogen",
        "--base-url",
        srv.base_url,
        "--model",
        "fake-model",
    )
    assert done.returncode == 0, done.stderr
    assert "note: export: team: troupe trims each agent's history" in done.stderr
    team = json.loads(done.stdout)
    providers = [c["provider"] for _, c in components(team)]
    assert providers and all(p.startswith(ALLOWED_NAMESPACES) for p in providers)  # AutoGen #7463
    assert "api_key" not in done.stdout and "**********" not in done.stdout
    path = write(tmp_path, done.stdout, "team.json")
    ran = plain_autogen(path, "Plan 2 days in Nepal.", srv.base_url)
    assert ran["troupe_modules"] == []
    assert ran["sources"] == ["user", *SPEAKERS] and "TERMINATE" in ran["stop_reason"]
    assert len(srv.chat_requests) == 4
    assert srv.chat_requests[0].headers["authorization"] == "Bearer sk-from-the-environment"
    assert srv.chat_requests[0].json["model"] == "fake-model"


def test_a_graph_with_text_conditions_runs_and_round_trips(srv: FakeOpenAI, tmp_path: Path) -> None:
    scenario = write(tmp_path, GRAPH, "review_loop.yaml")
    srv.responder = by_system(
        {"Write.": ["Old pond."] * 2, "Review.": ["REVISE it", "APPROVE"], "Publish.": ["Done."]}
    )
    done = cli("export", str(scenario), "--base-url", srv.base_url, "--model", "fake-model")
    assert done.returncode == 0, done.stderr
    assert "team.edges[1].when: AutoGen tests a substring" in done.stderr
    path = write(tmp_path, done.stdout, "team.json")
    ran = plain_autogen(path, "Write a haiku.", srv.base_url)
    assert ran["sources"] == ["user", "writer", "reviewer", "writer", "reviewer", "publisher"]
    back = cli("import", str(path))
    assert back.returncode == 0, back.stderr
    imported = write(tmp_path, back.stdout, "imported.yaml")
    assert load_scenario(imported).team == _without_models(load_scenario(scenario).team)
    assert load_scenario(imported).limits == load_scenario(scenario).limits


def _without_models(team: Any) -> Any:
    """The team with no agent model: the export resolves every model to the endpoint it was given, so
    the import writes it once for the scenario (an agent's own settings: on the agent)."""
    agents = tuple(a.model_copy(update={"model": None}) for a in team.agents)
    return team.model_copy(update={"agents": agents, "selector_model": None})


def _reset(data: dict[str, Any], where: str) -> None:
    """Set the field a note names as lost (`team.agents[1].answer_timeout_s`) to its default, None."""
    keys: list[Any] = [int(k) if k.isdigit() else k for k in re.findall(r"[^.\[\]]+", where)]
    at: Any = data
    for k in keys[:-1]:
        at = at[k]
    at[keys[-1]] = None


@pytest.mark.parametrize("name", sorted(bundled_scenarios()))
def test_every_bundled_scenario_that_exports_comes_back_as_the_same_team(name: str, tmp_path: Path) -> None:
    original = load_scenario(name)
    try:
        team, notes = export_autogen(original, overrides=ENDPOINT)
    except ScenarioError as e:  # refused, with the reasons, each at its line in the file
        # time_agent: its agent is allowed one of the server's tools, and McpWorkbench cannot hide one
        assert name in {"travel_review", "travel_planning_tools", "travel_itinerary", "time_agent"}, str(e)
        assert all(i.line > 1 and "cannot export to AutoGen" in i.message for i in e.issues)
        return
    assert name in {"travel_planning", "travel_approval", "trip_desk", "travel_eval"}
    path = tmp_path / "team.json"
    path.write_text(json.dumps(team))
    data, _ = import_autogen(path)
    imported = Scenario.model_validate(data)
    expected = {"team": _without_models(original.team).model_dump(mode="json", by_alias=True)}
    for note in notes:
        if note.lost and note.where.startswith("team"):  # a field it could not carry (a user's timeout)
            _reset(expected, note.where)
    assert {"team": _without_models(imported.team).model_dump(mode="json", by_alias=True)} == expected
    assert imported.limits == original.limits and imported.name == original.name
    assert imported.model.base_url == ENDPOINT.base_url and imported.model.model == "fake-model"  # type: ignore[union-attr]
    assert imported.mcp_servers.keys() == original.mcp_servers.keys()


def test_refusals_name_every_part_at_its_line(tmp_path: Path) -> None:
    done = cli("export", "travel_review", "--base-url", "http://127.0.0.1:9/v1", "--model", "m")
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 3 and all(
        re.match(r".*travel_review\.yaml:\d+:\d+: cannot export", ln) for ln in lines
    )
    source = Path(bundled_scenarios()["travel_review"]).read_text().splitlines()
    for ln in lines:  # each at the line of the part it names
        n = int(re.findall(r"\.yaml:(\d+):", ln)[0])
        part = "max_visits" if "visit cap" in ln else "when:" if "not saved" in ln else "from: reviewer"
        assert part in source[n - 1], (ln, source[n - 1])
    assert "no visit cap" in done.stderr and "not saved" in done.stderr and "all of one kind" in done.stderr
    engine = cli("export", "travel_planning", env={"TROUPE_BASE_URL": "", "TROUPE_PROFILE": ""})
    assert engine.returncode == 2 and "--base-url and --model" in engine.stderr
    assert len(engine.stderr.strip().splitlines()) == 1  # the scenario's model, once (not per agent)


def test_parts_plain_autogen_cannot_run_are_refused_not_dropped(tmp_path: Path) -> None:
    """A remote A2A member would silently become a local model agent, a structured answer makes a loaded
    AutoGen 0.7.5 team fail ("not registered"), a guard rule has no AutoGen class:
    each refused at its line."""
    path = write(
        tmp_path,
        """\
name: parts
task: hi
team:
  kind: round_robin
  termination: {repeated_tool_call: 2}
  agents:
    - {name: remote, kind: a2a, url: "http://127.0.0.1:9/a2a/x"}
    - name: planner
      output_schema: {type: object, properties: {city: {type: string}}, required: [city]}
""",
    )
    done = cli("export", str(path), "--base-url", "http://127.0.0.1:9/v1", "--model", "m")
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    at = {int(re.findall(r"\.yaml:(\d+):", ln)[0]): ln for ln in lines}
    assert sorted(at) == [5, 7, 9], lines
    assert "guards" in at[5] and "A2A" in at[7] and "structured" in at[9]


def test_import_names_what_it_could_not_carry_and_never_a_key(tmp_path: Path) -> None:
    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.conditions import ExternalTermination, MaxMessageTermination
    from autogen_agentchat.teams import RoundRobinGroupChat
    from autogen_core.tools import FunctionTool
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    def shout(text: str) -> str:
        """Shout."""
        return text.upper()

    client = OpenAIChatCompletionClient(
        model="m",
        base_url="http://127.0.0.1:9/v1",
        api_key="sk-do-not-copy-me",
        default_headers={"x-secret": "hdr-do-not-copy"},
        model_info={
            "vision": False,
            "function_calling": True,
            "json_output": False,
            "family": "unknown",
            "structured_output": False,
        },
    )
    agent = AssistantAgent("a", model_client=client, tools=[FunctionTool(shout, description="Shout.")])
    team = RoundRobinGroupChat(
        [agent], termination_condition=MaxMessageTermination(4) | ExternalTermination(), max_turns=3
    )
    dumped = team.dump_component().model_dump(mode="json")
    dumped["config"]["participants"][0]["config"]["model_client"]["config"]["api_key"] = "sk-do-not-copy-me"
    path = write(tmp_path, json.dumps(dumped, indent=2), "team.json")
    done = cli("import", str(path))
    assert done.returncode == 0, done.stderr
    assert "sk-do-not-copy-me" not in done.stdout + done.stderr and "hdr-do-not-copy" not in done.stdout
    for named in (
        "tool 'shout' is not carried",
        "ExternalTermination is not carried",
        "set OPENAI_API_KEY",
        "default_headers: not carried",
    ):
        assert named in done.stderr and named in done.stdout  # on stderr, and atop the scenario
    sc = load_scenario(write(tmp_path, done.stdout, "imported.yaml"))
    assert sc.team.kind == "round_robin" and sc.team.max_turns == 3
    assert sc.team.termination is not None and sc.team.termination.model_dump() == {"max_messages": 4}


def test_one_agent_on_its_own_imports_as_a_single_team(tmp_path: Path) -> None:
    text = (ROOT / "scenarios" / "time_agent.yaml").read_text()  # the tutorial's agent, with both tools
    shutil.copy(ROOT / "scenarios" / "time_zones.txt", tmp_path)  # its arguments' enum_file
    original = load_scenario(write(tmp_path, re.sub(r"mcp: \[\{server: time.*\}\]", "mcp: [time]", text)))
    team, _ = export_autogen(original, overrides=ENDPOINT)
    agent = team["config"]["participants"][0]  # an AssistantAgent component, as AutoGen dumps one
    data, _ = import_autogen(write(tmp_path, json.dumps(agent), "agent.json"))
    sc = Scenario.model_validate(data)
    assert sc.team.kind == "single" and [a.name for a in sc.team.agents] == ["time_assistant"]
    assert sc.team == original.team and list(sc.mcp_servers) == ["time"]
    assert sc.mcp_servers["time"].args == ("-m", "mcp_server_time", "--local-timezone", "Asia/Seoul")  # type: ignore[union-attr]


def test_what_cannot_be_read_is_an_error_at_its_line(tmp_path: Path) -> None:
    broken = write(
        tmp_path,
        '{\n  "provider": "autogen_agentchat.teams.RoundRobinGroupChat",\n  "config": {,\n}',
        "b.json",
    )
    done = cli("import", str(broken))
    assert done.returncode == 2 and re.search(r"b\.json:3:\d+: ", done.stderr)
    team = {
        "provider": "autogen_agentchat.teams.RoundRobinGroupChat",
        "config": {
            "participants": [
                {"provider": "autogen_agentchat.agents.CodeExecutorAgent", "config": {"name": "x"}}
            ]
        },
    }
    odd = write(tmp_path, json.dumps(team, indent=2), "odd.json")
    done = cli("import", str(odd))
    assert done.returncode == 2
    assert re.search(
        r"odd\.json:5:\d+: config\.participants\[0\]: troupe has no agent like AutoGen's CodeExecutorAgent",
        done.stderr,
    )
    assert "Traceback" not in done.stderr


def test_a_variable_from_the_environment_is_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEATHER_TOKEN", "tok-from-env-0123456789")
    path = write(
        tmp_path,
        """
        name: weather
        team:
          kind: single
          agents: [{name: forecaster, mcp: [w]}]
        mcp_servers:
          w: {command: python, args: [-m, weather], env: {WEATHER_TOKEN: "${WEATHER_TOKEN}", UNITS: metric}}
        """,
        "weather.yaml",
    )
    team, notes = export_autogen(load_scenario(path), overrides=ENDPOINT)
    assert "tok-from-env-0123456789" not in json.dumps(team)
    (wb,) = team["config"]["participants"][0]["config"]["workbench"]
    assert wb["config"]["server_params"]["env"] == {"UNITS": "metric"} and wb["label"] == "w"
    assert any(n.where == "mcp_servers.w.env.WEATHER_TOKEN" and n.lost for n in notes)


def test_the_command_writes_references_never_values_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESK_SECRET", "desk-secret-0123456789")
    path = write(
        tmp_path,
        """
        name: desk
        team:
          kind: single
          agents: [{name: clerk, system_message: "Your badge is ${DESK_SECRET}."}]
        """,
        "desk.yaml",
    )
    done = cli("export", str(path), "--base-url", "http://127.0.0.1:9/v1", "--model", "m")
    assert done.returncode == 0, done.stderr
    assert "desk-secret-0123456789" not in done.stdout
    assert json.loads(done.stdout)["config"]["participants"][0]["config"]["system_message"] == (
        "Your badge is ${DESK_SECRET}."
    )
