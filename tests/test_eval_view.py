"""What `troupe eval` shows while it runs: the line before the bar says what runs, and the bar counts the
runs finished and passed honestly, also when `--resume` keeps earlier runs."""

from __future__ import annotations

import io
from pathlib import Path

from helpers import cli, write
from rich.console import Console
from test_eval_runs import planner_and_judge, scenario, tasks_file

from autogen_troupe.cli.eval_view import ProgressView
from autogen_troupe.eval import evaluate, load_tasks


def _console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=300, force_terminal=False, color_system=None), buf


async def _eval(tmp_path: Path, srv, repeat: int, *, resume: bool) -> str:
    sc = scenario(tmp_path, srv, judge=False)
    tasks = load_tasks(tasks_file(tmp_path, ["Kyoto", "Lima", "Oslo"]), sc)
    console, buf = _console()
    out = tmp_path / "out"
    with ProgressView(console, folder=out) as view:
        await evaluate(
            sc, tasks, out=out, repeat=repeat, resume=resume, on_start=view.start, on_record=view.record
        )
    return buf.getvalue()


async def test_the_bar_counts_passes_not_finished_runs_and_keeps_resumed_ones(tmp_path: Path, srv) -> None:
    srv.responder = planner_and_judge(wrong={"Lima", "Oslo"})  # one of three passes
    first = await _eval(tmp_path, srv, 1, resume=False)
    assert f"trip: 3 tasks x 1 repeats = 3 runs, 4 at once, on openai fake-model at {srv.base_url}" in first
    assert f"results in {tmp_path / 'out'}" in first
    assert "3/3 finished: 1 passed, 2 failed, 0 errors" in first
    srv.responder = planner_and_judge()  # now every run passes
    second = await _eval(tmp_path, srv, 2, resume=True)
    assert "3 tasks x 2 repeats = 6 runs (3 done before, 1 of them passed; 3 to make)" in second
    assert "6/6 finished: 4 passed, 2 failed, 0 errors" in second
    assert len(srv.chat_requests) == 6  # the three kept runs were not made again


def test_quiet_prints_nothing(tmp_path: Path) -> None:
    console, buf = _console()
    with ProgressView(console, quiet=True) as view:
        assert view.progress is None
    assert buf.getvalue() == ""


def test_bad_input_leaves_no_results_folder_behind(tmp_path: Path) -> None:
    """The default --out folder is made only once every check passed (it was made, empty, before)."""
    plain = write(tmp_path, "name: p\ntask: t\nteam: {kind: single, agents: [{name: a}]}\n", "plain.yaml")
    tasks = write(tmp_path, "task\nhello\n", "t.csv")
    for flags in (["--judge", "default"], ["--simulate-user", "default"], ["--persona", "x"]):
        done = cli("eval", str(plain), "--tasks", str(tasks), *flags, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
    assert not (tmp_path / "troupe-evals").exists()
