"""A model matrix: the same tasks run on several models (`troupe eval --profile A --profile B`, or
`--model X --model Y` at one endpoint), one after another, each an eval of its own in a subfolder (so
each can be resumed, rescored and compared), and one report with the models side by side (pass rate
with its 95% interval, judge score, tokens, latency, failures) and every pair compared on their common
tasks (the change with its paired bootstrap interval and sign test, as `troupe eval compare` does).
"""

from __future__ import annotations

import html
import itertools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._redact import redact_text
from ..errors import UsageError
from ..scenario._schema import Scenario
from ._compare import Comparison, compare
from ._evaluate import EvalResult, evaluate
from ._plots import pass_rates_svg
from ._report import CSS
from ._results import EvalMeta, ResultsFolder, RunRecord
from ._tasks import EvalTask

__all__ = ["MatrixResult", "evaluate_matrix", "matrix_report", "slug"]


@dataclass(frozen=True)
class MatrixResult:
    """Each model's eval (by its label), and each pair compared (first label as A)."""

    folder: Path
    results: dict[str, EvalResult]
    pairs: list[tuple[str, str, Comparison]]


def slug(label: str) -> str:
    """A folder name for a model's label."""
    return re.sub(r"[^\w.-]+", "-", label).strip("-.") or "model"


async def evaluate_matrix(
    scenario: Scenario,
    tasks: Sequence[EvalTask],
    *,
    out: str | Path,
    entries: Sequence[tuple[str, Any]],
    on_start: Callable[[str, EvalMeta, int, Sequence[RunRecord]], None] | None = None,
    **options: Any,
) -> MatrixResult:
    """Run the eval once per `(label, overrides)` entry into `out/LABEL/`, then write `out/matrix.json`
    and `out/report.html`. `options` are `evaluate`'s (repeat, concurrency, judge_model, resume...)."""
    folders = [slug(label) for label, _ in entries]
    if len(set(folders)) != len(folders):
        raise UsageError(f"two models of the matrix would share a folder: {[label for label, _ in entries]}")
    root = Path(out)
    for name in folders:  # every model's folder, before the first model runs
        ResultsFolder(root / name).check_writable(resume=bool(options.get("resume")))
    results: dict[str, EvalResult] = {}
    for (label, overrides), name in zip(entries, folders, strict=True):
        started = None if on_start is None else _labelled(on_start, label)
        results[label] = await evaluate(
            scenario, tasks, out=root / name, overrides=overrides, on_start=started, **options
        )
    labels = list(results)
    pairs = [
        (a, b, compare(results[a].folder, results[b].folder)) for a, b in itertools.combinations(labels, 2)
    ]
    matrix = MatrixResult(folder=root, results=results, pairs=pairs)
    (root / "matrix.json").write_text(
        json.dumps(
            {
                "models": {label: str(r.folder.relative_to(root)) for label, r in results.items()},
                "summaries": {label: r.summary.model_dump(mode="json") for label, r in results.items()},
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    (root / "report.html").write_text(matrix_report(matrix), encoding="utf-8")
    return matrix


def _labelled(
    on_start: Callable[[str, EvalMeta, int, Sequence[RunRecord]], None], label: str
) -> Callable[[EvalMeta, int, Sequence[RunRecord]], None]:
    return lambda meta, total, kept: on_start(label, meta, total, kept)


def _e(text: object) -> str:
    return html.escape(redact_text(str(text)), quote=True)


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _row(label: str, r: EvalResult) -> list[str]:
    s = r.summary
    judge = (
        ""
        if s.judge is None or not s.judge.judged
        else f"{s.judge.mean:.2f} ({s.judge.low:.2f}&ndash;{s.judge.high:.2f})"
    )
    return [
        f'<a href="{_e(slug(label))}/report.html">{_e(label)}</a>',
        _e(", ".join(sorted(set(r.meta.models.values())))),
        f"{_pct(s.pass_rate.rate)} <small>({_pct(s.pass_rate.low)}&ndash;{_pct(s.pass_rate.high)}, "
        f"{s.pass_rate.passed}/{s.pass_rate.total})</small>",
        judge,
        f"{s.tokens.p50:,.0f} / {s.tokens.p90:,.0f}",
        f"{s.seconds.p50:.2f} / {s.seconds.p90:.2f}",
        f"{s.outcomes.get('fail', 0)} / {s.outcomes.get('error', 0)}",
    ]


def matrix_report(m: MatrixResult) -> str:
    """The matrix's page: the models side by side, a plot of their pass rates, every pair compared."""
    head = [
        "model",
        "resolved as",
        "pass rate (95% interval)",
        "judge score",
        "tokens p50 / p90",
        "seconds p50 / p90",
        "failed / errors",
    ]
    rows = "".join(
        "<tr>" + "".join(f"<td>{c}</td>" for c in _row(k, r)) + "</tr>" for k, r in m.results.items()
    )
    table = (
        "<table><thead><tr>"
        + "".join(f"<th>{_e(h)}</th>" for h in head)
        + f"</tr></thead><tbody>{rows}</tbody></table>"
    )
    plot = pass_rates_svg({k: r.summary.pass_rate for k, r in m.results.items()}, title="pass rate per model")
    pairs = []
    for a, b, c in m.pairs:
        d = c.pass_rate
        p = "" if d.p_value is None else f"{d.p_value:.3f}"
        pairs.append(
            f"<tr><td>{_e(a)}</td><td>{_e(b)}</td><td>{c.common}</td><td>{d.diff * 100:+.1f} pts "
            f"<small>({d.low * 100:+.1f} to {d.high * 100:+.1f})</small></td><td>{p}</td>"
            f"<td>{len(c.regressions)} / {len(c.improvements)}</td></tr>"
        )
    pair_head = [
        "A",
        "B",
        "common tasks",
        "pass rate B &minus; A (95% interval)",
        "sign test p",
        "tasks worse / better in B",
    ]
    pair_table = (
        "<table><thead><tr>"
        + "".join(f"<th>{h}</th>" for h in pair_head)
        + "</tr></thead><tbody>"
        + "".join(pairs)
        + "</tbody></table>"
    )
    first = next(iter(m.results.values()))
    name = first.meta.scenario
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>troupe eval: {_e(name)}, {len(m.results)} models</title><style>{CSS}</style></head><body>
<h1>troupe eval: {_e(name)}, {len(m.results)} models</h1>
<p class="meta">{first.summary.tasks} tasks &times; {first.summary.repeat} runs on each model, from
{_e(first.meta.tasks_file)}. Each model's own report is linked from its name.</p>
<h2>Side by side</h2>{table}
<div class="plots"><figure><figcaption>Pass rate per model</figcaption>{plot}</figure></div>
<h2>Pairs</h2>{pair_table}
</body></html>
"""
