"""The baseline gate of `troupe eval --baseline RESULTS --fail-on-regression`: did the pass rate drop, in
all and for each expectation, by more than chance?

On the tasks both evals ran, each rate is compared with a one-sided Fisher exact test on the runs
(passed/failed in the baseline against passed/failed now): the chance of so few passes now, or fewer,
if both evals passed alike. A drop is a regression when that chance is under `alpha` (0.05 by default).
Fisher's test is exact at any size, so a 5-task smoke eval is neither flagged for one unlucky run nor
excused. Runs of one task (`--repeat`) are treated as independent here, which makes the test a little
quick to flag; a smaller `--alpha` allows for it. The hypergeometric tail is a few lines of `math.comb`:
scipy is not a dependency of ours, and this is all of it we would use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..scenario._base import Frozen
from ._compare import TaskChange
from ._results import RunRecord

__all__ = ["ALPHA", "Drop", "GateReport", "fisher_one_sided", "gate"]

ALPHA = 0.05


def fisher_one_sided(base_passed: int, base_runs: int, now_passed: int, now_runs: int) -> float:
    """P(now passes <= now_passed) given the margins: Fisher's exact test that `now` passes less often."""
    passes = base_passed + now_passed
    total = base_runs + now_runs
    denom = math.comb(total, now_runs)
    if denom == 0:
        return 1.0
    low = max(0, passes - base_runs)
    tail = sum(
        math.comb(passes, k) * math.comb(total - passes, now_runs - k) for k in range(low, now_passed + 1)
    )
    return min(1.0, tail / denom)


class Drop(Frozen):
    """One rate (`pass rate`, or an expectation's) in the baseline and now, and Fisher's p-value."""

    name: str
    base_passed: int
    base_runs: int
    now_passed: int
    now_runs: int
    p_value: float
    regression: bool

    @property
    def base_rate(self) -> float:
        return self.base_passed / self.base_runs if self.base_runs else 0.0

    @property
    def now_rate(self) -> float:
        return self.now_passed / self.now_runs if self.now_runs else 0.0


class GateReport(Frozen):
    baseline: str
    alpha: float
    common_tasks: int
    rates: tuple[Drop, ...]
    flipped_worse: tuple[TaskChange, ...] = ()  # tasks that pass less often now
    flipped_better: tuple[TaskChange, ...] = ()

    @property
    def regressed(self) -> bool:
        return any(d.regression for d in self.rates)


def _drop(name: str, base: Sequence[bool], now: Sequence[bool], alpha: float) -> Drop:
    bp, np_ = sum(base), sum(now)
    p = fisher_one_sided(bp, len(base), np_, len(now))
    dropped = len(base) > 0 and len(now) > 0 and np_ / len(now) < bp / len(base)
    return Drop(
        name=name,
        base_passed=bp,
        base_runs=len(base),
        now_passed=np_,
        now_runs=len(now),
        p_value=p,
        regression=dropped and p < alpha,
    )


def _change(task: str, base: Sequence[RunRecord], now: Sequence[RunRecord]) -> TaskChange:
    return TaskChange(
        task_id=task,
        a_passed=sum(r.passed for r in base),
        a_runs=len(base),
        b_passed=sum(r.passed for r in now),
        b_runs=len(now),
    )


def gate(
    baseline: Sequence[RunRecord], now: Sequence[RunRecord], *, name: str = "", alpha: float = ALPHA
) -> GateReport:
    """Compare the runs `now` with the `baseline`'s on the tasks both ran."""
    by_base: dict[str, list[RunRecord]] = {}
    by_now: dict[str, list[RunRecord]] = {}
    for r in baseline:
        by_base.setdefault(r.task_id, []).append(r)
    for r in now:
        by_now.setdefault(r.task_id, []).append(r)
    common = [t for t in by_now if t in by_base]
    base_runs = [r for t in common for r in by_base[t]]
    now_runs = [r for t in common for r in by_now[t]]
    rates = [_drop("pass rate", [r.passed for r in base_runs], [r.passed for r in now_runs], alpha)]
    names = [
        n
        for n in dict.fromkeys(n for r in now_runs for n in r.checks)
        if any(n in r.checks for r in base_runs)
    ]
    for n in names:
        rates.append(
            _drop(
                n,
                [r.checks[n] for r in base_runs if n in r.checks],
                [r.checks[n] for r in now_runs if n in r.checks],
                alpha,
            )
        )
    changes = [_change(t, by_base[t], by_now[t]) for t in common]
    return GateReport(
        baseline=name,
        alpha=alpha,
        common_tasks=len(common),
        rates=tuple(rates),
        flipped_worse=tuple(
            sorted((c for c in changes if c.change < 0), key=lambda c: (c.change, c.task_id))
        ),
        flipped_better=tuple(
            sorted((c for c in changes if c.change > 0), key=lambda c: (-c.change, c.task_id))
        ),
    )
