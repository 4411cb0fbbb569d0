"""What `troupe eval` shows on the terminal: a progress bar with ETA while runs are made, then the
summary table; and the two sides of `troupe eval compare`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from .._redact import redact_text
from .._text import safe_text, terminal_safe
from ..eval import (
    Comparison,
    Diff,
    Dist,
    EvalMeta,
    EvalResult,
    GateReport,
    MatrixResult,
    Rate,
    RunRecord,
    Summary,
)

__all__ = ["ProgressView", "plan_line", "render_comparison", "render_gate", "render_matrix", "render_summary"]


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _rate(r: Rate) -> str:
    return f"{_pct(r.rate)} (95% CI {_pct(r.low)}-{_pct(r.high)}), {r.passed}/{r.total}"


def _dist(d: Dist, fmt: str) -> str:
    return " · ".join(f"{k} {format(getattr(d, k), fmt)}" for k in ("p50", "p90", "p99", "mean"))


def plan_line(meta: EvalMeta, total: int, kept: Sequence[RunRecord], folder: object) -> Text:
    """What is about to run, before the bar: scenario, tasks, repeats, models, judge, output folder."""
    models = ", ".join(sorted(set(meta.models.values()))) or "(none)"
    judge = f"; judge {meta.judge['model']}" if meta.judge else ""
    before = ""
    if kept:
        passed = sum(r.passed for r in kept)
        before = f" ({len(kept)} done before, {passed} of them passed; {total - len(kept)} to make)"
    return safe_text(
        f"troupe eval {meta.scenario}: {meta.tasks} tasks x {meta.repeat} repeats = {total} runs{before}, "
        f"{meta.concurrency} at once, on {models}{judge}; results in {folder}"
    )


class ProgressView:
    """Before the runs, a line saying what runs; then a progress bar per model with the runs finished of
    all, how many of them passed, failed and erred, elapsed time and ETA (on stderr; nothing when quiet).
    Runs that `--resume` keeps count as finished, and their passes as passes."""

    def __init__(self, console: Console, *, quiet: bool = False, folder: object = "") -> None:
        self.console, self.quiet, self.folder = console, quiet, folder
        self.progress: Any = None
        self.task: Any = None
        self.counts: dict[str, int] = {}

    def __enter__(self) -> ProgressView:
        if not self.quiet:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.progress = Progress(
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} finished: {task.fields[tally]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.progress.start()
        return self

    def start(self, meta: EvalMeta, total: int, kept: Sequence[RunRecord], label: str = "runs") -> None:
        self.counts = {"pass": 0, "fail": 0, "error": 0}
        for r in kept:
            self.counts[r.outcome] += 1
        if self.quiet:
            return
        self.console.print(plan_line(meta, total, kept, self.folder), highlight=False)
        if self.progress is not None:
            self.task = self.progress.add_task(
                terminal_safe(label), total=total, completed=len(kept), tally=self._tally()
            )

    def _tally(self) -> str:
        c = self.counts
        return f"{c['pass']} passed, {c['fail']} failed, {c['error']} errors"

    def record(self, record: RunRecord) -> None:
        self.counts[record.outcome] += 1
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, advance=1, tally=self._tally())

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()


def _summary_rows(s: Summary, judge: dict[str, Any] | None) -> Iterator[tuple[str, str]]:
    yield "pass rate", _rate(s.pass_rate)
    if len(s.pass_at) > 1:
        yield "pass@k", " · ".join(f"@{k} {_pct(v)}" for k, v in s.pass_at.items())
        yield "pass^k (all k pass)", " · ".join(f"^{k} {_pct(v)}" for k, v in s.pass_all.items())
        yield "flaky tasks", f"{s.flaky_tasks} of {s.tasks} (their repeats disagree)"
        yield (
            "task variance",
            f"{s.task_variance:.3f} (mean p(1-p) of each task's runs; 0 when repeats agree)",
        )
    if s.judge is not None and not s.judge.judged:
        yield "judge score", f"no run was scored ({s.judge.unscored} without a score)"
    elif s.judge is not None:
        j = s.judge
        scale = f" on {judge['scale']}" if judge else ""
        yield "judge score", f"{j.mean:.2f}{scale} (95% CI {j.low:.2f}-{j.high:.2f}), {j.judged} scored"
        yield "judge passed", _rate(j.passing) + (f"; {j.unscored} without a score" if j.unscored else "")
        yield "judge tokens", f"{j.prompt_tokens + j.completion_tokens:,}"
    yield "tokens / run", _dist(s.tokens, ",.0f")
    yield "seconds / run", _dist(s.seconds, ".2f")
    yield "outcomes", " · ".join(f"{n} {k}" for k, n in s.outcomes.items())


def render_summary(result: EvalResult) -> RenderableType:
    """The numbers of an eval, each expectation's pass rate, the worst runs, where the files are."""
    s, meta = result.summary, result.meta
    rate = f", {result.made / meta.seconds:.2f} runs/s" if result.made and meta.seconds else ""
    made = f"{result.made} made now, {result.finished_before} before"
    if meta.rescored_from:
        made = f"scored again from {meta.rescored_from}; no team model was called"
    head = safe_text(
        f"troupe eval {meta.scenario}: {s.tasks} tasks x {s.repeat} = {s.runs} runs ({made})"
        f" in {meta.seconds:.1f} s{rate}",
        style="bold",
    )
    numbers = Table(show_header=False, box=None, padding=(0, 2))
    for k, v in _summary_rows(s, meta.judge):
        numbers.add_row(k, v)
    checks = Table("expectation", "passed", "rate", "95% CI", title="expectations", title_justify="left")
    for name, r in s.checks.items():
        style = "green" if r.rate >= 0.8 else "yellow" if r.rate >= 0.5 else "red"
        checks.add_row(
            safe_text(name),
            f"{r.passed}/{r.total}",
            Text(_pct(r.rate), style=style),
            f"{_pct(r.low)}-{_pct(r.high)}",
        )
    parts: list[RenderableType] = [head, numbers, checks]
    if s.worst:
        worst = Table("run", "outcome", "why", "transcript", title="worst runs", title_justify="left")
        for w in s.worst[:5]:
            cells = (f"{w.task_id}#{w.repeat}", w.outcome, redact_text(w.why)[:160], w.transcript or "")
            worst.add_row(*(safe_text(c) for c in cells))
        parts.append(worst)
    if result.pending:
        parts.append(Text(f"{result.pending} runs not made yet: --resume continues", style="yellow"))
    parts.append(safe_text(f"results: {result.folder} (runs.jsonl, summary.json, report.html)"))
    return Group(*parts)


