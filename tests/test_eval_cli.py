"""`troupe eval` and `troupe eval compare` as a user runs them: the real command in a child process
against the scripted endpoint in a process of its own; exit codes, Ctrl-C and `--resume`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers import cli, write

SCENARIO = """
    name: trip
    task: Plan a day in {{city}}.
    model: {base_url: "${FAKE_URL}", model: fake-model, max_retries: 0}
    team:
      kind: single
      agents:
        - name: planner
          system_message: You plan trips.
      termination: {text_mention: TERMINATE}
    expect:
      stop_reason: {contains: TERMINATE}
    judge: {rubric: 'A plan for {{city}}.', scale: 1-5}
"""
TASKS = (
    'id,city,expect\nkyoto,Kyoto,"{final_message: {contains: Kyoto}}"\n'
    'lima,Lima,"{final_message: {contains: Lima}}"\n'
)
SCRIPT = {"by_system": {"grader": ["SCORE: 5"] * 50}, "default": "Day 1 in Kyoto. TERMINATE"}


def files(tmp_path: Path) -> tuple[Path, Path]:
    return write(tmp_path, SCENARIO, "trip.yaml"), write(tmp_path, TASKS, "tasks.csv")


def test_an_eval_prints_its_numbers_and_writes_its_folder(tmp_path: Path, fake_process) -> None:
    url, _ = fake_process(SCRIPT)
    sc, tasks = files(tmp_path)
    out = tmp_path / "out"
    done = cli(
        "eval", str(sc), "--tasks", str(tasks), "--out", str(out), "-k", "2", "-q", env={"FAKE_URL": url}
    )
    assert done.returncode == 0, done.stderr
    assert "troupe eval trip: 2 tasks x 2 = 4 runs" in done.stdout
    assert "pass rate" in done.stdout and "50.0%" in done.stdout and "pass@k" in done.stdout
    assert "task.final_message" in done.stdout and "lima#" in done.stdout
    assert {p.name for p in out.iterdir()} == {
        "eval.json",
        "runs.jsonl",
        "summary.json",
        "report.html",
        "transcripts",
    }
    failing = cli(
        "eval",
        str(sc),
        "--tasks",
        str(tasks),
        "--out",
        str(tmp_path / "o2"),
        "-q",
        "--fail-under",
        "60",
        env={"FAKE_URL": url},
    )
    assert failing.returncode == 1 and "the pass rate is under 60%" in failing.stderr


def test_bad_input_exits_2_with_a_located_message(tmp_path: Path) -> None:
    sc, _ = files(tmp_path)
    bad = write(tmp_path, "id,city\nkyoto\n", "bad.csv")
    done = cli("eval", str(sc), "--tasks", str(bad), env={"FAKE_URL": "http://127.0.0.1:9/v1"})
    assert done.returncode == 2
    assert f"{bad}:2:1: this row has 1 fields; the header has 2" in done.stderr
    assert "Traceback" not in done.stderr
    done = cli("eval", str(sc), "--tasks", str(bad), "--resume", env={"FAKE_URL": "http://127.0.0.1:9/v1"})
    assert done.returncode == 2 and "--resume continues the eval in --out DIR" in done.stderr
    plain = write(tmp_path, "name: p\ntask: t\nteam: {kind: single, agents: [{name: a}]}\n", "plain.yaml")
    tasks = write(tmp_path, "task\nhello\n", "t.csv")
    done = cli("eval", str(plain), "--tasks", str(tasks), "--judge", "default")
    assert done.returncode == 2 and "has no `judge:` block" in done.stderr


def test_ctrl_c_stops_cleanly_and_resume_finishes(tmp_path: Path, fake_process) -> None:
    slow = {
        "by_system": {"grader": ["SCORE: 5"] * 50},
        "default": {"text": "Day 1 in Kyoto. TERMINATE", "delay_s": 1.0},
    }
    url, _ = fake_process(slow)
    sc, _ = files(tmp_path)
    tasks = write(tmp_path, "city\n" + "".join(f"Kyoto{i}\n" for i in range(8)), "many.csv")
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "autogen_troupe.cli",
        "eval",
        str(sc),
        "--tasks",
        str(tasks),
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(
        [*cmd, "-j", "2", "-q"],
        env={**os.environ, "FAKE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    runs = out / "runs.jsonl"
    deadline = time.monotonic() + 90
    while not (runs.exists() and runs.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert f"Interrupted; the finished runs are in {out}: --resume --out {out} continues" in stderr
    assert "Traceback" not in stderr
    made = len(runs.read_text().splitlines())
    assert 1 <= made < 8
    assert json.loads((out / "eval.json").read_text())["complete"] is False
    done = cli(
        "eval", str(sc), "--tasks", str(tasks), "--out", str(out), "--resume", "-q", env={"FAKE_URL": url}
    )
    assert done.returncode == 0, done.stderr
    assert f"({8 - made} made now, {made} before)" in done.stdout
    assert len({json.loads(x)["task_id"] for x in runs.read_text().splitlines()}) == 8


def test_compare_prints_both_sides(tmp_path: Path, fake_process) -> None:
    sc, tasks = files(tmp_path)
    url, _ = fake_process(SCRIPT)
    a = cli("eval", str(sc), "--tasks", str(tasks), "--out", str(tmp_path / "a"), "-q", env={"FAKE_URL": url})
    assert a.returncode == 0, a.stderr
    url2, _ = fake_process({**SCRIPT, "default": "Day 1 in Lima and Kyoto. TERMINATE"})
    b = cli(
        "eval", str(sc), "--tasks", str(tasks), "--out", str(tmp_path / "b"), "-q", env={"FAKE_URL": url2}
    )
    assert b.returncode == 0, b.stderr
    done = cli("eval", "compare", str(tmp_path / "a"), str(tmp_path / "b"), env={"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert "2 tasks in both" in done.stdout
    assert "│ pass rate " in done.stdout and "+50.0 pts (95% CI" in done.stdout and "p=1.000" in done.stdout
    assert "improvements" in done.stdout and "lima" in done.stdout
    missing = cli("eval", "compare", str(tmp_path / "a"), str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "is not the results folder of an eval" in missing.stderr


def test_the_bundled_example_runs_from_anywhere(tmp_path: Path, fake_process) -> None:
    """`troupe eval travel_eval --tasks travel_destinations.csv`: the tasks file is found beside the
    bundled scenario; its rubric and per-row expectations are filled from each row."""
    url, _ = fake_process({**SCRIPT, "default": "Day 1 in Kyoto and Kathmandu. TERMINATE"})
    args = ["--base-url", url, "--model", "m", "--limit", "2", "-q", "--out", "out"]
    done = cli(
        "eval",
        "travel_eval",
        "--tasks",
        "travel_destinations.csv",
        *args,
        cwd=tmp_path,
        env={"COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stderr
    assert "2 tasks x 1 = 2 runs" in done.stdout and "task.final_message" in done.stdout
    runs = [json.loads(x) for x in (tmp_path / "out" / "runs.jsonl").read_text().splitlines()]
    assert sorted(r["task_id"] for r in runs) == ["kathmandu", "kyoto"]
    assert all(r["outcome"] == "pass" and r["judge"]["score"] == 5.0 for r in runs)
    kyoto = next(r for r in runs if r["task_id"] == "kyoto")
    assert kyoto["task"] == "Plan a 3 day trip to Kyoto, Japan."
    assert "exactly 3 days in Kyoto, Japan" in kyoto["judge"]["prompt"][1]["content"]
