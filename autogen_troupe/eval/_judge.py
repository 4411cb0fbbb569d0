"""The LLM judge: one model call that scores a run's final answer against the scenario's rubric.

The judge is any model profile (an endpoint or the in-process engine). Its prompt asks for a short
reason and a last line `SCORE: n`; where the judge's endpoint decodes under a JSON schema (the in-process
engine, a vLLM server: models/_capabilities.py), the answer is constrained to `{"score": n, "reason":
"..."}` with n on the scale, since a small model otherwise forgets the score line (SmolLM2-135M wrote
none in three runs of three). The prompt and the whole answer are kept in the run's record, so a
surprising score can be read back. A judge whose model fails, or whose answer holds no score on the
scale, fails the run's `judge` check with the reason, and the eval goes on.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from .._redact import redact_text
from ..models._capabilities import UNKNOWN, Capabilities, json_args, score_schema
from ..scenario._judge import Judge
from ._results import JudgeVerdict, Message
from ._tasks import EvalTask

__all__ = ["ask_judge", "judge_prompt", "read_score"]

_SYSTEM = (
    "You are a strict, fair grader. You read a task, the answer an AI team gave, and a rubric, and you "
    "score the answer from {low} (worst) to {high} (best) by the rubric alone. Reply with one or two "
    "sentences of reasons, then a last line of the form `SCORE: <whole number from {low} to {high}>`."
)
_SCORE = re.compile(r"score\W{0,4}[:=]\W{0,4}(-?\d+(?:\.\d+)?)", re.IGNORECASE)
_BARE = re.compile(r"^\W*(-?\d+(?:\.\d+)?)\W*$")
_MAX_ANSWER_CHARS = 20_000  # of the team's answer shown to the judge


def judge_prompt(judge: Judge, task: EvalTask, answer: str) -> tuple[Message, ...]:
    """The system and user messages the judge gets for one run."""
    if len(answer) > _MAX_ANSWER_CHARS:
        answer = answer[:_MAX_ANSWER_CHARS] + "\n[... the rest of the answer is cut ...]"
    parts = [f"# Task\n{task.task}"]
    if task.reference is not None:
        parts.append(f"# Reference answer\n{task.reference}")
    parts.append(f"# Rubric\n{task.rubric or judge.rubric}")
    parts.append(f"# Answer to grade\n{answer or '(the team gave no answer)'}")
    parts.append(f"Grade the answer by the rubric. End with `SCORE: n`, n from {judge.low} to {judge.high}.")
    return (
        Message(role="system", content=_SYSTEM.format(low=judge.low, high=judge.high)),
        Message(role="user", content="\n\n".join(parts)),
    )


def read_score(text: str, judge: Judge) -> tuple[float | None, str | None]:
    """The score in a judge's answer (`{"score": n, ...}` as JSON, else its last `SCORE: n`, or an answer
    that is only a number), and why there is none when there is none."""
    found = _json_score(text)
    found = found or _SCORE.findall(text)
    if not found:
        bare = _BARE.match(text)
        found = [bare.group(1)] if bare else []
    if not found:
        return None, "the judge's answer holds no `SCORE: n` line"
    score = float(found[-1])
    if not judge.low <= score <= judge.high:
        return None, f"the judge's score {score:g} is off the scale {judge.scale}"
    return score, None


def _json_score(text: str) -> list[str]:
    try:
        data = json.loads(text)
    except ValueError:
        return []
    score = data.get("score") if isinstance(data, dict) else None
    ok = isinstance(score, int | float) and not isinstance(score, bool)
    return [str(score)] if ok else []


async def ask_judge(
    client: Any,
    model: str,
    judge: Judge,
    task: EvalTask,
    answer: str,
    *,
    capabilities: Capabilities = UNKNOWN,
) -> JudgeVerdict:
    """Ask `client` (an AutoGen ChatCompletionClient) to score `answer`, under a JSON schema where the
    `capabilities` of its endpoint allow; never raises for the judge's own failures (they are the
    verdict's `problem`)."""
    from autogen_core.models import SystemMessage, UserMessage

    prompt = judge_prompt(judge, task, answer)
    messages = [
        SystemMessage(content=prompt[0].content),
        UserMessage(content=prompt[1].content, source="user"),
    ]
    constrained = json_args(capabilities, score_schema(judge.low, judge.high), "judge_score")
    started = time.monotonic()
    try:
        if constrained is None:
            result = await client.create(messages)
        else:
            result = await client.create(messages, extra_create_args=constrained)
    except Exception as e:  # ours, AutoGen's and the SDKs' errors alike: the eval goes on
        failed = redact_text(f"the judge's model failed: {type(e).__name__}: {e}")
        return JudgeVerdict(model=model, prompt=prompt, problem=failed, seconds=_since(started))
    text = result.content if isinstance(result.content, str) else str(result.content)
    score, problem = read_score(text, judge)
    usage = result.usage
    return JudgeVerdict(
        model=model,
        prompt=prompt,
        answer=text,
        score=score,
        passed=score is not None and score >= judge.passing,
        problem=problem,
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        seconds=_since(started),
    )


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
