"""Structured outputs (`output_schema:` per agent) on a scripted OpenAI-compatible endpoint: the schema is
checked at load (located), reaches an endpoint that decodes under it as `response_format: json_schema`,
and on one that cannot, the answer is validated and repaired once, then a clear StructuredOutputError.
Structured answers are kept as JSON in the transcript, shown as an outline, checked by `expect`, and
replayed from a cassette."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, by_system
from helpers import write
from rich.console import Console

from autogen_troupe import RunOptions, load_scenario, run_scenario
from autogen_troupe.agents._output import output_type
from autogen_troupe.errors import ScenarioError, StructuredOutputError, exit_code_for
from autogen_troupe.runtime._tape_runs import record_scenario, replay_scenario
from autogen_troupe.runtime._transcript import RunResult, Text
from autogen_troupe.scenario._output_schema import output_model
from autogen_troupe.tapes._cassette import cassette_path_for
from autogen_troupe.testing._expect import check_expectations

PLAN = """\
name: plan
task: Plan a 2 day trip to Nepal.
model: {{provider: openai, base_url: "{url}", model: test-model{info}}}
team:
  kind: single
  agents:
    - name: planner
      system_message: Plan it.
      stream: {stream}
      output_schema:
        title: Itinerary
        type: object
        properties:
          days:
            type: array
            minItems: 2
            items:
              type: object
              properties:
                day: {{type: integer, minimum: 1}}
                city: {{type: string, enum: [Kathmandu, Pokhara]}}
              required: [day, city]
          note: {{type: string}}
        required: [days]
expect:
  agents:
    planner:
      output:
        days: {{min_items: 2}}
        days.1.city: {{equals: Pokhara}}
        note: {{present: false}}
