"""`troupe eval --junit FILE`: the eval as JUnit XML, the report format every CI shows.

One `<testsuite>` for the eval (one per model of a matrix) and one `<testcase>` per task (its name the
task id, its time the seconds of its runs). A task with a run that did not pass is a `<failure>` (an
`<error>` when every such run erred), whose message counts the runs and whose text has each run's
outcome, first failure and transcript; `<properties>` hold the pass rate and the models. Text from runs
is data: ElementTree escapes it, and characters XML 1.0 cannot hold (controls, lone surrogates) are
shown as escapes.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from .._redact import redact_text
from ._results import EvalMeta, RunRecord
from ._stats import Summary

__all__ = ["Suite", "junit_xml", "write_junit"]

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _x(text: object) -> str:
    """Text XML 1.0 can hold, redacted."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", redact_text(str(text)))


def _run_line(r: RunRecord) -> str:
    why = r.error or (r.failures[0].splitlines()[0] if r.failures else "")
    if not why and r.judge is not None and not r.judge.passed:
        why = r.judge.problem or f"the judge scored it {r.judge.score:g}"
    where = f" [{r.transcript}]" if r.transcript else ""
    return f"run {r.repeat}: {r.outcome}" + (f": {why}" if why else "") + where


def _suite(
    root: ET.Element, name: str, meta: EvalMeta, summary: Summary, records: Sequence[RunRecord]
) -> None:
    by_task: dict[str, list[RunRecord]] = {}
    for r in records:
        by_task.setdefault(r.task_id, []).append(r)
    failures = sum(any(r.outcome == "fail" for r in rs) for rs in by_task.values())
    errors = sum(
        all(r.outcome != "fail" for r in rs) and any(r.outcome == "error" for r in rs)
        for rs in by_task.values()
    )
    suite = ET.SubElement(
        root,
        "testsuite",
        name=_x(name),
        tests=str(len(by_task)),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
        time=f"{sum(r.seconds for r in records):.3f}",
        timestamp=_x(meta.started_at),
    )
    props = ET.SubElement(suite, "properties")
    rate = summary.pass_rate
    shown = {
        "pass_rate": f"{rate.rate:.4f}",
        "pass_rate_95ci": f"{rate.low:.4f}-{rate.high:.4f}",
        "runs": str(summary.runs),
        "repeat": str(summary.repeat),
        **{f"model.{agent}": label for agent, label in meta.models.items()},
    }
    for k, v in shown.items():
        ET.SubElement(props, "property", name=_x(k), value=_x(v))
    for task, rs in by_task.items():
        case = ET.SubElement(
            suite, "testcase", classname=_x(name), name=_x(task), time=f"{sum(r.seconds for r in rs):.3f}"
        )
        bad = [r for r in rs if r.outcome != "pass"]
        if bad:
            kind = "failure" if any(r.outcome == "fail" for r in bad) else "error"
            first = bad[0]
            why = first.error or (first.failures[0].splitlines()[0] if first.failures else first.outcome)
            node = ET.SubElement(
                case, kind, message=_x(f"{len(bad)} of {len(rs)} runs did not pass: {why}"), type=kind
            )
            node.text = _x("\n".join(_run_line(r) for r in rs))
        out = ET.SubElement(case, "system-out")
        out.text = _x("\n".join(f"{_run_line(r)}; {r.total_tokens} tokens, {r.seconds:.2f} s" for r in rs))


Suite = tuple[str, EvalMeta, Summary, Sequence[RunRecord]]
"""(label, meta, summary, records) of one eval; the label names the model of a matrix, or is empty."""


def junit_xml(suites: Sequence[Suite]) -> str:
    """The JUnit XML of evals: one test suite each (a model matrix has several)."""
    scenario = suites[0][1].scenario if suites else ""
    root = ET.Element("testsuites", name=_x(f"troupe eval {scenario}"))
    for label, meta, summary, records in suites:
        _suite(root, f"{meta.scenario} [{label}]" if label else meta.scenario, meta, summary, records)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: str | Path, suites: Sequence[Suite]) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(junit_xml(suites), encoding="utf-8")
    return target
