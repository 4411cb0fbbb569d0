"""`troupe graph`: a graph team as Mermaid (renders on GitHub) and as a plain-text outline."""

from __future__ import annotations

from pathlib import Path

from helpers import troupe, write
from test_graph_check import GOOD

from autogen_troupe.scenario import load_scenario
from autogen_troupe.scenario._graph_draw import mermaid, outline

MERMAID = """\
flowchart TD
  __start__((start))
  n_planner["planner<br/>(max 3 visits)"]
  n_guide["guide"]
  n_coach["coach"]
  n_reviewer["reviewer<br/>(waits for all)"]
  n_summary["summary"]
  __start__ --> n_planner
  n_planner --> n_guide
  n_planner --> n_coach
  n_guide --> n_reviewer
  n_coach --> n_reviewer
  n_reviewer -- "not (mentions APPROVE)" --> n_planner
  n_reviewer -- "otherwise" --> n_summary
"""

OUTLINE = """\
graph g (starts: planner)
  planner  [max 3 visits]
    -> guide
    -> coach
  guide
    -> reviewer
  coach
    -> reviewer
  reviewer  [waits for all]
    -> planner  when not (mentions APPROVE)
    -> summary  (otherwise)
  summary
    (ends)
"""


def test_mermaid_and_outline_of_the_review_graph(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, GOOD))
    assert mermaid(sc.team) == MERMAID
    assert outline(sc.team, sc.name) == OUTLINE


def test_condition_text_is_data_in_both_drawings(tmp_path: Path) -> None:
    when = """{any: [{regex: '"]-->x<b>'}, {mentions: "\\e[31m"}]}"""  # YAML's \e is ESC
    sc = load_scenario(write(tmp_path, GOOD.replace("{mentions: APPROVE}", when)))
    drawn = mermaid(sc.team)
    assert '-- "not (any (matches /#quot;]--#gt;x#lt;b#gt;/ | mentions \\x1b[31m))" --> n_planner' in drawn
    assert "\x1b" not in drawn and "\x1b" not in outline(sc.team)
    assert 'when not (any (matches /"]-->x<b>/ | mentions \\x1b[31m))' in outline(sc.team)


def test_troupe_graph_prints_either_format_and_refuses_other_teams(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD, "review.yaml")
    drawn = troupe("graph", str(path))
    assert (drawn.returncode, drawn.stdout) == (0, MERMAID), drawn.stderr
    as_text = troupe("graph", str(path), "--format", "text")
    assert (as_text.returncode, as_text.stdout) == (0, OUTLINE), as_text.stderr
    other = troupe("graph", "travel_planning")
    assert other.returncode == 2
    assert "team.kind is 'round_robin'; troupe graph draws graph teams" in other.stderr
    broken = write(tmp_path, GOOD.replace("to: reviewer}", "to: nobody}", 1), "broken.yaml")
    located = troupe("graph", str(broken))
    assert located.returncode == 2 and f"{broken}:15:25: team.edges[2].to" in located.stderr
    assert "Traceback" not in located.stderr + other.stderr
