"""`report.html`: one self-contained page per eval (inline CSS and SVG plots, no script, nothing fetched):
the headline numbers, the plots, each expectation's pass rate, the worst runs linked to their
transcripts with the judge's reasons, and every task.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from .._redact import redact_text
from ._plots import histogram_svg, pass_rates_svg, scores_svg
from ._results import EvalMeta, ResultsFolder, RunRecord
from ._stats import Rate, Summary

__all__ = ["CSS", "render_report", "write_report"]

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:72rem;
padding:0 1rem;color:#222}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
.meta{color:#555}.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.card{border:1px solid #ddd;border-radius:6px;padding:.6rem .9rem;min-width:10rem}
.card b{display:block;font-size:1.35rem}.card small{color:#666}
.plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(34rem,1fr));gap:1rem}
.plots figure{margin:0}.plots svg{max-width:100%;height:auto}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{text-align:left;padding:.25rem .5rem;
border-bottom:1px solid #eee;vertical-align:top}th{background:#f6f6f6}.n{text-align:right}
.pass{color:#2e7d32}.fail{color:#c62828}.error{color:#8e24aa}pre{white-space:pre-wrap;background:#f7f7f7;
padding:.5rem;border-radius:4px;font-size:12px;max-height:24rem;overflow:auto}
.partial{background:#fff3cd;padding:.5rem .8rem;border-radius:4px}small{font-size:13px}
"""


def _e(text: object) -> str:
    return html.escape(redact_text(str(text)), quote=True)


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _rate(r: Rate) -> str:
    return f"{_pct(r.rate)} <small>({_pct(r.low)}&ndash;{_pct(r.high)}, {r.passed}/{r.total})</small>"


def _cards(s: Summary, meta: EvalMeta) -> str:
    cards = [("pass rate", _rate(s.pass_rate))]
    if len(s.pass_at) > 1:
        k = max(s.pass_at, key=int)
        cards.append((f"pass@{k} / pass^{k}", f"{_pct(s.pass_at[k])} / {_pct(s.pass_all[k])}"))
    if s.judge is not None and s.judge.judged:
        j = s.judge
        scale = meta.judge["scale"] if meta.judge else ""
        cards.append(
            ("judge score", f"{j.mean:.2f} <small>of {scale} ({j.low:.2f}&ndash;{j.high:.2f})</small>")
        )
    cards.append(("tokens per run", f"{s.tokens.p50:,.0f} <small>p50 · p90 {s.tokens.p90:,.0f}</small>"))
    cards.append(("seconds per run", f"{s.seconds.p50:.2f} <small>p50 · p90 {s.seconds.p90:.2f}</small>"))
    cards.append(("errors", f"{s.outcomes.get('error', 0)} <small>of {s.runs} runs</small>"))
    return "".join(f'<div class="card"><small>{_e(t)}</small><b>{v}</b></div>' for t, v in cards)


def _distribution_plots(records: Sequence[RunRecord], s: Summary) -> list[tuple[str, str]]:
    if not records:
        return []
    tokens = [float(r.total_tokens) for r in records]
    seconds = [r.seconds for r in records]
    return [
        (
            "Tokens per run",
            histogram_svg(tokens, "prompt + completion tokens", {"p50": s.tokens.p50, "p90": s.tokens.p90}),
        ),
        (
            "Latency per run",
            histogram_svg(seconds, "seconds of wall time", {"p50": s.seconds.p50, "p90": s.seconds.p90}),
        ),
    ]


def _figures(s: Summary, meta: EvalMeta, records: Sequence[RunRecord]) -> str:
    figures = []
    if s.checks:
        figures.append(("Pass rate per expectation", pass_rates_svg(s.checks)))
    if s.judge is not None and s.judge.scores and meta.judge:
        low, high = (int(x) for x in str(meta.judge["scale"]).split("-"))
        figures.append(("Judge scores", scores_svg(s.judge.scores, low, high, float(meta.judge["passing"]))))
    figures += _distribution_plots(records, s)
    body = "".join(f"<figure><figcaption>{_e(t)}</figcaption>{svg}</figure>" for t, svg in figures)
    return f'<div class="plots">{body}</div>'


