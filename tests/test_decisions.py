"""Constrained decisions on an endpoint that supports them, and no change on one that does not.

The runs go to the scripted endpoint (tests/fake_openai.py, a real HTTP server): what matters is what
reaches the request body. The selector's choice list is the eligible names; the judge's answer is a JSON
score on its scale; a swarm agent's handoff is a required tool call among its declared targets. Without
`capabilities:` in the profile every request is as it was before. The in-process engine's own decision
under the constraint is tested in test_vllm_client.py (marker `vllm`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAI, Reply
from helpers import write

from autogen_troupe import RunOptions, load_scenario, run_scenario
from autogen_troupe.eval._judge import ask_judge
from autogen_troupe.eval._tasks import EvalTask
from autogen_troupe.models import create_model_client, resolve_model
from autogen_troupe.models._capabilities import capabilities_of
from autogen_troupe.scenario import ModelSpec
from autogen_troupe.scenario._judge import Judge

SELECTOR = """
name: desk
task: I land in Seoul tomorrow. What should I do?
model: {model}
team:
  kind: selector
  agents:
    - {{name: clock, description: Knows the time.}}
    - {{name: guide, description: Suggests a plan.}}
    - {{name: desk, description: Wraps up.}}
  termination: {{max_messages: 4}}
"""

SWARM = """
name: relay
task: Book a table.
model: {model}
team:
  kind: swarm
  agents:
    - {{name: alice, description: Takes the request., handoffs: [bob, carol]}}
    - {{name: bob, description: Books., system_message: Book it and say TERMINATE.}}
    - {{name: carol, description: Cancels.}}
  termination: {{any: [{{text_mention: TERMINATE}}, {{max_messages: 4}}]}}
"""


def _model(srv: FakeOpenAI, **caps: bool) -> str:
    spec: dict[str, Any] = {"base_url": srv.base_url, "model": "m"}
    if caps:
        spec["capabilities"] = caps
    return json.dumps(spec)


def _is_selector(body: dict[str, Any]) -> bool:
    return "select the next role" in json.dumps(body["messages"])


def _selector_answers(body: dict[str, Any]) -> Reply | None:
    if not _is_selector(body):
        return Reply(text="Noted.")
    constraint = body.get("structured_outputs")
    # a model under the constraint answers one of the choices; left free, a small one babbles
    return Reply(text=constraint["choice"][-1] if constraint else "Let me think about who speaks next.")


async def _run(tmp_path: Path, text: str) -> None:
    await run_scenario(load_scenario(write(tmp_path, text)), options=RunOptions(out_dir=tmp_path / "runs"))


async def test_the_selector_chooses_among_the_eligible_names(srv: FakeOpenAI, tmp_path: Path) -> None:
    srv.responder = _selector_answers
    await _run(tmp_path, SELECTOR.format(model=_model(srv, choice=True)))
    asked = [r.json for r in srv.chat_requests if _is_selector(r.json)]
    choices = [body["structured_outputs"]["choice"] for body in asked]
    # repeats are off: the one who spoke last is not eligible; each answer was the last eligible name
    assert choices == [["clock", "guide", "desk"], ["clock", "guide"], ["clock", "desk"]]
    agents = [r.json for r in srv.chat_requests if not _is_selector(r.json)]
    assert len(agents) == 3 and not any("structured_outputs" in body for body in agents)


async def test_json_schema_alone_constrains_the_choice_as_an_enum(srv: FakeOpenAI, tmp_path: Path) -> None:
    srv.responder = lambda body: Reply(text='"guide"' if _is_selector(body) else "Noted.")
    await _run(tmp_path, SELECTOR.format(model=_model(srv, json_schema=True)).replace("4}", "2}"))
    (body,) = [r.json for r in srv.chat_requests if _is_selector(r.json)]
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"]["enum"] == ["clock", "guide", "desk"]


@pytest.mark.parametrize("caps", [{}, {"choice": False, "json_schema": False, "tool_required": True}])
async def test_without_support_the_selector_asks_as_before(
    srv: FakeOpenAI, tmp_path: Path, caps: dict[str, bool]
) -> None:
    srv.responder = _selector_answers
    await _run(tmp_path, SELECTOR.format(model=_model(srv, **caps)))
    bodies = [r.json for r in srv.chat_requests]
    assert bodies and not any({"structured_outputs", "response_format"} & set(body) for body in bodies)
    # the selector named nobody: the turn passed on in order, as without capabilities
    assert sum(_is_selector(b) for b in bodies) == 9


async def test_a_forced_handoff_is_a_required_call_among_the_targets(srv: FakeOpenAI, tmp_path: Path) -> None:
    def answers(body: dict[str, Any]) -> Reply:
        if body.get("tools"):
            return Reply(tool_calls=[("transfer_to_bob", {})])
        return Reply(text="Booked. TERMINATE")

    srv.responder = answers
    model = json.loads(_model(srv, tool_required=True))
    await _run(tmp_path, SWARM.format(model=json.dumps({**model, "force_tool_choice": True})))
    alice = srv.chat_requests[0].json
    assert alice["tool_choice"] == "required"
    assert sorted(t["function"]["name"] for t in alice["tools"]) == ["transfer_to_bob", "transfer_to_carol"]


@pytest.mark.parametrize("caps", [{}, {"tool_required": False}])
async def test_without_support_a_handoff_stays_free(srv: FakeOpenAI, tmp_path: Path, caps: dict) -> None:
    srv.responder = lambda body: (
        Reply(tool_calls=[("transfer_to_bob", {})]) if body.get("tools") else Reply(text="Booked. TERMINATE")
    )
    model = json.loads(_model(srv, **caps))
    await _run(tmp_path, SWARM.format(model=json.dumps({**model, "force_tool_choice": True})))
    assert srv.chat_requests[0].json["tool_choice"] == "auto"


@pytest.mark.parametrize(("caps", "forced"), [({"tool_required": True}, True), ({}, False)])
async def test_a_forced_tool_call_is_strict(srv: FakeOpenAI, caps: dict[str, bool], forced: bool) -> None:
    """vLLM constrains a required call's arguments only for strict tools: a forced call sends them so."""
    from autogen_core.models import UserMessage
    from autogen_core.tools import FunctionTool

    def get_time(timezone: str) -> str:
        return "12:00"

    spec = resolve_model(
        ModelSpec.model_validate(
            {"base_url": srv.base_url, "model": "m", "force_tool_choice": True, "capabilities": caps or None}
        ),
        env={},
    )
    client = create_model_client(spec)
    srv.script([Reply(tool_calls=[("get_time", {"timezone": "Asia/Seoul"})])])
    tool = FunctionTool(get_time, description="The time in a time zone.")
    await client.create([UserMessage(content="Time in Seoul?", source="user")], tools=[tool])
    await client.close()
    body = srv.chat_requests[0].json
    assert body["tool_choice"] == ("required" if forced else "auto")
    assert body["tools"][0]["function"]["strict"] is forced


