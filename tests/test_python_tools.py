"""Python tools: signature and docstring are the schema, calls work, failures read well, bad refs say why."""

from __future__ import annotations

import pickle
import sys
import uuid
from pathlib import Path

import pytest
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.messages import ToolCallExecutionEvent
from autogen_core import CancellationToken, FunctionCall
from autogen_core.models import CreateResult, ModelInfo, RequestUsage
from autogen_core.tools import StaticWorkbench
from autogen_ext.models.replay import ReplayChatCompletionClient

from autogen_troupe.errors import ToolConfigError as ToolLoadError
from autogen_troupe.errors import TroupeError
from autogen_troupe.scenario._schema import PythonToolUse
from autogen_troupe.tools._python import PythonTool, load_python_tool

BUDGET = "autogen_troupe.tools.examples:trip_budget"


def load(ref: str, **kw: object) -> PythonTool:
    return load_python_tool(PythonToolUse.model_validate({"ref": ref, **kw}))


def write_module(folder: Path, body: str) -> str:
    name = f"troupe_tmp_{uuid.uuid4().hex[:8]}"
    (folder / f"{name}.py").write_text(body, encoding="utf-8")
    return name


def test_schema_comes_from_signature_and_docstring() -> None:
    tool = load(BUDGET)
    schema = tool.schema
    assert schema["name"] == "trip_budget"
    assert schema["description"].startswith("Estimate a trip's total budget in US dollars")
    params = schema["parameters"]
    assert params["required"] == ["days", "daily_usd"]
    assert params["properties"]["days"]["type"] == "integer"
    assert params["properties"]["daily_usd"]["type"] == "number"
    assert params["properties"]["days"]["description"] == "Number of days of the trip, at least 1."
    assert params["properties"]["travellers"]["default"] == 1

    packing = load("autogen_troupe.tools.examples:packing_list").schema["parameters"]["properties"]
    assert packing["climate"]["enum"] == ["hot", "temperate", "cold"]


def test_name_and_description_overrides() -> None:
    tool = load(BUDGET, name="budget", description="Money for the trip.")
    assert (tool.name, tool.description) == ("budget", "Money for the trip.")
    assert load_python_tool(PythonToolUse.model_validate(BUDGET)).name == "trip_budget"  # plain string form


async def test_call_works_and_failures_become_readable_error_results() -> None:
    tool = load(BUDGET)
    out = await tool.run_json({"days": 3, "daily_usd": 50, "travellers": 2}, CancellationToken())
    assert out == "3 days x 2 traveller(s) x $50.00/day = $300.00; with a 10% reserve: $330.00"

    bench = StaticWorkbench([tool])
    ok = await bench.call_tool("trip_budget", {"days": 1, "daily_usd": 10})
    assert not ok.is_error and ok.to_text().startswith("1 days x 1 traveller(s)")
    raised = await bench.call_tool("trip_budget", {"days": 0, "daily_usd": 10})
    assert raised.is_error
    assert raised.to_text() == "tool 'trip_budget' failed: ValueError: days and travellers must be at least 1"
    wrong = await bench.call_tool("trip_budget", {"days": "many", "daily_usd": 10})
    assert wrong.is_error and "days" in wrong.to_text()


async def test_assistant_agent_hands_the_error_to_the_model() -> None:
    call = FunctionCall(id="c1", name="trip_budget", arguments='{"days": 0, "daily_usd": 10}')
    client = ReplayChatCompletionClient(
        [
            CreateResult(
                finish_reason="function_calls", content=[call], usage=RequestUsage(0, 0), cached=False
            )
        ],
        model_info=ModelInfo(
            vision=False, function_calling=True, json_output=False, family="unknown", structured_output=False
        ),
    )
    agent = AssistantAgent("planner", model_client=client, tools=[load(BUDGET)])
    result = await agent.run(task="budget for zero days")
    events = [m for m in result.messages if isinstance(m, ToolCallExecutionEvent)]
    assert len(events) == 1 and events[0].content[0].is_error
    assert "ValueError: days and travellers must be at least 1" in events[0].content[0].content


def test_tools_refuse_to_be_serialised() -> None:
    with pytest.raises(TroupeError, match="cannot be serialised"):
        load(BUDGET).dump_component()


@pytest.mark.parametrize(
    "ref, message",
    [
        ("no_such_pkg_xyz.tools:f", "module 'no_such_pkg_xyz.tools' not found"),
        (
            "autogen_troupe.tools.examples:trip_budgett",
            "has no attribute 'trip_budgett'; did you mean 'trip_budget'?",
        ),
        ("autogen_troupe.tools.examples:__all__", "'__all__' is a list, not a function"),
        ("autogen_troupe.scenario._schema:Scenario", "'Scenario' is a ModelMetaclass, not a function"),
        ("builtins:len", "positional-only"),
    ],
)
def test_bad_refs_say_why(ref: str, message: str) -> None:
    with pytest.raises(ToolLoadError) as e:
        load(ref)
    assert message in str(e.value) and e.value.ref == ref
    assert str(e.value).startswith(f"python tool {ref!r}: ")


@pytest.mark.parametrize(
    "body, message",
    [
        (
            "import no_such_dependency_xyz\ndef f(x: int) -> int:\n    'd'\n    return x\n",
            "needs 'no_such_dependency_xyz'",
        ),
        ("raise RuntimeError('broken at import')\n", "importing .* failed: RuntimeError: broken at import"),
        ("def f(x):\n    'Doc.'\n    return x\n", "parameters without type hints: x"),
        ("def f(*xs: int) -> int:\n    'Doc.'\n    return 0\n", r"\*xs cannot be described"),
        ("def f(**kw: int) -> int:\n    'Doc.'\n    return 0\n", r"\*\*kw cannot be described"),
        ("def f(x: int) -> int:\n    return x\n", "has no docstring"),
        (
            "def f(x: 'Missing') -> int:\n    'Doc.'\n    return 0\n",
            "type hints cannot be resolved: NameError",
        ),
        ("f = lambda x: x\n", "parameters without type hints"),
        ("class C:\n    pass\ndef f(x: C) -> int:\n    'Doc.'\n    return 0\n", "cannot build a schema"),
    ],
)
def test_bad_functions_say_why(tmp_path: Path, body: str, message: str) -> None:
    module = write_module(tmp_path, body)
    before = list(sys.path)
    with pytest.raises(ToolLoadError, match=message):
        load_python_tool(PythonToolUse(ref=f"{module}:f"), search_path=[tmp_path])
    assert sys.path == before


def test_search_path_finds_a_module_beside_the_scenario(tmp_path: Path) -> None:
    module = write_module(
        tmp_path, "async def shout(text: str) -> str:\n    'Say it louder.'\n    return text.upper()\n"
    )
    with pytest.raises(ToolLoadError, match="not found"):
        load(f"{module}:shout")
    tool = load_python_tool(PythonToolUse(ref=f"{module}:shout"), search_path=[tmp_path])
    assert tool.schema["description"] == "Say it louder." and str(tmp_path) not in sys.path


def test_errors_pickle() -> None:
    err = ToolLoadError("a.b:c", "reason")
    again = pickle.loads(pickle.dumps(err))
    assert (again.ref, again.reason, str(again)) == ("a.b:c", "reason", str(err))