def _table(head: Iterable[str], rows: Iterable[Iterable[str]], numeric: set[int] = frozenset()) -> str:  # type: ignore[assignment]
    h = "".join(
        f'<th class="n">{_e(c)}</th>' if i in numeric else f"<th>{_e(c)}</th>" for i, c in enumerate(head)
    )
    body = "".join(
        "<tr>"
        + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def _link(path: str | None) -> str:
    return f'<a href="{_e(path)}">transcript</a>' if path else ""


def _worst(s: Summary, records: Sequence[RunRecord]) -> str:
    if not s.worst:
        return "<p>Every run passed.</p>"
    by_key = {r.key: r for r in records}
    out = []
    for w in s.worst:
        r = by_key.get((w.task_id, w.repeat))
        detail = ""
        if r is not None:
            parts = [
                f"<b>Task</b><pre>{_e(r.task)}</pre>",
                f"<b>Final message</b><pre>{_e(r.final_message)}</pre>",
            ]
            if r.failures:
                parts.append(f"<b>Failed expectations</b><pre>{_e(chr(10).join(r.failures))}</pre>")
            if r.judge is not None:
                j = r.judge
                said = j.answer or j.problem or ""
                parts.append(
                    f"<b>Judge ({_e(j.model)}): {_e(j.score if j.score is not None else 'no score')}</b>"
                )
                parts.append(f"<pre>{_e(said)}</pre>")
            detail = f"<details><summary>details</summary>{''.join(parts)}</details>"
        out.append(
            (
                _e(f"{w.task_id}#{w.repeat}"),
                f'<span class="{w.outcome}">{w.outcome}</span>',
                _e(w.why) + detail,
                "" if w.score is None else f"{w.score:g}",
                f"{w.tokens:,}",
                f"{w.seconds:.2f}",
                _link(w.transcript),
            )
        )
    return _table(("run", "outcome", "why", "score", "tokens", "seconds", ""), out, {3, 4, 5})


def render_report(meta: EvalMeta, s: Summary, records: Sequence[RunRecord]) -> str:
    """The report's HTML."""
    figures = _figures(s, meta, records)
    models = ", ".join(f"{a}: {m}" for a, m in meta.models.items())
    judge = (
        f" · judge: {meta.judge['model']}, {meta.judge['scale']}, passing ≥ {meta.judge['passing']:g}"
        if meta.judge
        else ""
    )
    partial = (
        ""
        if meta.complete
        else '<p class="partial">Partial: the eval was stopped before every run was made; '
        "<code>--resume</code> continues it.</p>"
    )
    checks = _table(
        ("expectation", "passed", "runs", "rate", "95% interval"),
        (
            (_e(n), str(r.passed), str(r.total), _pct(r.rate), f"{_pct(r.low)}&ndash;{_pct(r.high)}")
            for n, r in s.checks.items()
        ),
        {1, 2, 3},
    )
    tasks = _table(
        ("task", "runs", "passed", "pass variance", "mean score", "score sd", "mean tokens", "mean seconds"),
        (
            (
                _e(t.task_id),
                str(t.runs),
                str(t.passed),
                f"{t.pass_variance:.3f}",
                "" if t.mean_score is None else f"{t.mean_score:.2f}",
                "" if t.score_sd is None else f"{t.score_sd:.2f}",
                f"{t.mean_tokens:,.0f}",
                f"{t.mean_seconds:.2f}",
            )
            for t in sorted(s.per_task, key=lambda t: (t.passed / t.runs, t.mean_score or 0))
        ),
        {1, 2, 3, 4, 5, 6, 7},
    )
    body = f"""<h1>troupe eval: {_e(meta.scenario)}</h1>
<p class="meta">{s.tasks} tasks &times; {s.repeat} = {s.runs} runs from {_e(meta.tasks_file)}
· {meta.seconds:.1f} s · {_e(meta.started_at)}<br>models: {_e(models)}{_e(judge)}</p>
{partial}<div class="cards">{_cards(s, meta)}</div>
<h2>Plots</h2>{figures}
<h2>Expectations</h2>{checks}
<h2>Worst runs</h2>{_worst(s, records)}
<h2>Tasks</h2>{tasks}
<p class="meta">Made by autogen-troupe {_e(_version())}; the runs are in runs.jsonl.</p>"""
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>troupe eval: {_e(meta.scenario)}</title><style>{CSS}</style></head><body>
{body}
</body></html>
"""
    return page


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("autogen-troupe")
    except PackageNotFoundError:
        return ""


def write_report(folder: ResultsFolder, meta: EvalMeta, s: Summary, records: Sequence[RunRecord]) -> None:
    """Write `report.html`."""
    folder.report_path.write_text(render_report(meta, s, records), encoding="utf-8")
