"""An eval's numbers: pass rates with 95% confidence intervals, pass@k, judge scores, token and latency
percentiles, the worst runs.

Intervals: a pass rate over runs of distinct tasks is a Wilson score interval; when tasks ran several
times (`--repeat`), runs of one task are not independent, so the interval comes from a bootstrap over
tasks (resampling whole tasks, 2000 rounds, a fixed seed so a report is the same every time it is made).
Mean judge scores get the same task bootstrap. pass@k is the unbiased estimate from n runs with c passes,
1 - C(n-c, k) / C(n, k) (Chen et al. 2021); pass^k, C(c, k) / C(n, k), is the chance that k runs all pass.
Per task, the variance of its runs' pass/fail, p(1-p), and the standard deviation of its judge's scores say
how much repeats of one task disagree; their mean over tasks is the eval's run-to-run noise.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence

from ..scenario._base import Frozen
from ._results import RunRecord

__all__ = [
    "Dist",
    "JudgeStats",
    "Rate",
    "Summary",
    "TaskRow",
    "WorstRun",
    "bootstrap_ci",
    "pass_at_k",
    "pass_hat_k",
    "percentile",
    "summarize",
    "wilson",
]

Z95 = 1.959963984540054
BOOTSTRAP_ROUNDS = 2000
WORST = 10


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated between the nearest ranks (numpy's default)."""
    if not values:
        return 0.0
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of k successes in n trials."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_ci(
    groups: Sequence[Sequence[float]],
    statistic: Callable[[Sequence[Sequence[float]]], float],
    *,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> tuple[float, float]:
    """A 95% percentile interval of `statistic` over resamples of whole groups (tasks)."""
    if len(groups) < 2:
        v = statistic(groups) if groups else 0.0
        return v, v
    rng = random.Random(seed)
    n = len(groups)
    stats = sorted(statistic([groups[i] for i in rng.choices(range(n), k=n)]) for _ in range(rounds))
    return percentile(stats, 2.5), percentile(stats, 97.5)


