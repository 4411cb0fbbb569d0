"""`troupe eval`'s results folder as a user meets it: an --out that cannot hold results, a --resume or
compare folder that is no eval's, refused in one paragraph with exit 2 before any run and with nothing
written; `runs.jsonl` cut short by a kill, continued by --resume without losing or doubling a run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import cli, write

from autogen_troupe.eval._results import ResultsFolder, RunRecord

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
"""
CITIES = ["Kyoto", "Lima", "Oslo", "Quito"]
SCRIPT = {"default": "Day 1 in Kyōto, 京都. TERMINATE"}  # the records hold UTF-8 of 2 and 3 bytes


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def eval_cmd(tmp_path: Path, out: str | Path, *more: str, url: str = "http://127.0.0.1:9/v1"):
    sc = write(tmp_path, SCENARIO, "trip.yaml")
    tasks = write(tmp_path, "id,city\n" + "".join(f"{c.lower()},{c}\n" for c in CITIES), "tasks.csv")
    return cli("eval", str(sc), "--tasks", str(tasks), "--out", str(out), "-q", *more, env={"FAKE_URL": url})


def refused(done, *words: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and all(w in done.stderr for w in words), done.stderr
    assert done.stderr.count("\n\n") == 0 and done.stderr.startswith("UsageError: ")  # one paragraph
    assert not done.stdout


@pytest.mark.parametrize(
    ("out", "setup", "words"),
    [
        ("afile", lambda t: (t / "afile").write_text("x"), ["afile is a file, not a folder"]),
        ("afile/sub/deeper", lambda t: (t / "afile").write_text("x"), ["afile is a file, so no folder"]),
        ("/proc/self/troupe-out", None, ["nothing can be written in /proc/self"]),  # refuses root too
        ("res", lambda t: (t / "res" / "report.html").mkdir(parents=True), ["res/report.html is in the way"]),
        (
            "res",
            lambda t: ((t / "res").mkdir(), (t / "res" / "transcripts").write_text("x")),
            ["res/transcripts is in the way (the eval writes a folder there)"],
        ),
    ],
    ids=["file", "below-a-file", "unwritable", "report-is-a-folder", "transcripts-a-file"],
)
def test_an_out_that_cannot_hold_results_is_refused_before_any_run(
    tmp_path: Path, fake_process, out: str, setup, words: list[str]
) -> None:
    url, log = fake_process(SCRIPT)
    work = tmp_path / "work"
    work.mkdir()
    if setup is not None:
        setup(work)
    before = tree(work)
    done = eval_cmd(tmp_path, out if out.startswith("/") else work / out, url=url)
    refused(done, "cannot hold the results of an eval", *words)
    assert tree(work) == before  # nothing written
    assert not log.exists() or not log.read_text().strip()  # no run started


def test_resume_needs_the_folder_of_an_eval(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "afile").write_text("x")
    before = tree(tmp_path)
    refused(eval_cmd(tmp_path, tmp_path / "nowhere", "--resume"), "not the results folder", "no such folder")
    refused(eval_cmd(tmp_path, tmp_path / "empty", "--resume"), "it holds no eval.json file")
    refused(eval_cmd(tmp_path, tmp_path / "afile", "--resume"), "afile is a file, not a folder")
    assert tree(tmp_path) == before | {"trip.yaml", "tasks.csv"}


def test_compare_refuses_what_is_not_an_eval_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "afile").write_text("x")
    odd = tmp_path / "odd"
    (odd / "eval.json").mkdir(parents=True)
    for a, words in [
        ("nowhere", "no such folder"),
        ("empty", "it holds no eval.json file"),
        ("afile", "afile is a file, not a folder"),
        ("afile/below", "afile is a file, so no folder can be below it"),
        ("odd", "it holds no eval.json file"),
    ]:
        refused(cli("eval", "compare", str(tmp_path / a), str(tmp_path / "empty")), words)


def test_compare_refuses_a_runs_file_that_is_a_folder(tmp_path: Path, fake_process) -> None:
    url, _ = fake_process(SCRIPT)
    assert eval_cmd(tmp_path, tmp_path / "a", url=url).returncode == 0
    runs = tmp_path / "a" / "runs.jsonl"
    runs.unlink()
    runs.mkdir()
    done = cli("eval", "compare", str(tmp_path / "a"), str(tmp_path / "a"))
    refused(done, "runs.jsonl is not a regular file")


def lines(folder: Path) -> list[dict]:
    raw = (folder / "runs.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    return [json.loads(x) for x in raw.decode().splitlines()]  # every line parses


@pytest.mark.parametrize("cut", ["mid-json", "mid-character"])
def test_resume_after_a_torn_last_line_keeps_every_run_once(tmp_path: Path, fake_process, cut: str) -> None:
    """A kill while a record was being written leaves its line cut short, with no newline (perhaps inside
    a character): --resume makes that run again, appends on a line of its own, loses no other run."""
    url, _ = fake_process(SCRIPT)
    out = tmp_path / "out"
    assert eval_cmd(tmp_path, out, url=url).returncode == 0
    runs = out / "runs.jsonl"
    raw = runs.read_bytes()
    start = raw.rstrip(b"\n").rfind(b"\n") + 1
    at = raw.index("京".encode(), start) + 1 if cut == "mid-character" else start + (len(raw) - start) // 2
    torn_id = json.loads(raw[start:])["task_id"]
    runs.write_bytes(raw[:at])
    done = eval_cmd(tmp_path, out, "--resume", url=url)
    assert done.returncode == 0, done.stderr
    assert "(1 made now, 3 before)" in done.stdout
    records = lines(out)
    assert sorted(r["task_id"] for r in records) == sorted(c.lower() for c in CITIES)  # each once
    assert records[-1]["task_id"] == torn_id


def record(task_id: str, text: str = "ok") -> RunRecord:
    return RunRecord(task_id=task_id, task="t", outcome="pass", final_message=text)


def test_a_whole_last_record_without_its_newline_is_kept(tmp_path: Path) -> None:
    folder = ResultsFolder(tmp_path)
    folder.append(record("a"))
    folder.append(record("b"))
    folder.close()
    folder.runs_path.write_bytes(folder.runs_path.read_bytes().rstrip(b"\n"))  # cut just before it
    assert list(folder.load_runs()) == [("a", 0), ("b", 0)]
    folder.append(record("c"))
    folder.close()
    assert [r["task_id"] for r in lines(tmp_path)] == ["a", "b", "c"]


def test_records_holding_line_separators_are_read_whole(tmp_path: Path) -> None:
    """JSON writes U+2028, U+2029 and U+0085 as they are; only a newline ends a record."""
    folder = ResultsFolder(tmp_path)
    texts = ["one\u2028two", "three\x85four", "five\u2029six"]
    for i, t in enumerate(texts):
        folder.append(record(str(i), t))
    folder.close()
    assert [r.final_message for r in folder.load_runs().values()] == texts
    assert folder.skipped_lines == 0


def test_the_check_leaves_no_trace(tmp_path: Path) -> None:
    """Writability is tried with a file removed at once (permissions do not tell for root)."""
    ResultsFolder(tmp_path / "new" / "deeper").check_writable(resume=False)
    assert os.listdir(tmp_path) == []
