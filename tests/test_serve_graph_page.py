"""The page draws a graph team (start panel and run view) and lights the path as the run goes, in real
Chromium against the real server and the fake endpoint (harness: tests/test_serve_page.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAI, Reply, by_system
from helpers import write
from served import Served
from test_graph_check import GOOD as REVIEW
from test_serve_page import browser, open_page, page  # noqa: F401 (fixtures)


@pytest.fixture
def served(srv: FakeOpenAI, tmp_path: Path) -> Iterator[Served]:
    with Served([write(tmp_path, REVIEW, "g.yaml")], base_url=srv.base_url, out_dir=tmp_path / "runs") as s:
        yield s


_LABEL_OVERLAPS = """(sel) => {
  const svg = document.querySelector(sel), box = (el) => el.getBoundingClientRect();
  const s = box(svg), nodes = [...svg.querySelectorAll('g.gnode rect')].map(box);
  const labels = [...svg.querySelectorAll('g.gedge text')];
  const hit = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5
    && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
  return {
    outside: labels.filter((t) => box(t).left < s.left - 0.5 || box(t).right > s.right + 0.5)
      .map((t) => t.textContent),
    over_nodes: labels.filter((t) => nodes.some((n) => hit(box(t), n))).map((t) => t.textContent),
  };
}"""


def lit(pg: Any, what: str) -> list[str]:
    return pg.eval_on_selector_all(
        f"#run-graph g.gnode{what}", "els => els.map(e => e.dataset.node + ':' + e.dataset.visits)"
    )


def test_the_graph_is_drawn_and_the_path_lights_up_as_the_run_goes(
    srv: FakeOpenAI,
    served: Served,
    page: Any,  # noqa: F811 (the fixture)
) -> None:
    srv.responder = by_system(
        {
            "Draft.": ["Draft 1.", "Draft 2."],
            "Guide.": ["Add Bhaktapur."] * 2,
            "Coach.": ["Learn namaste."] * 2,
            "Review.": [Reply(text="Add a museum.", delay_s=2.0), "APPROVE"],
            "Sum.": ["Final plan."],
        }
    )
    open_page(page, served, "g")
    drawn = page.locator("#scenario-graph")
    assert drawn.locator("g.gnode").count() == 5 and drawn.locator("g.gedge").count() == 6
    labels = drawn.locator("g.gedge text").all_text_contents()
    assert labels == ["not (mentions APPROVE)", "otherwise"]
    # every label inside the drawing, and no edge's label over a node (a loop's label once sat on one)
    overlaps = page.evaluate(_LABEL_OVERLAPS, "#scenario-graph")
    assert overlaps == {"outside": [], "over_nodes": []}, overlaps
    page.click("#start")
    # while the reviewer thinks in round 1, it is the current node and the summary is not reached
    page.wait_for_selector("#run-graph g.gnode.current[data-node='reviewer']")
    assert lit(page, ".visited") == ["planner:1", "guide:1", "coach:1", "reviewer:1"]
    page.wait_for_selector("#run-status.done")
    assert lit(page, ".visited") == ["planner:2", "guide:2", "coach:2", "reviewer:2", "summary:1"]
    assert lit(page, ".current") == ["summary:1"]
    fired = page.eval_on_selector_all("#run-graph g.gedge.fired", "els => els.map(e => +e.dataset.edge)")
    assert fired == [0, 1, 2, 3, 4, 5]
    routes = page.locator("#messages li.msg.event .what").all_text_contents()
    assert "→ summary (from reviewer: default branch (edge 4 to planner: mentions 'APPROVE'))" in routes
    assert page.locator("#timeline rect").count() == 10  # the routes are not lanes of their own