"""

GOOD = {"days": [{"day": 1, "city": "Kathmandu"}, {"day": 2, "city": "Pokhara"}]}
WRONG_CITY = {"days": [{"day": 1, "city": "Kathmandu"}, {"day": 2, "city": "Paris"}]}
NO_STRUCTURED = ", model_info: {structured_output: false, json_output: false}"


def scenario(tmp_path: Path, srv: FakeOpenAI, *, info: str = "", stream: bool = False) -> Path:
    return write(tmp_path, PLAN.format(url=srv.base_url, info=info, stream=str(stream).lower()))


async def run(path: Path, tmp_path: Path) -> RunResult:
    return await run_scenario(load_scenario(path), options=RunOptions(out_dir=tmp_path / "runs"))


def structured(result: RunResult) -> list[Text]:
    return [e for e in result.transcript if isinstance(e, Text) and e.structured is not None]


# --------------------------------------------------------------------------- at load


@pytest.mark.parametrize(
    ("schema", "at", "words"),
    [
        ("{type: object, properties: {n: {type: integer, minimum: x}}}", "x}", "not a valid JSON Schema"),
        ("{type: object, properties: {n: {type: string, oneOf: [{}]}}}", "[{}]", "'oneOf' is not supported"),
        ("{type: array, items: {type: string}}", "array", "the top of an output_schema is an object"),
        ("{type: object, properties: {}}", "{type", "needs `properties`"),
        ("{type: object, properties: {n: {type: string}}, required: [m]}", "m]", "'m', which is not"),
        ("not an import path", "not", "is not an import path"),
    ],
)
def test_a_bad_output_schema_is_located(tmp_path: Path, schema: str, at: str, words: str) -> None:
    text = (
        f"name: s\ntask: t\nteam:\n  kind: single\n  agents:\n    - name: a\n      output_schema: {schema}\n"
    )
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path, text))
    (issue,) = e.value.issues
    assert (issue.line, issue.column) == (7, len("      output_schema: ") + schema.index(at) + 1), issue
    assert words in issue.message and issue.field.startswith("team.agents[0].output_schema")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            ("days.1.city: {{equals", "dais.1.city: {{equals"),
            "30:22: expect.agents.planner.output.dais.1.city",
        ),
        (("      output_schema:", "      output_schem_:"), "10:7: team.agents[0].output_schem_"),
    ],
)
def test_expect_names_fields_the_schema_has(tmp_path: Path, change: tuple[str, str], words: str) -> None:
    text = PLAN.replace(*change).format(url="http://127.0.0.1:9/v1", info="", stream="false")
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path, text))
    assert f"s.yaml:{words}: " in str(e.value)


def test_expect_on_an_agent_without_a_schema_is_refused(tmp_path: Path) -> None:
    text = (
        "name: s\ntask: t\nteam: {kind: single, agents: [{name: a}]}\n"
        "expect: {agents: {a: {output: {x: {present: true}}}}}\n"
    )
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path, text))
    (issue,) = e.value.issues
    assert issue.field == "expect.agents.a.output.x" and "'a' has no output_schema" in issue.message


def test_the_built_model_takes_what_the_schema_allows() -> None:
    schema = json.loads(json.dumps({"type": "object", **_PROPS}))
    model = output_model(schema, "Plan")
    assert model.model_validate_json(json.dumps(GOOD)).model_dump(exclude_none=True) == GOOD
    for bad in (WRONG_CITY, {"days": [{"day": "1", "city": "Pokhara"}] * 2}, {**GOOD, "extra": 1}, {}):
        with pytest.raises(ValueError):
            model.model_validate_json(json.dumps(bad))
    assert list(model.model_json_schema()["properties"]) == ["days", "note"]  # the author's order


_PROPS = {
    "properties": {
        "days": {
            "type": "array",
            "minItems": 2,
            "items": {
                "type": "object",
                "properties": {
                    "day": {"type": "integer", "minimum": 1},
                    "city": {"enum": ["Kathmandu", "Pokhara"]},
                },
                "required": ["day", "city"],
            },
        },
        "note": {"type": ["string", "null"]},
    },
    "required": ["days"],
}


def test_a_model_by_import_path(tmp_path: Path) -> None:
    (tmp_path / "shapes.py").write_text(
        "from pydantic import BaseModel\nclass Verdict(BaseModel):\n    approved: bool\n", encoding="utf-8"
    )
    text = (
        "name: s\ntask: t\nteam:\n  kind: single\n  agents:\n    - name: a\n      output_schema: shapes:{}\n"
    )
    sc = load_scenario(write(tmp_path, text.format("Verdict")))
    agent = sc.team.agents[0]
    model = output_type(agent, search_path=(tmp_path,), source=sc.source)
    assert model is not None and model.__name__ == "Verdict"
    missing = load_scenario(write(tmp_path, text.format("Nothing"), "m.yaml"))
    with pytest.raises(ScenarioError) as e:
        output_type(missing.team.agents[0], search_path=(tmp_path,), source=missing.source)
    (issue,) = e.value.issues
    assert (issue.line, issue.column) == (7, 22) and "shapes.Nothing is nothing" in issue.message


# --------------------------------------------------------------------------- on the endpoint


@pytest.mark.parametrize("stream", [False, True])
async def test_the_schema_reaches_an_endpoint_that_decodes_under_it(
    srv: FakeOpenAI, tmp_path: Path, stream: bool
) -> None:
    srv.script([json.dumps(GOOD)])
    result = await run(scenario(tmp_path, srv, stream=stream), tmp_path)
    assert result.ok, result.error
    (request,) = srv.chat_requests
    fmt = request.json["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "Itinerary"
    days = fmt["json_schema"]["schema"]["properties"]["days"]
    assert days["minItems"] == 2
    (answer,) = structured(result)
    assert answer.source == "planner" and answer.structured == {**GOOD, "note": None}
    assert check_expectations(result, load_scenario(scenario(tmp_path, srv)).expect).passed


@pytest.mark.parametrize("stream", [False, True])
async def test_without_structured_output_a_wrong_answer_is_repaired_once(
    srv: FakeOpenAI, tmp_path: Path, stream: bool
) -> None:
    srv.script([json.dumps(WRONG_CITY), "```json\n" + json.dumps(GOOD) + "\n```"])
    result = await run(scenario(tmp_path, srv, info=NO_STRUCTURED, stream=stream), tmp_path)
    assert result.ok, result.error
    first, second = srv.chat_requests
    assert "response_format" not in first.json
    assert '"Pokhara"' in first.system and "JSON Schema" in first.system  # the schema, in the prompt
    repair = second.json["messages"]
    assert repair[-2]["role"] == "assistant" and "Paris" in repair[-2]["content"]
    assert repair[-1]["role"] == "user" and "days.1.city" in repair[-1]["content"]
    (answer,) = structured(result)
    assert answer.structured is not None and answer.structured["days"] == GOOD["days"]
    assert answer.usage is not None and answer.usage.completion_tokens > 0


async def test_a_second_wrong_answer_is_a_clear_error(srv: FakeOpenAI, tmp_path: Path) -> None:
    srv.script([json.dumps(WRONG_CITY), json.dumps({"days": [{"day": 0, "city": "Pokhara"}] * 2})])
    with pytest.raises(StructuredOutputError) as e:
        await run(scenario(tmp_path, srv, info=NO_STRUCTURED), tmp_path)
    assert len(srv.chat_requests) == 2  # one repair, no more
    assert (e.value.agent, e.value.field) == ("planner", "days.0.day")
    assert str(e.value).startswith("agent 'planner' did not answer under its output_schema")
    assert "greater than or equal to 1" in e.value.reason and exit_code_for(e.value) == 1
    assert pickle.loads(pickle.dumps(e.value)).field == "days.0.day"
    transcript = next((tmp_path / "runs").glob("*.jsonl")).read_text(encoding="utf-8")
    assert "StructuredOutputError" in transcript


async def test_expect_checks_the_fields(srv: FakeOpenAI, tmp_path: Path) -> None:
    srv.script([json.dumps({"days": GOOD["days"][:1] * 2, "note": "x"})])
    path = scenario(tmp_path, srv)
    result = await run(path, tmp_path)
    report = check_expectations(result, load_scenario(path).expect)
    failed = {f.expectation: f.actual for f in report.failures}
    assert failed == {
        "agents.planner.output.days.1.city.equals": '"Kathmandu"',
        "agents.planner.output.note.present": '"x"',
    }


async def test_the_console_shows_the_fields(srv: FakeOpenAI, tmp_path: Path) -> None:
    from autogen_troupe.cli.run_view import ConsoleView

    srv.script([json.dumps(GOOD)])
    result = await run(scenario(tmp_path, srv), tmp_path)
    buffer = io.StringIO()
    view = ConsoleView(Console(file=buffer, width=100, color_system=None))
    for e in result.transcript:
        view(e)
    shown = buffer.getvalue()
    assert "days:\n- day: 1\n  city: Kathmandu\n- day: 2\n  city: Pokhara" in shown


async def test_a_cassette_replays_the_structured_answer_and_its_repair(
    srv: FakeOpenAI, tmp_path: Path
) -> None:
    srv.script([json.dumps(WRONG_CITY), json.dumps(GOOD)])
    path = scenario(tmp_path, srv, info=NO_STRUCTURED)
    rec = await record_scenario(
        load_scenario(path), cassette=cassette_path_for(path), options=RunOptions(out_dir=tmp_path / "runs")
    )
    assert rec.result.ok, rec.result.error
    assert len(rec.cassette.model_calls) == 2
    srv.reset()  # the endpoint forgets everything: the replay must not need it
    out = await replay_scenario(
        load_scenario(path), cassette_path_for(path), options=RunOptions(out_dir=tmp_path / "runs")
    )
    assert out.result.ok, out.result.error
    assert not srv.chat_requests and not out.unplayed
    assert [e.structured for e in structured(out.result)] == [e.structured for e in structured(rec.result)]


def test_the_in_process_engine_decodes_under_the_schema() -> None:
    pytest.importorskip("vllm")
    from autogen_core.models import UserMessage

    from autogen_troupe.models.vllm._client import create_client
    from autogen_troupe.models.vllm._request import build_request
    from autogen_troupe.scenario._schema import ModelSpec

    client = create_client(ModelSpec(provider="vllm", model="smollm2-135m-instruct"))
    model = output_model({"type": "object", **_PROPS}, "Plan")

    request = build_request(
        client._config,
        client._model_info,
        [UserMessage(content="Plan it.", source="user")],
        tools=[],
        tool_choice="auto",
        json_output=model,
        extra_create_args={},
        stream=False,
    )
    constraint = request.to_sampling_params(64, {}).structured_outputs
    assert constraint is not None and constraint.json == model.model_json_schema()


GRAPH = """\
name: review
task: Plan a trip.
model: {{provider: openai, base_url: "{url}", model: test-model}}
team:
  kind: graph
  agents:
    - name: reviewer
      system_message: Review it.
      output_schema:
        type: object
        properties:
          verdict: {{enum: [approve, revise]}}
          notes: {{type: string}}
        required: [verdict]
    - {{name: publisher, system_message: Publish it.}}
    - {{name: reviser, system_message: Revise it.}}
  edges:
    - {{from: reviewer, to: publisher, when: {{output: {{verdict: approve}}}}}}
    - {{from: reviewer, to: reviser, when: {{output: {{verdict: revise}}}}}}