def _diff_row(name: str, d: Diff, fmt: Any, dfmt: Any) -> tuple[str, str, str, str]:
    p = f"; sign test p={d.p_value:.3f}" if d.p_value is not None else ""
    return name, fmt(d.a), fmt(d.b), f"{dfmt(d.diff)} (95% CI {dfmt(d.low)} to {dfmt(d.high)}){p}"


def render_comparison(c: Comparison) -> RenderableType:
    """Two evals side by side: on the common tasks, the change and whether it is likely real."""
    a, b = c.a, c.b
    head = safe_text(
        f"A: {a.folder} ({a.meta.scenario}, {a.summary.runs} runs)\nB: {b.folder} ({b.meta.scenario}, "
        f"{b.summary.runs} runs)\n{c.common} tasks in both; pass rate and judge score are theirs"
        + (f"; only in A: {len(c.only_a)}" if c.only_a else "")
        + (f"; only in B: {len(c.only_b)}" if c.only_b else ""),
    )
    table = Table("", "A", "B", "B - A")
    table.add_row(*_diff_row("pass rate", c.pass_rate, _pct, lambda x: f"{x * 100:+.1f} pts"))
    if c.score is not None:
        table.add_row(*_diff_row("judge score", c.score, lambda x: f"{x:.2f}", lambda x: f"{x:+.2f}"))
    for label, key, fmt in (("tokens / run p50", "tokens", ",.0f"), ("seconds / run p50", "seconds", ".2f")):
        x, y = getattr(a.summary, key).p50, getattr(b.summary, key).p50
        change = f"{(y - x) / x * 100:+.0f}%" if x else ""
        table.add_row(label, format(x, fmt), format(y, fmt), change)
    table.add_row(
        "models",
        safe_text("\n".join(a.meta.models.values())),
        safe_text("\n".join(b.meta.models.values())),
        "",
    )
    checks = Table("expectation", "A", "B", "B - A", title="expectations (all runs)", title_justify="left")
    for name, (ra, rb) in c.checks.items():
        delta = f"{(rb.rate - ra.rate) * 100:+.1f} pts" if ra and rb else ""
        checks.add_row(safe_text(name), _pct(ra.rate) if ra else "-", _pct(rb.rate) if rb else "-", delta)
    parts: list[RenderableType] = [head, table, checks]
    for title, changes in (
        ("regressions (pass less often in B)", c.regressions),
        ("improvements", c.improvements),
    ):
        if changes:
            t = Table("task", "A passed", "B passed", "A score", "B score", title=title, title_justify="left")
            for ch in changes[:15]:
                t.add_row(
                    safe_text(ch.task_id),
                    f"{ch.a_passed}/{ch.a_runs}",
                    f"{ch.b_passed}/{ch.b_runs}",
                    "" if ch.a_score is None else f"{ch.a_score:.2f}",
                    "" if ch.b_score is None else f"{ch.b_score:.2f}",
                )
            parts.append(t)
    return Group(*parts)


