"""The eval's numbers, against values worked out by hand or known from the literature, and reading the
judge's score."""

from __future__ import annotations

import math

import pytest

from autogen_troupe.eval import RunRecord, summarize
from autogen_troupe.eval._compare import sign_test
from autogen_troupe.eval._judge import judge_prompt, read_score
from autogen_troupe.eval._results import JudgeVerdict
from autogen_troupe.eval._stats import bootstrap_ci, pass_at_k, pass_hat_k, percentile, wilson
from autogen_troupe.eval._tasks import EvalTask
from autogen_troupe.scenario import Judge


def test_wilson_interval_matches_the_textbook() -> None:
    low, high = wilson(8, 10)  # Wilson (1927); also statsmodels proportion_confint(8, 10, method="wilson")
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == pytest.approx(1.0)
    assert wilson(0, 0) == (0.0, 1.0)


def test_percentiles_interpolate_like_numpy() -> None:
    xs = [1.0, 2.0, 3.0, 4.0, 10.0]
    assert [percentile(xs, q) for q in (0, 50, 90, 100)] == [1.0, 3.0, pytest.approx(7.6), 10.0]
    assert percentile([], 50) == 0.0


def test_pass_at_k_is_the_unbiased_estimator() -> None:
    assert pass_at_k(5, 0, 1) == 0.0
    assert pass_at_k(5, 5, 3) == 1.0
    assert pass_at_k(4, 1, 2) == pytest.approx(1 - math.comb(3, 2) / math.comb(4, 2))  # 0.5
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_hat_k(4, 2, 2) == pytest.approx(1 / 6)
    assert pass_hat_k(2, 2, 3) == 0.0


def test_the_bootstrap_is_deterministic_and_brackets_the_mean() -> None:
    groups = [[1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]
    mean = lambda g: sum(sum(x) for x in g) / sum(len(x) for x in g)  # noqa: E731
    first = bootstrap_ci(groups, mean)
    assert first == bootstrap_ci(groups, mean)
    assert first[0] < 0.6 < first[1]


def test_the_sign_test_is_mcnemars_exact_test() -> None:
    assert sign_test(0, 0) == 1.0
    assert sign_test(0, 6) == pytest.approx(2 / 64)
    assert sign_test(3, 3) == 1.0
    assert sign_test(1, 9) == pytest.approx(2 * 11 / 1024)


def record(task: str, repeat: int, outcome: str, score: float | None = None, tokens: int = 10) -> RunRecord:
    judge = (
        JudgeVerdict(model="m", score=score, passed=score is not None and score >= 4)
        if score or score == 0
        else None
    )
    return RunRecord(
        task_id=task,
        repeat=repeat,
        task=task,
        outcome=outcome,  # type: ignore[arg-type]
        checks={"run": outcome != "error", "judge": bool(judge and judge.passed)},
        judge=judge,
        prompt_tokens=tokens,
        seconds=float(tokens),
        failures=() if outcome == "pass" else ("judge: low",),
        error="boom" if outcome == "error" else None,
    )


def test_a_summary_counts_runs_tasks_repeats_and_the_worst() -> None:
    records = [
        record("a", 0, "pass", 5, 10),
        record("a", 1, "pass", 4, 20),
        record("b", 0, "fail", 2, 30),
        record("b", 1, "pass", 4, 40),
        record("c", 0, "error", None, 50),
        record("c", 1, "fail", 1, 60),
    ]
    s = summarize(records, scenario="x")
    assert (s.runs, s.tasks, s.repeat, s.outcomes) == (6, 3, 2, {"pass": 3, "fail": 2, "error": 1})
    assert s.pass_rate.rate == 0.5 and s.pass_rate.low < 0.5 < s.pass_rate.high
    assert s.pass_at == {"1": pytest.approx(0.5), "2": pytest.approx(2 / 3)}
    assert s.pass_all == {"1": pytest.approx(0.5), "2": pytest.approx(1 / 3)}
    assert s.flaky_tasks == 1
    rows = {t.task_id: t for t in s.per_task}  # variance per task: pass/fail p(1-p), the scores' sample sd
    assert [rows[t].pass_variance for t in "abc"] == [0.0, 0.25, 0.0]
    assert s.task_variance == pytest.approx(0.25 / 3)
    assert rows["a"].score_sd == pytest.approx(math.sqrt(0.5)) and rows["b"].score_sd == pytest.approx(
        math.sqrt(2)
    )
    assert rows["c"].score_sd is None  # one score only
    assert s.checks["run"].passed == 5 and s.checks["judge"].passed == 3
    assert s.judge is not None and s.judge.judged == 5 and s.judge.unscored == 0
    assert s.judge.mean == pytest.approx((4.5 + 3 + 1) / 3)  # the mean of the tasks' means
    assert s.judge.scores == {"1": 1, "2": 1, "4": 2, "5": 1}
    assert (s.tokens.p50, s.tokens.max) == (35.0, 60.0)
    assert [(w.task_id, w.repeat, w.outcome) for w in s.worst] == [
        ("c", 0, "error"),
        ("c", 1, "fail"),
        ("b", 0, "fail"),
    ]
    assert s.worst[0].why == "boom"


def test_single_runs_get_a_wilson_interval() -> None:
    s = summarize([record(t, 0, "pass" if i < 8 else "fail") for i, t in enumerate("abcdefghij")])
    assert (round(s.pass_rate.low, 4), round(s.pass_rate.high, 4)) == (0.4902, 0.9433)
    assert s.pass_at == {"1": pytest.approx(0.8)} and s.judge is None


JUDGE = Judge(rubric="Mentions {{city}}.", scale="1-5")


@pytest.mark.parametrize(
    ("answer", "score", "problem"),
    [
        ("Good plan.\nSCORE: 4", 4.0, None),
        ("score = 2 at first... final **Score:** 5", 5.0, None),
        ("3", 3.0, None),
        ("SCORE: 9", None, "the judge's score 9 is off the scale 1-5"),
        ("I like it.", None, "the judge's answer holds no `SCORE: n` line"),
    ],
)
def test_the_judges_score_is_its_last_score_line(
    answer: str, score: float | None, problem: str | None
) -> None:
    assert read_score(answer, JUDGE) == (score, problem)


def test_the_judge_sees_task_reference_rubric_and_answer() -> None:
    task = EvalTask(id="k", task="Plan Kyoto.", reference="Temples", rubric="Mentions Kyoto.")
    system, user = judge_prompt(JUDGE, task, "Day 1: Kyoto")
    assert "from 1 (worst) to 5 (best)" in system.content
    for part in (
        "# Task\nPlan Kyoto.",
        "# Reference answer\nTemples",
        "# Rubric\nMentions Kyoto.",
        "Day 1: Kyoto",
    ):
        assert part in user.content
    long = judge_prompt(JUDGE, task, "x" * 30_000)[1].content
    assert "the rest of the answer is cut" in long and len(long) < 21_000