"""


@pytest.mark.parametrize(("verdict", "then"), [("approve", "publisher"), ("revise", "reviser")])
async def test_a_graph_routes_on_the_structured_answer(
    srv: FakeOpenAI, tmp_path: Path, verdict: str, then: str
) -> None:
    srv.responder = by_system(
        {
            "Review it.": [json.dumps({"verdict": verdict, "notes": "approve it, revise nothing"})],
            "Publish it.": ["Published."],
            "Revise it.": ["Revised."],
        }
    )
    result = await run(write(tmp_path, GRAPH.format(url=srv.base_url)), tmp_path)
    assert result.ok, result.error
    assert result.path == ("reviewer", then)
    route = [e for e in result.transcript if getattr(e, "kind", "") == "route"][-1]
    assert f'verdict="{verdict}"' in route.via[0].why


async def test_output_conditions_on_an_imported_model_are_checked_when_the_team_is_built(
    srv: FakeOpenAI, tmp_path: Path
) -> None:
    (tmp_path / "verdicts.py").write_text(
        "from typing import Literal\nfrom pydantic import BaseModel\n"
        "class Verdict(BaseModel):\n    verdict: Literal['approve', 'revise']\n",
        encoding="utf-8",
    )
    text = (
        GRAPH.replace(
            "      output_schema:\n        type: object\n        properties:\n"
            "          verdict: {{enum: [approve, revise]}}\n          notes: {{type: string}}\n"
            "        required: [verdict]\n",
            "      output_schema: verdicts:Verdict\n",
        )
        .replace("{{verdict: revise}}", "{{verdict: revised}}")
        .format(url=srv.base_url)
    )
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as e:
        await run(path, tmp_path)
    (issue,) = e.value.issues
    assert issue.field == "team.edges[1].when.output.verdict" and (issue.line, issue.column) == (14, 62)
    assert "\"revised\" can never be the value of 'verdict'" in issue.message
    assert not srv.chat_requests  # refused before any model call
    srv.responder = by_system({"Review it.": ['{"verdict": "revise"}'], "Revise it.": ["Revised."]})
    result = await run(write(tmp_path, text.replace("verdict: revised", "verdict: revise")), tmp_path)
    assert result.path == ("reviewer", "reviser")


async def test_the_next_agent_reads_the_structured_answer_as_json(srv: FakeOpenAI, tmp_path: Path) -> None:
    text = PLAN.replace("  kind: single\n", "  kind: round_robin\n  max_turns: 2\n")
    text = text.replace("expect:", "    - {{name: writer, system_message: Write it up.}}\nexpect:")
    srv.responder = by_system({"Plan it.": [json.dumps(GOOD)], "Write it up.": ["Two days."]})
    result = await run(write(tmp_path, text.format(url=srv.base_url, info="", stream="true")), tmp_path)
    assert result.ok, result.error
    writer = next(r for r in srv.chat_requests if r.system == "Write it up.")
    planner = [m for m in writer.json["messages"] if m.get("name") == "planner"]
    assert [json.loads(m["content"])["days"] for m in planner] == [GOOD["days"]]
    assert [e.source for e in structured(result)] == ["planner"]
