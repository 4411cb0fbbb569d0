"""`troupe eval --replay RESULTS`: every run replayed offline from the tape of the same task in an earlier
eval, the judge's verdicts reused when it would be asked the same; the CI job with no endpoint."""

from __future__ import annotations

from pathlib import Path

from helpers import cli
from test_eval_runs import planner_and_judge, records, scenario, tasks_file

from autogen_troupe.eval import evaluate, load_tasks


async def test_a_replayed_eval_calls_no_model_and_a_changed_prompt_fails_its_runs(
    tmp_path: Path, srv
) -> None:
    srv.responder = planner_and_judge(wrong={"Lima"})
    sc = scenario(tmp_path, srv)
    rows = load_tasks(tasks_file(tmp_path, ["Kyoto", "Lima", "Oslo"]), sc)
    live = await evaluate(sc, rows, out=tmp_path / "live", repeat=2)
    asked = len(srv.chat_requests)
    again = await evaluate(sc, rows, out=tmp_path / "again", repeat=2, replay=tmp_path / "live")
    assert len(srv.chat_requests) == asked  # neither the team nor the judge was asked
    outcome = {r["task_id"] + str(r["repeat"]): r["outcome"] for r in records(tmp_path / "again")}
    assert outcome == {r["task_id"] + str(r["repeat"]): r["outcome"] for r in records(tmp_path / "live")}
    assert again.summary.pass_rate == live.summary.pass_rate
    assert all(m.startswith("replay of openai fake-model") for m in again.meta.models.values())

    changed = scenario(tmp_path, srv, extra=" Be brief.", name="changed.yaml")
    cut = await evaluate(changed, rows[:1], out=tmp_path / "changed", replay=tmp_path / "live")
    (run,) = records(tmp_path / "changed")
    assert run["outcome"] == "error" and "matches no recorded request" in run["error"]
    assert cut.summary.outcomes["error"] == 1 and len(srv.chat_requests) == asked
    missing = await evaluate(sc, rows, out=tmp_path / "more", repeat=3, replay=tmp_path / "live")
    third = [r for r in records(tmp_path / "more") if r["repeat"] == 2]
    assert {r["outcome"] for r in third} == {"error"} and "no recorded run of task" in third[0]["error"]
    assert missing.summary.runs == 9


def test_the_ci_replay_job_passes_its_gate(tmp_path: Path, srv) -> None:
    srv.responder = planner_and_judge()
    sc = scenario(tmp_path, srv)
    assert sc.source is not None
    tasks = tasks_file(tmp_path, ["Kyoto", "Lima"])
    args = ["eval", str(sc.source), "--tasks", str(tasks), "-q"]
    assert cli(*args, "--out", str(tmp_path / "base")).returncode == 0
    asked = len(srv.chat_requests)
    base = str(tmp_path / "base")
    done = cli(
        *args, "--out", str(tmp_path / "ci"), "--replay", base, "--baseline", base, "--fail-on-regression",
        "--junit", str(tmp_path / "junit.xml"),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(srv.chat_requests) == asked and (tmp_path / "junit.xml").is_file()
    bad = cli(*args, "--out", str(tmp_path / "x"), "--replay", str(tmp_path / "nowhere"))
    assert bad.returncode == 2 and "is not the results folder of an eval" in bad.stderr
    assert not (tmp_path / "x").exists()


def test_the_documented_ci_workflow_uses_only_options_that_exist() -> None:
    """docs/ci/eval.yml: valid YAML, two jobs (replayed, live), and each `troupe eval` command in it
    parses: every option it gives is one `troupe eval run` has."""
    import re

    import yaml

    root = Path(__file__).resolve().parents[1]
    flow = yaml.safe_load((root / "docs" / "ci" / "eval.yml").read_text())
    assert set(flow["jobs"]) == {"replayed", "live"}
    commands = [
        step["run"]
        for job in flow["jobs"].values()
        for step in job["steps"]
        if str(step.get("run", "")).startswith("troupe eval")
    ]
    assert len(commands) == 2 and "--replay" in commands[0] and "--replay" not in commands[1]
    helped = " ".join(cli("eval", "run", "--help").stdout.split())
    for command in commands:
        assert "--fail-on-regression" in command and "--junit" in command
        for flag in re.findall(r"(?<!\S)(--?[a-z][\w-]*)", command):
            assert flag in helped, (flag, command)
