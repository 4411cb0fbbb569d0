"""A structured answer (an agent's output_schema) on the serve page, in Chromium: its fields as an outline
of plain text, whatever the model wrote in them (never HTML)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fake_openai import FakeOpenAI
from helpers import write
from served import Served
from test_serve_page import browser, open_page, page  # noqa: F401  (fixtures)

PLAN = """\
name: plan
task: Plan 2 days.
team:
  kind: single
  agents:
    - name: planner
      output_schema:
        type: object
        properties:
          days:
            type: array
            items:
              type: object
              properties: {day: {type: integer}, city: {type: string}}
              required: [day, city]
        required: [days]
"""

HOSTILE = '<img src=x onerror="window.owned=1">Pokhara'


def test_a_structured_answer_is_an_outline_of_text(srv: FakeOpenAI, tmp_path: Path, page: Any) -> None:  # noqa: F811
    srv.script([json.dumps({"days": [{"day": 1, "city": "Kathmandu"}, {"day": 2, "city": HOSTILE}]})])
    with Served([write(tmp_path, PLAN, "plan.yaml")], base_url=srv.base_url, out_dir=tmp_path / "runs") as s:
        open_page(page, s, "plan")
        page.click("#start")
        page.wait_for_selector("#run-status.done")
        answer = page.locator("#messages li.msg.text:has(.who:text-is('planner'))")
        assert answer.locator(".what").inner_text() == "structured"
        shown = answer.locator(".content.structured").inner_text()
        assert shown == f"days:\n  - day: 1\n    city: Kathmandu\n  - day: 2\n    city: {HOSTILE}"
        assert answer.locator("img").count() == 0 and not page.evaluate("window.owned")
