"""A model matrix: `--model` (or `--profile`) given several times runs the same tasks on each model, each in
a folder of its own, with one report and one table side by side and every pair compared."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from fake_openai import Reply
from helpers import cli
from test_eval_runs import CITIES, last_user, scenario, tasks_file


def by_model(body: dict[str, Any]) -> Reply:
    """`good` names the task's city; `bad` names Paris for all but Kyoto; the judge gives 5."""
    if "grader" in json.dumps(body["messages"][0]):
        return Reply(text="SCORE: 5")
    city = next((c for c in CITIES if c in last_user(body)), "?")
    shown = city if body["model"] == "good" or city == "Kyoto" else "Paris"
    return Reply(text=f"Day 1 in {shown}. TERMINATE")


def test_the_same_tasks_on_two_models_side_by_side(tmp_path: Path, srv) -> None:
    srv.responder = by_model
    sc = scenario(tmp_path, srv)
    assert sc.source is not None
    tasks = tasks_file(tmp_path, CITIES)
    out = tmp_path / "m"
    done = cli(
        "eval", str(sc.source), "--tasks", str(tasks), "--out", str(out), "--base-url", srv.base_url,
        "--model", "good", "--model", "bad", "--junit", str(tmp_path / "j.xml"), "--fail-under", "50",
    )  # fmt: skip
    assert done.returncode == 1 and "the pass rate is under 50% (bad)" in done.stderr
    models = {r.json["model"] for r in srv.chat_requests}
    assert models == {"good", "bad"}
    flat = " ".join(done.stdout.split())
    assert "6 tasks x 1 on 2 models" in flat
    assert "│ good │ 100.0%" in flat and "│ bad │ 16.7%" in flat
    assert "│ good │ bad │ -83.3 pts" in flat  # the pair, B - A
    matrix = json.loads((out / "matrix.json").read_text())
    assert matrix["models"] == {"good": "good", "bad": "bad"}
    assert matrix["summaries"]["bad"]["pass_rate"]["passed"] == 1
    for name in ("good", "bad"):
        runs = [json.loads(x) for x in (out / name / "runs.jsonl").read_text().splitlines()]
        assert len(runs) == 6 and (out / name / "report.html").is_file()
        meta = json.loads((out / name / "eval.json").read_text())
        assert meta["models"] == {"planner": f"openai {name} at {srv.base_url}"}
    page = (out / "report.html").read_text()
    assert 'href="good/report.html"' in page and 'href="bad/report.html"' in page
    assert page.count("<svg") == 1 and "-83.3 pts" in page
    suites = ET.parse(tmp_path / "j.xml").getroot().findall("testsuite")
    assert [(s.attrib["name"], s.attrib["failures"]) for s in suites] == [
        ("trip [good]", "0"),
        ("trip [bad]", "5"),
    ]
    progress = " ".join(done.stderr.split())
    assert progress.count("trip: 6 tasks x 1 repeats = 6 runs") == 2

    asked = len(srv.chat_requests)
    again = cli(
        "eval", str(sc.source), "--tasks", str(tasks), "--out", str(out), "--base-url", srv.base_url,
        "--model", "good", "--model", "bad", "--resume",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert len(srv.chat_requests) == asked  # every run of both models was done
    assert "(6 done before, 6 of them passed; 0 to make)" in " ".join(again.stderr.split())
    refused = cli(
        "eval", str(sc.source), "--tasks", str(tasks), "--out", str(out), "--base-url", srv.base_url,
        "--model", "good", "--model", "new",
    )  # fmt: skip
    assert refused.returncode == 2 and "already holds the results of an eval" in refused.stderr
    assert len(srv.chat_requests) == asked and not (out / "new").exists()


def test_a_matrix_whose_models_would_share_a_folder_is_refused(tmp_path: Path, srv) -> None:
    sc = scenario(tmp_path, srv)
    assert sc.source is not None
    tasks = tasks_file(tmp_path, ["Kyoto"])
    done = cli(
        "eval",
        str(sc.source),
        "--tasks",
        str(tasks),
        "--model",
        "a/b",
        "--model",
        "a:b",
        "--out",
        str(tmp_path / "m"),
    )
    assert done.returncode == 2 and "would share a folder" in done.stderr
    assert srv.chat_requests == []
