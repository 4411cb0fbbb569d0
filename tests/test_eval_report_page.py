"""The eval's report.html in real Chromium: no two labels of a plot overlap (their boxes measured, p50
and p90 at the same place included), every text is at least 12 px at 100% zoom, and the plots are drawn
without matplotlib."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from test_serve_page import browser, browser_page  # noqa: F401  (the Chromium fixture)

from autogen_troupe.eval._plots import histogram_svg, place_rows
from autogen_troupe.eval._report import render_report
from autogen_troupe.eval._results import EvalMeta, JudgeVerdict, RunRecord
from autogen_troupe.eval._stats import summarize

LONG = "task.agents.travel_summary_agent.tool_calls.per_tool.get_current_time"


def _records() -> list[RunRecord]:
    out = []
    for i in range(12):
        checks = {"run": True, "stop_reason": i % 3 != 0, LONG: i % 2 == 0, "judge": i % 4 != 0}
        out.append(
            RunRecord(
                task_id=f"t{i % 6}",
                repeat=i // 6,
                task="Plan a trip",
                outcome="pass" if all(checks.values()) else "fail",
                checks=checks,
                judge=JudgeVerdict(model="m", score=float(1 + i % 5), passed=i % 4 != 0),
                prompt_tokens=1000,  # every run the same: p50 == p90, the labels' old collision
                completion_tokens=234,
                seconds=2.0 + (i % 2) * 0.01,
            )
        )
    return out


def _page(tmp_path: Path) -> Path:
    records = _records()
    meta = EvalMeta(
        scenario="trip",
        scenario_digest="x",
        tasks_file="t.csv",
        tasks=6,
        repeat=2,
        models={"planner": "openai m"},
        judge={"model": "openai j", "scale": "1-5", "passing": 4, "rubric": "r"},
        complete=True,
    )
    page = tmp_path / "report.html"
    page.write_text(render_report(meta, summarize(records, repeat=2), records), encoding="utf-8")
    return page


_BOXES = """() => [...document.querySelectorAll('svg')].map(svg =>
  [...svg.querySelectorAll('text')].map(t => {
    const r = t.getBoundingClientRect(); return [t.textContent, r.left, r.top, r.right, r.bottom];
  }))"""
_SMALLEST = """() => { let least = 99, what = '';
  for (const el of document.querySelectorAll('body *')) {
    if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const size = el instanceof SVGElement
      ? parseFloat(getComputedStyle(el).fontSize) * el.ownerSVGElement.getBoundingClientRect().width
        / el.ownerSVGElement.width.baseVal.value
      : parseFloat(getComputedStyle(el).fontSize);
    if (size < least) { least = size; what = el.textContent; }
  }
  return [least, what]; }"""


def _overlaps(boxes: list[list[Any]]) -> list[tuple[str, str]]:
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5 and a[2] < b[4] - 0.5 and b[2] < a[4] - 0.5:
                out.append((a[0], b[0]))
    return out


def test_no_label_of_a_plot_overlaps_another_and_text_reads_at_100_percent(browser, tmp_path: Path) -> None:  # noqa: F811
    page_file = _page(tmp_path)
    for width in (1280, 800):
        with browser_page(browser, viewport={"width": width, "height": 900}) as page:
            page.goto(page_file.as_uri())
            plots = page.evaluate(_BOXES)
            assert len(plots) == 4  # expectations, judge scores, tokens, latency
            for boxes in plots:
                assert boxes and _overlaps(boxes) == [], boxes
            tokens = " ".join(b[0] for b in plots[2])
            assert "p50 1,234" in tokens and "p90 1,234" in tokens
            least, what = page.evaluate(_SMALLEST)
            assert least >= 12, (least, what)


def test_the_labels_of_marks_at_one_place_go_to_rows_of_their_own() -> None:
    assert place_rows([(10, 50), (10, 50), (60, 90), (45, 70)]) == [0, 1, 0, 2]
    svg = histogram_svg([5.0, 5.0, 5.0], "seconds", {"p50": 5.0, "p90": 5.0, "p99": 5.0})
    assert svg.count("p50 5") == 1 and svg.count("p99 5") == 1


def test_the_report_draws_its_plots_without_matplotlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    text = _page(tmp_path).read_text(encoding="utf-8")
    assert text.count("<svg") == 4 and "matplotlib" not in text


def _matrix_page(tmp_path: Path) -> Path:
    """The page of a matrix of three models (long labels included), from results folders written here."""
    import itertools

    from autogen_troupe.eval import EvalResult, MatrixResult, ResultsFolder, compare
    from autogen_troupe.eval._matrix import matrix_report, slug

    results = {}
    for label, keep in (("lab:gpt-4o-mini-2024-07-18", 3), ("vllm:Qwen/Qwen3-0.6B", 9), ("default", 12)):
        records = [
            r.model_copy(update={"outcome": "pass" if i < keep else "fail"}) for i, r in enumerate(_records())
        ]
        meta = EvalMeta(scenario="trip", scenario_digest="x", tasks_file="t.csv", tasks=6, repeat=2)
        folder = ResultsFolder(tmp_path / slug(label))
        folder.write_meta(meta)
        for r in records:
            folder.append(r)
        folder.close()
        summary = summarize(records, repeat=2)
        results[label] = EvalResult(folder.path, meta, records, summary, len(records), 0, 0, None)
    pairs = [
        (a, b, compare(results[a].folder, results[b].folder)) for a, b in itertools.combinations(results, 2)
    ]
    page = tmp_path / "report.html"
    page.write_text(matrix_report(MatrixResult(tmp_path, results, pairs)), encoding="utf-8")
    return page


def test_the_matrix_page_labels_do_not_overlap(browser, tmp_path: Path) -> None:  # noqa: F811
    with browser_page(browser, viewport={"width": 1280, "height": 900}) as page:
        page.goto(_matrix_page(tmp_path).as_uri())
        (boxes,) = page.evaluate(_BOXES)
        assert {"default", "25%", "75%", "100%"} <= {b[0] for b in boxes}
        assert _overlaps(boxes) == []
        least, what = page.evaluate(_SMALLEST)
        assert least >= 12, (least, what)
        assert page.locator("table").first.locator("tbody tr").count() == 3
        assert page.locator("table").nth(1).locator("tbody tr").count() == 3  # every pair
