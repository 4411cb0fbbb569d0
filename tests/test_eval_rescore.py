"""`troupe eval rescore`: yesterday's runs scored again with today's expectations and judge, from their
transcripts; the endpoint sees the judge's requests and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import cli, write
from test_eval_runs import planner_and_judge, records, scenario, tasks_file

from autogen_troupe.errors import UsageError
from autogen_troupe.eval import evaluate, load_tasks, rescore
from autogen_troupe.scenario import load_scenario


def _is_judge(body: dict) -> bool:
    return "grader" in body["messages"][0]["content"]


async def test_rescore_applies_the_expectations_and_judge_of_now_without_calling_the_team(
    tmp_path: Path, srv
) -> None:
    srv.responder = planner_and_judge(wrong={"Lima"})
    sc = scenario(tmp_path, srv)
    rows = load_tasks(tasks_file(tmp_path, ["Kyoto", "Lima", "Oslo"]), sc)
    first = await evaluate(sc, rows, out=tmp_path / "a", repeat=2)
    assert first.summary.pass_rate.passed == 4
    asked = len(srv.chat_requests)

    # Today: a new scenario-wide expectation, Lima's row expects Paris, and the judge is harsher on Oslo.
    srv.responder = planner_and_judge(low={"Oslo"})
    assert sc.source is not None
    text = sc.source.read_text()
    stop = "stop_reason: {contains: TERMINATE}"
    indent = text.split(stop)[0].rsplit("\n", 1)[1]
    sc.source.write_text(text.replace(stop, f"{stop}\n{indent}final_message: {{regex: '^Day 1'}}"))
    now = load_scenario(sc.source)
    assert now.expect is not None and now.expect.final_message is not None
    text = tasks_file(tmp_path, ["Kyoto", "Oslo"]).read_text() + json.dumps(
        {"id": "lima", "vars": {"city": "Lima"}, "expect": {"final_message": {"contains": "Paris"}}}
    )
    rows = load_tasks(write(tmp_path, text, "t2.jsonl"), now)
    result = await rescore(tmp_path / "a", now, out=tmp_path / "b", rows=rows)

    new = srv.chat_requests[asked:]
    assert len(new) == 6 and all(_is_judge(r.json) for r in new)  # one judge call a run; no team call
    by = {(r["task_id"], r["repeat"]): r for r in records(tmp_path / "b")}
    assert by[("kyoto", 0)]["checks"]["final_message"] is True  # the scenario's new expectation
    assert {k[0]: r["outcome"] for k, r in by.items() if k[1] == 0} == {
        "kyoto": "pass",
        "lima": "pass",  # its row now expects the Paris it got
        "oslo": "fail",  # the judge of now scores it 2
    }
    assert by[("oslo", 0)]["judge"]["score"] == 2.0
    assert by[("kyoto", 0)]["transcript"] and (tmp_path / "b" / by[("kyoto", 0)]["transcript"]).is_file()
    assert result.meta.rescored_from == str(tmp_path / "a") and result.summary.runs == 6
    assert result.meta.models == first.meta.models  # what ran is what ran
    assert (tmp_path / "b" / "report.html").is_file()
    assert len(records(tmp_path / "a")) == 6  # the old folder is untouched


def test_rescore_from_the_command_line_and_its_bad_input(tmp_path: Path, srv) -> None:
    srv.responder = planner_and_judge()
    sc = scenario(tmp_path, srv, judge=False)
    assert sc.source is not None
    tasks = tasks_file(tmp_path, ["Kyoto", "Lima"])
    done = cli("eval", str(sc.source), "--tasks", str(tasks), "--out", str(tmp_path / "a"), "-q")
    assert done.returncode == 0, done.stderr
    asked = len(srv.chat_requests)
    write(tmp_path, tasks.read_text().replace('"Lima"}}', '"Lima!"}}'), "t.jsonl")  # lima now fails
    done = cli("eval", "rescore", str(tmp_path / "a"), "--out", str(tmp_path / "b"))
    assert done.returncode == 0, done.stderr
    assert len(srv.chat_requests) == asked  # no judge, so no model call at all
    assert "2 runs (scored again from" in done.stdout and "no team model was called" in " ".join(
        done.stdout.split()
    )
    assert {r["task_id"]: r["outcome"] for r in records(tmp_path / "b")} == {"kyoto": "pass", "lima": "fail"}
    gated = cli(
        "eval", "rescore", str(tmp_path / "a"), "--out", str(tmp_path / "c"),
        "--baseline", str(tmp_path / "a"), "--fail-on-regression", "--junit", str(tmp_path / "j.xml"),
    )  # fmt: skip
    assert gated.returncode == 0, gated.stderr  # one task of two flipped: within chance
    assert "│ lima │ 1/1 │ 0/1 │" in " ".join(gated.stdout.split())
    assert 'failures="1"' in (tmp_path / "j.xml").read_text()
    again = cli("eval", "rescore", str(tmp_path / "a"), "--out", str(tmp_path / "b"))
    assert again.returncode == 2 and "already holds the results of an eval" in again.stderr
    missing = cli("eval", "rescore", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "is not the results folder of an eval" in missing.stderr


async def test_rescore_refuses_a_judge_model_without_a_judge_block(tmp_path: Path, srv) -> None:
    srv.responder = planner_and_judge()
    sc = scenario(tmp_path, srv, judge=False)
    await evaluate(sc, load_tasks(tasks_file(tmp_path, ["Kyoto"]), sc), out=tmp_path / "a")
    with pytest.raises(UsageError, match="no `judge:` block"):
        await rescore(tmp_path / "a", sc, out=tmp_path / "b", judge_model="default")
