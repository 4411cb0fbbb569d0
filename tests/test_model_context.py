"""Model contexts keep what each agent sends within its model's context length; the transcript keeps all.

The endpoint here is a real HTTP server whose context is small: like vLLM, it refuses a prompt that leaves
no room for the answer (HTTP 400, "maximum context length").
"""

from __future__ import annotations

import itertools
import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from autogen_core import FunctionCall
from autogen_core.models import (
    AssistantMessage,
    FunctionExecutionResult,
    FunctionExecutionResultMessage,
    UserMessage,
)
from fake_openai import FakeOpenAI, Reply

from autogen_troupe import RunOptions, load_scenario, run_scenario
from autogen_troupe.agents._context import (
    ContextBudget,
    TroupeModelContext,
    estimate_message_tokens,
    estimate_tokens,
)
from autogen_troupe.errors import ModelCallError
from autogen_troupe.scenario._schema import BufferedContext, HeadAndTailContext, TokenLimitedContext

CONTEXT = 1500
ANSWER = 100
LONG = " ".join(f"Day {i}: walk to the old town, see the temple and eat momo." for i in range(12))


def _tokens(body: dict[str, Any]) -> int:
    """What the small server counts: words, numbers and punctuation marks (about a real tokenizer's count)."""
    text = json.dumps(body.get("messages", [])) + json.dumps(body.get("tools", []))
    return len(re.findall(r"\w+|[^\w\s]", text))


@pytest.fixture
def small() -> Any:
    with FakeOpenAI() as srv:
        srv.prompts: list[int] = []

        def respond(body: dict[str, Any]) -> Reply:
            n = _tokens(body)
            srv.prompts.append(n)
            if n + ANSWER > CONTEXT:
                return Reply(
                    status=400,
                    error=f"This model's maximum context length is {CONTEXT} tokens. However, your request "
                    f"has {n} input tokens and asks for {ANSWER} output tokens.",
                )
            return Reply(text=LONG)

        srv.responder = respond
        yield srv


def _scenario(tmp_path: Path, srv: FakeOpenAI, context: str = "") -> Any:
    path = tmp_path / "long.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: long_talk
            task: Plan a long trip, day by day.
            model:
              {{base_url: "{srv.base_url}", model: fake, context_length: {CONTEXT}, max_tokens: {ANSWER}}}
            team:
              kind: round_robin
              agents:
                - {{name: planner, system_message: You plan.}}
                - {{name: critic, system_message: You check.}}
              termination: {{max_messages: 16}}
              {context}
            limits: {{repeated_message: null}}  # every answer is the same long text, by design
            """
        ).lstrip("\n")
    )
    return load_scenario(path)


async def test_without_a_bound_the_conversation_outgrows_the_context(tmp_path: Path, small: Any) -> None:
    """The failure every default prevents: what made the travel team die on the embedded model."""
    sc = _scenario(tmp_path, small, "model_context: {kind: unbounded}")
    with pytest.raises(ModelCallError, match="maximum context length"):
        await run_scenario(sc, options=RunOptions(out_dir=tmp_path / "runs"))


async def test_the_default_context_keeps_every_request_within_the_model(tmp_path: Path, small: Any) -> None:
    sc = _scenario(tmp_path, small)
    result = await run_scenario(sc, options=RunOptions(out_dir=tmp_path / "runs"))
    assert result.stopped_by == "rule" and len(result.messages) == 16
    assert max(small.prompts) + ANSWER <= CONTEXT
    # Each request still opens with the task, and ends with the newest message.
    for rec in small.chat_requests[2:]:
        messages = rec.json["messages"]
        assert "Plan a long trip" in messages[1]["content"]
        assert len(messages) < 16
    # The transcript keeps every message, whatever was sent to the model.
    lines = [json.loads(x) for x in result.transcript_path.read_text().splitlines()]
    assert sum(1 for x in lines if x["record"] == "entry") == 16


@pytest.mark.parametrize(
    ("context", "sent"),
    [
        ("model_context: {kind: buffered, last: 3}", 3),
        ("model_context: {kind: head_and_tail, head: 1, tail: 2}", 3),
        ("model_context: {kind: token_limited, max_tokens: 300}", None),
    ],
)
async def test_a_team_wide_choice_applies_to_every_agent(
    tmp_path: Path, small: Any, context: str, sent: int | None
) -> None:
    sc = _scenario(tmp_path, small, context)
    await run_scenario(sc, options=RunOptions(out_dir=tmp_path / "runs"))
    last = small.chat_requests[-1].json["messages"]
    if sent is not None:
        assert len(last) == sent + 1  # and the system message
    else:
        assert sum(estimate_tokens(m["content"]) + 8 for m in last[1:]) <= 300


async def test_an_agent_setting_wins_over_the_team(tmp_path: Path, small: Any) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: mixed
            task: Plan.
            model:
              {{base_url: "{small.base_url}", model: fake, context_length: {CONTEXT}, max_tokens: {ANSWER}}}
            team:
              kind: round_robin
              model_context: {{kind: buffered, last: 2}}
              agents:
                - {{name: planner, system_message: You plan.}}
                - {{name: critic, system_message: You check., model_context: {{kind: buffered, last: 1}}}}
              termination: {{max_messages: 6}}
            """
        ).lstrip("\n")
    )
    await run_scenario(load_scenario(path), options=RunOptions(out_dir=tmp_path / "runs"))
    sizes = {}
    for rec in small.chat_requests:
        sizes.setdefault(rec.json["messages"][0]["content"], []).append(len(rec.json["messages"]) - 1)
    assert sizes["You plan."][-1] == 2
    assert sizes["You check."][-1] == 1


