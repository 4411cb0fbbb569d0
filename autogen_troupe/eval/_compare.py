"""`troupe eval compare A B`: two results folders side by side, and the differences that matter.

Tasks are matched by id. On the tasks both evals ran, the change in pass rate is the mean of the per-task
changes, with a 95% interval from a paired bootstrap over tasks and a two-sided sign test over the tasks
that changed (with one run per task on each side this is McNemar's exact test). The same for the judge's
mean score when both evals were judged. Tasks that passed less often in B are regressions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from ..scenario._base import Frozen
from ._results import EvalMeta, ResultsFolder, RunRecord
from ._stats import Rate, Summary, bootstrap_ci, summarize

__all__ = ["Comparison", "Side", "TaskChange", "compare", "sign_test"]


class Side(Frozen):
    folder: str
    meta: EvalMeta
    summary: Summary


class TaskChange(Frozen):
    task_id: str
    a_passed: int
    a_runs: int
    b_passed: int
    b_runs: int
    a_score: float | None = None
    b_score: float | None = None

    @property
    def change(self) -> float:
        return self.b_passed / self.b_runs - self.a_passed / self.a_runs


class Diff(Frozen):
    """B minus A on the common tasks, with a 95% interval and the sign test's p-value."""

    a: float
    b: float
    diff: float
    low: float
    high: float
    p_value: float | None = None


class Comparison(Frozen):
    a: Side
    b: Side
    common: int
    only_a: tuple[str, ...] = ()
    only_b: tuple[str, ...] = ()
    pass_rate: Diff
    score: Diff | None = None
    checks: dict[str, tuple[Rate | None, Rate | None]]
    regressions: tuple[TaskChange, ...] = ()
    improvements: tuple[TaskChange, ...] = ()


def sign_test(up: int, down: int) -> float:
    """Two-sided exact binomial p-value of `up` against `down` changes when either is as likely."""
    n = up + down
    if n == 0:
        return 1.0
    k = min(up, down)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def _load(path: str | Path) -> tuple[Side, list[RunRecord]]:
    folder = ResultsFolder(path)
    meta = folder.read_meta()
    records = list(folder.load_runs().values())
    return Side(folder=str(path), meta=meta, summary=summarize(records, scenario=meta.scenario)), records


def _by_task(records: Sequence[RunRecord]) -> dict[str, list[RunRecord]]:
    out: dict[str, list[RunRecord]] = {}
    for r in records:
        out.setdefault(r.task_id, []).append(r)
    return out


def _mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _diff(pairs: Sequence[tuple[float, float]], seed: int) -> Diff:
    """Mean of A, of B, of B - A over paired values, a bootstrap interval, and the sign test."""
    diffs = [[b - a] for a, b in pairs]
    mean = sum(d[0] for d in diffs) / len(diffs) if diffs else 0.0
    low, high = bootstrap_ci(diffs, lambda g: sum(x[0] for x in g) / len(g), seed=seed) if diffs else (0, 0)
    up = sum(d[0] > 0 for d in diffs)
    down = sum(d[0] < 0 for d in diffs)
    return Diff(
        a=sum(a for a, _ in pairs) / len(pairs) if pairs else 0.0,
        b=sum(b for _, b in pairs) / len(pairs) if pairs else 0.0,
        diff=mean,
        low=low,
        high=high,
        p_value=sign_test(up, down),
    )


def compare(a: str | Path, b: str | Path) -> Comparison:
    """Compare the results folders `a` (the baseline) and `b`."""
    side_a, recs_a = _load(a)
    side_b, recs_b = _load(b)
    ta, tb = _by_task(recs_a), _by_task(recs_b)
    common = [t for t in ta if t in tb]
    changes = [
        TaskChange(
            task_id=t,
            a_passed=sum(r.passed for r in ta[t]),
            a_runs=len(ta[t]),
            b_passed=sum(r.passed for r in tb[t]),
            b_runs=len(tb[t]),
            a_score=_mean([r.judge.score for r in ta[t] if r.judge and r.judge.score is not None]),
            b_score=_mean([r.judge.score for r in tb[t] if r.judge and r.judge.score is not None]),
        )
        for t in common
    ]
    pass_pairs = [(c.a_passed / c.a_runs, c.b_passed / c.b_runs) for c in changes]
    score_pairs = [(c.a_score, c.b_score) for c in changes if c.a_score is not None and c.b_score is not None]
    names = list(dict.fromkeys([*side_a.summary.checks, *side_b.summary.checks]))
    return Comparison(
        a=side_a,
        b=side_b,
        common=len(common),
        only_a=tuple(t for t in ta if t not in tb),
        only_b=tuple(t for t in tb if t not in ta),
        pass_rate=_diff(pass_pairs, seed=1),
        score=_diff(score_pairs, seed=2) if score_pairs else None,
        checks={n: (side_a.summary.checks.get(n), side_b.summary.checks.get(n)) for n in names},
        regressions=tuple(sorted((c for c in changes if c.change < 0), key=lambda c: (c.change, c.task_id))),
        improvements=tuple(
            sorted((c for c in changes if c.change > 0), key=lambda c: (-c.change, c.task_id))
        ),
    )