def pass_at_k(n: int, c: int, k: int) -> float:
    """The chance that at least one of k runs passes, estimated without bias from n runs with c passes."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """The chance that k runs all pass, estimated from n runs with c passes."""
    return math.comb(c, k) / math.comb(n, k) if k <= n else 0.0


def _pooled(groups: Sequence[Sequence[float]]) -> float:
    total = sum(len(g) for g in groups)
    return sum(sum(g) for g in groups) / total if total else 0.0


def _mean_of_means(groups: Sequence[Sequence[float]]) -> float:
    means = [sum(g) / len(g) for g in groups if g]
    return sum(means) / len(means) if means else 0.0


# --------------------------------------------------------------------------- the summary


class Rate(Frozen):
    passed: int
    total: int
    rate: float
    low: float  # 95% confidence interval
    high: float


class Dist(Frozen):
    n: int = 0
    mean: float = 0.0
    p50: float = 0.0
    p90: float = 0.0
    p99: float = 0.0
    min: float = 0.0
    max: float = 0.0


class JudgeStats(Frozen):
    judged: int  # runs with a score
    unscored: int  # runs the judge gave no score for (its model failed, no score line, a failed run)
    mean: float
    low: float  # 95% confidence interval of the mean (bootstrap over tasks)
    high: float
    passing: Rate
    scores: dict[str, int]  # score -> runs
    prompt_tokens: int
    completion_tokens: int


class WorstRun(Frozen):
    task_id: str
    repeat: int
    outcome: str
    why: str
    score: float | None = None
    tokens: int = 0
    seconds: float = 0.0
    transcript: str | None = None


class TaskRow(Frozen):
    task_id: str
    runs: int
    passed: int
    pass_variance: float = 0.0  # p(1-p) of its runs' pass/fail: 0 when its repeats agree, 0.25 at most
    mean_score: float | None = None
    score_sd: float | None = None  # sample standard deviation of the judge's scores, with 2 or more
    mean_tokens: float = 0.0
    mean_seconds: float = 0.0


class Summary(Frozen):
    scenario: str
    runs: int
    tasks: int
    repeat: int
    outcomes: dict[str, int]
    pass_rate: Rate
    pass_at: dict[str, float]  # k -> pass@k
    pass_all: dict[str, float]  # k -> pass^k
    flaky_tasks: int  # tasks whose repeats did not all agree
    task_variance: float = 0.0  # the mean of the tasks' pass variances: run-to-run noise, not task difficulty
    checks: dict[str, Rate]
    judge: JudgeStats | None = None
    tokens: Dist
    seconds: Dist
    worst: tuple[WorstRun, ...] = ()
    per_task: tuple[TaskRow, ...] = ()


def _rate(groups: Sequence[Sequence[float]]) -> Rate:
    passed = int(sum(sum(g) for g in groups))
    total = sum(len(g) for g in groups)
    if all(len(g) <= 1 for g in groups):
        low, high = wilson(passed, total)
    else:
        low, high = bootstrap_ci(groups, _pooled)
    return Rate(passed=passed, total=total, rate=passed / total if total else 0.0, low=low, high=high)


def _dist(values: Sequence[float]) -> Dist:
    if not values:
        return Dist()
    return Dist(
        n=len(values),
        mean=sum(values) / len(values),
        p50=percentile(values, 50),
        p90=percentile(values, 90),
        p99=percentile(values, 99),
        min=min(values),
        max=max(values),
    )


def _by_task(records: Sequence[RunRecord]) -> dict[str, list[RunRecord]]:
    out: dict[str, list[RunRecord]] = {}
    for r in records:
        out.setdefault(r.task_id, []).append(r)
    return out


def _ks(repeat: int) -> list[int]:
    ks, k = [], 1
    while k < repeat:
        ks.append(k)
        k *= 2
    return [*ks, repeat] if repeat > 0 else [1]


def _judge_stats(records: Sequence[RunRecord], by_task: dict[str, list[RunRecord]]) -> JudgeStats | None:
    verdicts = [r.judge for r in records if r.judge is not None]
    if not verdicts:
        return None
    groups = [[r.judge.score for r in rs if r.judge and r.judge.score is not None] for rs in by_task.values()]
    groups = [g for g in groups if g]
    scores = [s for g in groups for s in g]
    low, high = bootstrap_ci(groups, _mean_of_means) if groups else (0.0, 0.0)
    counts: dict[str, int] = {}
    for s in sorted(scores):
        counts[f"{s:g}"] = counts.get(f"{s:g}", 0) + 1
    return JudgeStats(
        judged=len(scores),
        unscored=len(verdicts) - len(scores),
        mean=_mean_of_means(groups),
        low=low,
        high=high,
        passing=_rate([[float(r.judge.passed) for r in rs if r.judge] for rs in by_task.values()]),
        scores=counts,
        prompt_tokens=sum(v.prompt_tokens for v in verdicts),
        completion_tokens=sum(v.completion_tokens for v in verdicts),
    )


def _why(r: RunRecord) -> str:
    if r.outcome == "error":
        return r.error or r.stop_reason
    if r.failures:
        return r.failures[0].splitlines()[0]
    if r.judge is not None and not r.judge.passed:
        return r.judge.problem or f"the judge scored it {r.judge.score:g}"
    return "passed"


def _worst(records: Sequence[RunRecord]) -> tuple[WorstRun, ...]:
    order = {"error": 0, "fail": 1, "pass": 2}

    def badness(r: RunRecord) -> tuple[float, ...]:
        score = r.judge.score if r.judge is not None and r.judge.score is not None else math.inf
        return (order[r.outcome], score, -len(r.failures), -r.total_tokens)

    return tuple(
        WorstRun(
            task_id=r.task_id,
            repeat=r.repeat,
            outcome=r.outcome,
            why=_why(r),
            score=r.judge.score if r.judge else None,
            tokens=r.total_tokens,
            seconds=r.seconds,
            transcript=r.transcript,
        )
        for r in sorted(records, key=badness)[:WORST]
        if r.outcome != "pass"
    )


def summarize(records: Sequence[RunRecord], *, scenario: str = "", repeat: int | None = None) -> Summary:
    """The numbers of an eval from its run records (one per run)."""
    by_task = _by_task(records)
    groups = [[float(r.passed) for r in rs] for rs in by_task.values()]
    repeat = repeat or max((len(rs) for rs in by_task.values()), default=1)
    pass_at, pass_all = {}, {}
    for k in _ks(repeat):
        eligible = [(len(rs), sum(r.passed for r in rs)) for rs in by_task.values() if len(rs) >= k]
        if eligible:
            pass_at[str(k)] = sum(pass_at_k(n, c, k) for n, c in eligible) / len(eligible)
            pass_all[str(k)] = sum(pass_hat_k(n, c, k) for n, c in eligible) / len(eligible)
    names = list(dict.fromkeys(name for r in records for name in r.checks))
    checks = {
        name: _rate([[float(r.checks[name]) for r in rs if name in r.checks] for rs in by_task.values()])
        for name in names
    }
    per_task = tuple(
        TaskRow(
            task_id=tid,
            runs=len(rs),
            passed=sum(r.passed for r in rs),
            pass_variance=_bernoulli_variance(sum(r.passed for r in rs), len(rs)),
            mean_score=_mean(_scores(rs)),
            score_sd=statistics.stdev(_scores(rs)) if len(_scores(rs)) > 1 else None,
            mean_tokens=sum(r.total_tokens for r in rs) / len(rs),
            mean_seconds=sum(r.seconds for r in rs) / len(rs),
        )
        for tid, rs in by_task.items()
    )
    return Summary(
        scenario=scenario,
        runs=len(records),
        tasks=len(by_task),
        repeat=repeat,
        outcomes={k: sum(r.outcome == k for r in records) for k in ("pass", "fail", "error")},
        pass_rate=_rate(groups),
        pass_at=pass_at,
        pass_all=pass_all,
        flaky_tasks=sum(0 < sum(g) < len(g) for g in groups),
        task_variance=_mean([t.pass_variance for t in per_task]) or 0.0,
        checks=checks,
        judge=_judge_stats(records, by_task),
        tokens=_dist([float(r.total_tokens) for r in records]),
        seconds=_dist([r.seconds for r in records]),
        worst=_worst(records),
        per_task=per_task,
    )


def _mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _scores(records: Sequence[RunRecord]) -> list[float]:
    return [r.judge.score for r in records if r.judge is not None and r.judge.score is not None]


def _bernoulli_variance(passed: int, runs: int) -> float:
    p = passed / runs if runs else 0.0
    return p * (1 - p)