# --------------------------------------------------------------------------- the context on its own


def _call(i: int) -> AssistantMessage:
    return AssistantMessage(
        content=[FunctionCall(id=f"c{i}", name="lookup", arguments='{"q": "x"}')], source="a"
    )


def _result(i: int, text: str = "found it") -> FunctionExecutionResultMessage:
    return FunctionExecutionResultMessage(
        content=[FunctionExecutionResult(call_id=f"c{i}", content=text, name="lookup", is_error=False)]
    )


async def _context(messages: list[Any], limit: int) -> list[Any]:
    ctx = TroupeModelContext(TokenLimitedContext(max_tokens=limit))
    for m in messages:
        await ctx.add_message(m)
    return await ctx.get_messages()


async def test_a_tool_result_never_loses_its_call() -> None:
    task = UserMessage(content="Find x.", source="user")
    history = [task] + [m for i in range(6) for m in (_call(i), _result(i))]
    budget = estimate_message_tokens(task) + 3 * (estimate_message_tokens(_call(0)) + 20)
    kept = await _context(history, budget)
    assert kept[0] is task
    for before, m in itertools.pairwise(kept):
        if isinstance(m, FunctionExecutionResultMessage):
            assert isinstance(before, AssistantMessage) and before.content[0].id == m.content[0].call_id
    assert kept[-1] == history[-1]


async def test_a_message_too_long_for_the_budget_is_cut_not_sent_whole() -> None:
    huge = UserMessage(content="word " * 5000, source="user")
    kept = await _context([UserMessage(content="Task.", source="user"), huge], 200)
    assert len(kept) == 1 and kept[0].content.endswith("[... cut to fit the model's context]")
    assert estimate_message_tokens(kept[0]) <= 200
    # A huge tool result is cut the same way, and keeps its call in front of it.
    kept = await _context([_call(1), _result(1, "row " * 5000)], 200)
    assert isinstance(kept[0], AssistantMessage) and len(kept) == 2
    assert kept[1].content[0].content.endswith("[... cut to fit the model's context]")


async def test_the_budget_leaves_room_for_answer_system_message_and_tools() -> None:
    async def tools() -> list[Any]:
        return [{"name": "lookup", "description": "Look up " * 50, "parameters": {}}]

    plain = await ContextBudget(4096, 512, "You help.").tokens()
    with_tools = await ContextBudget(4096, 512, "You help.", tools).tokens()
    assert plain < 4096 - 512
    assert with_tools < plain - 50


def test_the_estimate_is_high_for_words_numbers_and_other_scripts() -> None:
    assert estimate_tokens("Plan a trip to Nepal.") >= 6
    assert estimate_tokens("1234567890") == 10  # a digit each, as SmolLM2 splits them
    assert estimate_tokens("नमस्ते") == len("नमस्ते".encode())  # a token per byte beyond ASCII


def test_model_context_kinds_validate() -> None:
    assert BufferedContext(last=3).last == 3
    assert HeadAndTailContext(head=1, tail=4).tail == 4
    with pytest.raises(ValueError, match="from 1 to 10000"):
        BufferedContext(last=0)


async def test_counts_are_in_turns_so_a_kept_tool_result_keeps_its_call() -> None:
    """head_and_tail, tail 1, right after a tool ran (the reflection call) sends the call and its result."""
    task = UserMessage(content="What time is it?", source="user")
    history = [task, UserMessage(content="Ask the clock.", source="b"), _call(1), _result(1, "12:00")]
    for choice in (HeadAndTailContext(head=1, tail=1), BufferedContext(last=1)):
        ctx = TroupeModelContext(choice)
        for m in history:
            await ctx.add_message(m)
        kept = await ctx.get_messages()
        assert kept[-2:] == history[-2:]
        assert (kept[0] is task) == (choice.kind == "head_and_tail")


async def test_the_small_default_model_sees_the_task_and_the_newest_message(
    tmp_path: Path, small: Any
) -> None:
    """A model fact: SmolLM2-135M strays and copies when it sees the whole conversation (measured)."""
    path = tmp_path / "smol.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: smol
            task: Plan a long trip, day by day.
            model: {{base_url: "{small.base_url}", model: SmolLM2-135M-Instruct, max_tokens: {ANSWER}}}
            team:
              kind: round_robin
              agents:
                - {{name: planner, system_message: You plan.}}
                - {{name: critic, system_message: You check.}}
              termination: {{max_messages: 6}}
            """
        ).lstrip("\n")
    )
    await run_scenario(load_scenario(path), options=RunOptions(out_dir=tmp_path / "runs"))
    last = small.chat_requests[-1].json["messages"]
    assert [m["role"] for m in last] == ["system", "user", "user"]
    assert "Plan a long trip" in last[1]["content"]