JUDGE = Judge(rubric="A plan that fits the day.", scale="1-5")
TASK = EvalTask(id="t1", task="Plan my day in Seoul.")


async def _judge(srv: FakeOpenAI, caps: dict[str, bool] | None) -> Any:
    spec = resolve_model(
        ModelSpec.model_validate({"base_url": srv.base_url, "model": "judge", "capabilities": caps}), env={}
    )
    client = create_model_client(spec)
    try:
        return await ask_judge(
            client, "judge", JUDGE, TASK, "Palace, lunch.", capabilities=capabilities_of(spec)
        )
    finally:
        await client.close()


async def test_the_judge_scores_on_its_scale_under_a_schema(srv: FakeOpenAI) -> None:
    srv.script([Reply(text='{"score": 4, "reason": "Fits the day, no lunch place."}')])
    verdict = await _judge(srv, {"json_schema": True})
    fmt = srv.chat_requests[0].json["response_format"]
    score = fmt["json_schema"]["schema"]["properties"]["score"]
    assert fmt["type"] == "json_schema" and score == {"type": "integer", "enum": [1, 2, 3, 4, 5]}
    assert (verdict.score, verdict.passed, verdict.problem) == (4, True, None)


async def test_the_judge_uses_vllms_own_field_when_only_that_is_known(srv: FakeOpenAI) -> None:
    srv.script([Reply(text='{"score": 2, "reason": "Thin."}')])
    verdict = await _judge(srv, {"choice": True})
    schema = srv.chat_requests[0].json["structured_outputs"]["json"]
    assert schema["required"] == ["score", "reason"] and verdict.score == 2


async def test_without_support_the_judge_asks_as_before(srv: FakeOpenAI) -> None:
    srv.script([Reply(text="Good enough.\nSCORE: 3")])
    verdict = await _judge(srv, None)
    body = srv.chat_requests[0].json
    assert not {"structured_outputs", "response_format"} & set(body)
    assert verdict.score == 3


@pytest.mark.parametrize(
    ("caps", "asked"), [({}, True), ({"stream_usage": True}, True), ({"stream_usage": False}, False)]
)
async def test_stream_usage_is_asked_unless_the_endpoint_cannot(
    srv: FakeOpenAI, caps: dict[str, bool], asked: bool
) -> None:
    from autogen_core.models import UserMessage

    spec = resolve_model(
        ModelSpec.model_validate({"base_url": srv.base_url, "model": "m", "capabilities": caps or None}),
        env={},
    )
    client = create_model_client(spec)
    srv.script([Reply(text="Hello there.")])
    items = [x async for x in client.create_stream([UserMessage(content="hi", source="user")])]
    await client.close()
    body = srv.chat_requests[0].json
    assert ("stream_options" in body) is asked
    # the stub counts usage only when asked; unasked, the client estimates it, so token budgets still fire
    assert items[-1].usage.completion_tokens > 0


def test_capabilities_come_from_the_engine_the_preset_and_the_profile(tmp_path: Path) -> None:
    assert capabilities_of(resolve_model("default", env={})).choice is True
    vllm = capabilities_of(resolve_model("vllm", env={}))
    assert (vllm.choice, vllm.json_schema, vllm.tool_calls) == (True, True, None)
    assert capabilities_of(resolve_model("lmdeploy", env={})) == capabilities_of(None)
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text("box:\n  profile: vllm\n  capabilities: {choice: false}\n")
    env = {"TROUPE_PROFILES": str(profiles)}
    box = capabilities_of(resolve_model("box", env=env))
    assert (box.choice, box.json_schema) == (False, True)  # pinned over the preset, key by key
    profiles.write_text("box:\n  profile: vllm\n  capabilities: {choise: false}\n")
    with pytest.raises(Exception, match=r"capabilities\.choise"):
        resolve_model("box", env=env)