def render_gate(g: GateReport) -> RenderableType:
    """The baseline gate: each rate then and now with Fisher's p-value, and the tasks that flipped."""
    head = safe_text(
        f"against the baseline {g.baseline} ({g.common_tasks} tasks in both; a drop is a regression when "
        f"one-sided Fisher p < {g.alpha:g})",
        style="bold",
    )
    table = Table("", "baseline", "now", "p", "")
    for d in g.rates:
        verdict = Text("REGRESSION", style="red bold") if d.regression else Text("ok", style="green")
        table.add_row(
            safe_text(d.name),
            f"{_pct(d.base_rate)} ({d.base_passed}/{d.base_runs})",
            f"{_pct(d.now_rate)} ({d.now_passed}/{d.now_runs})",
            f"{d.p_value:.3f}",
            verdict,
        )
    parts: list[RenderableType] = [head, table]
    for title, changes in (
        ("flipped: pass less often now", g.flipped_worse),
        ("flipped: pass more often now", g.flipped_better),
    ):
        if changes:
            t = Table("task", "baseline passed", "now passed", title=title, title_justify="left")
            for ch in changes[:30]:
                t.add_row(safe_text(ch.task_id), f"{ch.a_passed}/{ch.a_runs}", f"{ch.b_passed}/{ch.b_runs}")
            if len(changes) > 30:
                t.add_row(f"... {len(changes) - 30} more", "", "")
            parts.append(t)
    return Group(*parts)


def render_matrix(m: MatrixResult) -> RenderableType:
    """A model matrix: the models side by side, then every pair compared on their common tasks."""
    first = next(iter(m.results.values()))
    head = safe_text(
        f"troupe eval {first.meta.scenario}: {first.summary.tasks} tasks x {first.summary.repeat} on "
        f"{len(m.results)} models",
        style="bold",
    )
    table = Table(
        "model", "pass rate (95% CI)", "judge score", "tokens p50/p90", "seconds p50/p90", "failed/errors"
    )
    for label, r in m.results.items():
        s = r.summary
        judge = (
            ""
            if s.judge is None or not s.judge.judged
            else f"{s.judge.mean:.2f} ({s.judge.low:.2f}-{s.judge.high:.2f})"
        )
        table.add_row(
            safe_text(label),
            _rate(s.pass_rate),
            judge,
            f"{s.tokens.p50:,.0f}/{s.tokens.p90:,.0f}",
            f"{s.seconds.p50:.2f}/{s.seconds.p90:.2f}",
            f"{s.outcomes.get('fail', 0)}/{s.outcomes.get('error', 0)}",
        )
    pairs = Table("A", "B", "pass rate B - A", "tasks worse/better in B", title="pairs", title_justify="left")
    for a, b, c in m.pairs:
        row = _diff_row("", c.pass_rate, _pct, lambda x: f"{x * 100:+.1f} pts")
        pairs.add_row(safe_text(a), safe_text(b), row[3], f"{len(c.regressions)}/{len(c.improvements)}")
    where = safe_text(f"results: {m.folder} (report.html, matrix.json; a folder per model)")
    return Group(head, table, pairs, where)
