"""The baseline gate (`--baseline RESULTS --fail-on-regression`: exit 1 only for a drop beyond chance, by
a one-sided Fisher exact test, printing the tasks that flipped) and `--junit FILE` (JUnit XML, one test case
per task), on the scripted endpoint."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from helpers import cli
from test_eval_runs import CITIES, planner_and_judge, scenario, tasks_file

from autogen_troupe.eval._gate import fisher_one_sided, gate
from autogen_troupe.eval._results import RunRecord

TABLES = [(6, 6, 0, 6), (10, 10, 5, 10), (3, 3, 2, 3), (7, 12, 9, 15), (0, 4, 0, 4), (20, 40, 5, 30)]


@pytest.mark.parametrize(("bp", "bn", "np_", "nn"), TABLES)
def test_fisher_one_sided_is_the_hypergeometric_tail(bp: int, bn: int, np_: int, nn: int) -> None:
    p = fisher_one_sided(bp, bn, np_, nn)
    passes, total = bp + np_, bn + nn
    by_hand = sum(
        math.comb(passes, k) * math.comb(total - passes, nn - k) for k in range(max(0, passes - bn), np_ + 1)
    ) / math.comb(total, nn)
    assert p == pytest.approx(by_hand)
    stats = pytest.importorskip("scipy.stats")  # where scipy is installed, it agrees
    expected = stats.fisher_exact([[np_, nn - np_], [bp, bn - bp]], alternative="less").pvalue
    assert p == pytest.approx(expected)


def _runs(passes: list[bool], check: str = "final_message") -> list[RunRecord]:
    return [
        RunRecord(
            task_id=f"t{i}", task="x", outcome="pass" if ok else "fail", checks={"run": True, check: ok}
        )
        for i, ok in enumerate(passes)
    ]


def test_a_drop_within_chance_is_not_a_regression_and_a_large_one_is() -> None:
    small = gate(_runs([True] * 3), _runs([True, True, False]))
    assert not small.regressed and small.rates[0].p_value == pytest.approx(0.5)
    assert [c.task_id for c in small.flipped_worse] == ["t2"]
    big = gate(_runs([True] * 12), _runs([True] * 3 + [False] * 9))
    assert big.regressed
    assert {d.name for d in big.rates if d.regression} == {"pass rate", "final_message"}
    assert not next(d for d in big.rates if d.name == "run").regression
    better = gate(_runs([False] * 5), _runs([True] * 5))
    assert not better.regressed and len(better.flipped_better) == 5
    only_common = gate(_runs([True] * 3), _runs([False] * 3)[:1])  # tasks t1, t2 not run now: left out
    assert only_common.common_tasks == 1 and only_common.rates[0].base_runs == 1


def _junit_shape(path: Path) -> ET.Element:
    """The common JUnit schema's shape: testsuites > testsuite (counts) > testcase (name, classname,
    time) with at most one failure or error (message) and system-out."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    for attr in ("tests", "failures", "errors", "skipped"):
        int(suite.attrib[attr])
    float(suite.attrib["time"])
    cases = suite.findall("testcase")
    assert len(cases) == int(suite.attrib["tests"])
    for case in cases:
        assert case.attrib["name"] and case.attrib["classname"]
        float(case.attrib["time"])
        assert {c.tag for c in case} <= {"failure", "error", "system-out"}
        assert len(case.findall("failure")) + len(case.findall("error")) <= 1
        for bad in (*case.findall("failure"), *case.findall("error")):
            assert bad.attrib["message"]
    failed = sum(bool(c.findall("failure")) for c in cases)
    assert failed == int(suite.attrib["failures"])
    assert sum(bool(c.findall("error")) for c in cases) == int(suite.attrib["errors"])
    return suite


def test_the_gate_and_junit_from_the_command_line(tmp_path: Path, srv) -> None:
    srv.responder = planner_and_judge()
    sc = scenario(tmp_path, srv, judge=False)
    assert sc.source is not None
    tasks = tasks_file(tmp_path, CITIES)
    base = tmp_path / "base"
    args = ["eval", str(sc.source), "--tasks", str(tasks), "-q"]
    assert cli(*args, "--out", str(base)).returncode == 0

    srv.responder = planner_and_judge(wrong={"Lima"})  # one task flips: within chance
    one = cli(*args, "--out", str(tmp_path / "one"), "--baseline", str(base), "--fail-on-regression")
    assert one.returncode == 0, one.stdout + one.stderr
    flat = " ".join(one.stdout.split())
    assert "flipped: pass less often now" in flat and "│ lima │ 1/1 │ 0/1 │" in flat
    assert "REGRESSION" not in flat

    srv.responder = planner_and_judge(wrong=set(CITIES[1:]))  # five of six fail now
    junit = tmp_path / "ci" / "junit.xml"
    worse = cli(
        *args, "--out", str(tmp_path / "worse"), "--baseline", str(base), "--fail-on-regression",
        "--junit", str(junit),
    )  # fmt: skip
    assert worse.returncode == 1
    assert "REGRESSION" in worse.stdout
    assert "pass rate, task.final_message dropped by more than chance" in " ".join(worse.stderr.split())
    suite = _junit_shape(junit)
    assert (suite.attrib["tests"], suite.attrib["failures"], suite.attrib["errors"]) == ("6", "5", "0")
    lima = next(c for c in suite.findall("testcase") if c.attrib["name"] == "lima")
    assert "1 of 1 runs did not pass: task.final_message.contains" in lima.find("failure").attrib["message"]
    assert "transcripts/" in (lima.find("system-out").text or "")

    bad = cli(*args, "--out", str(tmp_path / "x"), "--fail-on-regression")
    assert bad.returncode == 2 and "give --baseline RESULTS" in bad.stderr
    bad = cli(*args, "--out", str(tmp_path / "y"), "--baseline", str(tmp_path / "nowhere"))
    assert bad.returncode == 2 and "is not the results folder of an eval" in bad.stderr
    assert not (tmp_path / "y").exists()  # refused before any run
