"""The tasks file of `troupe eval`: one task a row, from JSON lines, CSV or a YAML list.

A row may give an `id`, the `task` text (default: the scenario's task), `vars` filling `{{name}}` in the
task and the judge's rubric, a `reference` answer the judge sees, `expect`: expectations checked on top
of the scenario's own `expect` block, and the `persona` a simulated user plays (`--simulate-user`). In a
CSV file every other column is a variable and `expect` is a YAML mapping in one cell
(`{final_message: {contains: Kyoto}}`). Every problem in the file is reported at
once, located (file:line:column), before any run starts.
"""

from __future__ import annotations

import csv
import difflib
import functools
import hashlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from .._text import bad_text_path
from ..errors import Issue, ScenarioError
from ..scenario._base import Frozen
from ..scenario._expectations import Expect, _expected_speakers
from ..scenario._files import FileProblem, compose_yaml, parse_json, read_text
from ..scenario._loader import _models_at
from ..scenario._located import LONE_SURROGATE, dotted, read_located
from ..scenario._schema import Scenario
from ..scenario._template import Scalar, fill, template_names

__all__ = ["MAX_COLUMNS", "MAX_TASKS", "TASKS_MAX_BYTES", "EvalTask", "load_tasks", "resolve_tasks_path"]

TASKS_MAX_BYTES = 64 * 1024 * 1024
MAX_TASKS = 100_000
MAX_COLUMNS = 1_000  # of a CSV file, and keys of a row: each is a variable; a real dataset has a handful
MAX_ID_LENGTH = 200
_SPECIAL_COLUMNS = ("id", "task", "reference", "expect", "persona")
_UNREAD = object()  # a row whose problems reading it are already reported


class EvalTask(Frozen):
    """One task of an eval, ready to run: its text filled in, its expectations validated."""

    id: str
    task: str
    vars: dict[str, Scalar] = Field(default_factory=dict)
    reference: str | None = None
    expect: Expect | None = None
    rubric: str | None = None  # the scenario judge's rubric, filled from `vars`
    persona: str | None = None  # who a simulated user plays in this task (`--simulate-user`)
    line: int = 0  # where the row starts in the tasks file

    @property
    def digest(self) -> str:
        """What the run is asked (text, expectations, rubric, reference): a finished run whose digest
        differs was made for another version of the row and is run again by `--resume`."""
        data = self.model_dump(mode="json", include={"task", "reference", "expect", "rubric"})
        if self.persona is not None:  # only when given, so digests of rows without one stay as they were
            data["persona"] = self.persona
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


class _Row(Frozen):
    """A row as written in a JSON lines or YAML tasks file."""

    id: str | int | None = None
    task: str | None = None
    vars: dict[str, Scalar] = Field(default_factory=dict)
    reference: str | int | float | None = None
    expect: Expect | None = None
    persona: str | None = None


# --------------------------------------------------------------------------- reading rows


def _jsonl_rows(text: str, path: Path, issues: list[Issue]) -> Iterator[tuple[int, Any, dict[str, int]]]:
    """(line, data, column of each top-level key) for each non-blank line."""
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = parse_json(line, path, what="tasks file")
        except FileProblem as e:
            issues.append(Issue(path, n, e.column, e.message))
            continue
        yield n, data, _key_columns(line) if isinstance(data, dict) else {}


_JSON_PART = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_COLON = re.compile(r"[ \t\r]*:")


def _key_columns(line: str) -> dict[str, int]:
    """The 1-based column of each key of the JSON object on `line` (the first time it is written), in one
    pass over the line, however many keys it has."""
    cols: dict[str, int] = {}
    depth = 0
    for m in _JSON_PART.finditer(line):
        tok = m.group()
        if tok in "[{":
            depth += 1
        elif tok in "]}":
            depth -= 1
        elif depth == 1 and _COLON.match(line, m.end()):
            cols.setdefault(json.loads(tok), m.start() + 1)
    return cols


def _csv_rows(
    text: str, path: Path, issues: list[Issue], *, delimiter: str = ","
) -> Iterator[tuple[int, Any, dict[str, int]]]:
    """(line, row as a dict, 1-based field number of each column) for each data row of a CSV file."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
    except csv.Error as e:
        issues.append(Issue(path, 1, 1, f"the header row is not valid CSV: {e}"))
        return
    if not header or not any(h.strip() for h in header):
        issues.append(Issue(path, 1, 1, "the CSV file has no header row (column names, e.g. id,task,...)"))
        return
    if len(header) > MAX_COLUMNS:
        message = f"the header has {len(header):,} columns; a tasks file has at most {MAX_COLUMNS:,}"
        issues.append(Issue(path, 1, MAX_COLUMNS + 1, message))
        return
    names = [h.strip() for h in header]
    cols: dict[str, int] = {}
    for i, name in enumerate(names):
        if not name:
            issues.append(Issue(path, 1, i + 1, f"column {i + 1} of the header has no name"))
        elif name in cols:
            issues.append(Issue(path, 1, i + 1, f"column {name!r} appears twice in the header"))
        else:
            cols[name] = i + 1
    start = reader.line_num + 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            issues.append(Issue(path, start, 1, f"this row is not valid CSV: {e}"))
            return
        if fields and any(f.strip() for f in fields):
            if len(fields) != len(names):
                issues.append(
                    Issue(path, start, 1, f"this row has {len(fields)} fields; the header has {len(names)}")
                )
            else:
                yield start, _csv_row(dict(zip(names, fields, strict=True)), path, start, issues), cols
        start = reader.line_num + 1


def _csv_row(cells: dict[str, str], path: Path, line: int, issues: list[Issue]) -> dict[str, Any]:
    row: dict[str, Any] = {"vars": {k: v for k, v in cells.items() if k not in _SPECIAL_COLUMNS}}
    for key in ("id", "task", "reference", "persona"):
        if cells.get(key, "").strip():
            row[key] = cells[key] if key != "id" else cells[key].strip()
    expect = cells.get("expect", "").strip()
    if expect:
        try:
            node = compose_yaml(expect, path)
        except FileProblem as e:
            issues.append(
                Issue(path, line, 1, f"expect: the cell is not a YAML mapping: {e.message}", "expect")
            )
            return row
        data, located = read_located(node, path) if node is not None else (None, None)
        if located is not None and located.issues:
            issues.extend(
                Issue(path, line, 1, i.message, f"expect.{i.field}".rstrip(".")) for i in located.issues
            )
            return row  # its values that could not be read are None: checking them would only confuse
        row["expect"] = data
    return row


def _yaml_rows(text: str, path: Path, issues: list[Issue]) -> Iterator[tuple[int, Any, dict[str, int]]]:
    try:
        root = compose_yaml(text, path)
    except FileProblem as e:
        issues.append(Issue(path, e.line, e.column, e.message))
        return
    if root is None:
        return
    data, located = read_located(root, path)
    issues.extend(located.issues)
    if not isinstance(data, list):
        mark = root.start_mark
        issues.append(Issue(path, mark.line + 1, mark.column + 1, "a YAML tasks file is a list of tasks"))
        return
    unread = {i.field.partition("]")[0] for i in located.issues}  # "[3" for a value of item 3
    for i, item in enumerate(data):
        mark = located.value_marks[(i,)]
        if f"[{i}" in unread:  # reported; its unreadable values are None, which would confuse the checks
            yield mark.line + 1, _UNREAD, {}
            continue
        cols = {}
        if isinstance(item, dict):
            for k in item:
                km = located.key_marks.get((i, k))
                cols[k] = km.column + 1 if km is not None else mark.column + 1
        line = mark.line + 1
        yield line, item, cols


def _json_rows(text: str, path: Path, issues: list[Issue]) -> Iterator[tuple[int, Any, dict[str, int]]]:
    """A .json file: a list of tasks, or JSON lines."""
    if text.lstrip().startswith("["):
        try:
            data = parse_json(text, path, what="tasks file")
        except FileProblem as e:
            issues.append(Issue(path, e.line, e.column, e.message))
            return
        for i, item in enumerate(data):
            yield _line_of_item(text, i), item, {}
    else:
        yield from _jsonl_rows(text, path, issues)


def _line_of_item(text: str, index: int) -> int:
    """The line where item `index` of a JSON list of objects starts (the objects' own opening braces)."""
    depth, seen = 0, -1
    for m in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', text):
        tok = m.group()
        if tok in "[{":
            depth += 1
            if depth == 2:
                seen += 1
                if seen == index:
                    return text.count("\n", 0, m.start()) + 1
        elif tok in "]}":
            depth -= 1
    return 1


def _reader(path: Path) -> Any:
    suffix = path.suffix.lower()
    readers = {
        ".jsonl": _jsonl_rows,
        ".ndjson": _jsonl_rows,
        ".json": _json_rows,
        ".csv": _csv_rows,
        ".tsv": functools.partial(_csv_rows, delimiter="\t"),
        ".yaml": _yaml_rows,
        ".yml": _yaml_rows,
    }
    return readers.get(suffix)


# --------------------------------------------------------------------------- validating rows


def _unknown_key(loc: tuple[Any, ...]) -> str:
    key = str(loc[-1])
    if len(loc) == 1:
        valid = list(_Row.model_fields)
    else:
        valid = sorted({f for m in _models_at(("expect", *loc[1:-1])) for f in m.model_fields})
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    hint = (
        f"; did you mean {close[0]!r}?" if close else (f"; valid keys: {', '.join(valid)}" if valid else "")
    )
    return f"unknown key {key!r}{hint}"


def _row_issues(e: ValidationError, path: Path, line: int, cols: dict[str, int]) -> list[Issue]:
    out = []
    for err in e.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p[:1].isupper()))
        at = tuple((err.get("ctx") or {}).get("at") or ())
        if err["type"] == "extra_forbidden":
            message = _unknown_key(loc)
        elif err["type"] == "missing":
            message = "required field is missing"
        else:
            message = str(err["msg"]).removeprefix("Value error, ")
        column = cols.get(str(loc[0]), 1) if loc else 1
        out.append(Issue(path, line, column, message, dotted((*loc, *at))))
    return out


def _agent_issues(expect: Expect, scenario: Scenario, path: Path, line: int, column: int) -> list[Issue]:
    """Agent names in a row's expectations that are not agents of the team."""
    names = [a.name for a in scenario.team.agents]
    out = [
        Issue(
            path, line, column, f"{n!r} is not an agent of this team (agents: {names})", f"expect.agents.{n}"
        )
        for n in expect.agents
        if n not in names
    ]
    for at, n in _expected_speakers(expect):
        if n not in names and n != "user":
            where = dotted(at)
            out.append(
                Issue(path, line, column, f"{n!r} is not an agent of this team (agents: {names})", where)
            )
    return out


def _missing_vars(row: _Row, template: str, rubric: str | None, given_task: bool) -> list[tuple[str, str]]:
    """(message, field) for each `{{name}}` of the task or rubric that the row does not give."""
    out = []
    where = "the row's task" if given_task else "the scenario's task"
    names = list(row.vars)
    known = ", ".join(names[:20]) + (f" and {len(names) - 20:,} more" if len(names) > 20 else "") or "none"
    for name in template_names(template):
        if name not in row.vars:
            out.append(
                (
                    f"{where} uses {{{{{name}}}}}, which this row does not give (its variables: {known})",
                    "vars",
                )
            )
    for name in template_names(rubric or ""):
        if name not in row.vars:
            out.append((f"the judge's rubric uses {{{{{name}}}}}, which this row does not give", "vars"))
    return out


def _task_from(
    n: int, line: int, data: Any, cols: dict[str, int], scenario: Scenario, path: Path
) -> tuple[EvalTask | None, list[Issue]]:
    if data is _UNREAD:
        return None, []
    if not isinstance(data, dict):
        kind = type(data).__name__
        return None, [
            Issue(
                path,
                line,
                1,
                f"a task is a mapping of id, task, vars, reference, expect, persona (got {kind})",
            )
        ]
    bad = bad_text_path(data)
    if bad is not None:
        return None, [Issue(path, line, cols.get(re.split(r"[.\[ ]", bad)[0], 1), LONE_SURROGATE, bad)]
    many = max(len(data), len(v) if isinstance(v := data.get("vars"), dict) else 0)
    if many > MAX_COLUMNS:
        message = f"a task has at most {MAX_COLUMNS:,} keys and {MAX_COLUMNS:,} variables (this one {many:,})"
        return None, [Issue(path, line, 1, message)]
    try:
        row = _Row.model_validate(data)
    except ValidationError as e:
        return None, _row_issues(e, path, line, cols)
    template = row.task if row.task is not None else scenario.task
    if template is not None and not isinstance(template, str):
        message = "the scenario's task is an MCP prompt, which a row cannot fill in: give the row a task"
        return None, [Issue(path, line, 1, message, "task")]
    if not template:
        return None, [Issue(path, line, 1, "the row gives no task, and the scenario has none", "task")]
    rubric = scenario.judge.rubric if scenario.judge is not None else None
    column = cols.get("task", cols.get("vars", 1))
    issues = [
        Issue(path, line, column, m, f) for m, f in _missing_vars(row, template, rubric, row.task is not None)
    ]
    if row.expect is not None:
        issues += _agent_issues(row.expect, scenario, path, line, cols.get("expect", 1))
    if row.persona is not None and not any(a.kind == "user" for a in scenario.team.agents):
        message = "the scenario has no user agent (kind: user) for a simulated user with this persona to play"
        issues.append(Issue(path, line, cols.get("persona", 1), message, "persona"))
    task_id = str(row.id) if row.id is not None else str(n)
    if not task_id.strip() or len(task_id) > MAX_ID_LENGTH or "\n" in task_id:
        message = f"an id is one line of 1 to {MAX_ID_LENGTH} characters"
        issues.append(Issue(path, line, cols.get("id", 1), message, "id"))
    if issues:
        return None, issues
    return EvalTask(
        id=task_id,
        task=fill(template, row.vars),
        vars=row.vars,
        reference=None if row.reference is None else str(row.reference),
        expect=row.expect,
        rubric=fill(rubric, row.vars) if rubric else None,
        persona=row.persona,
        line=line,
    ), []


def load_tasks(path: str | Path, scenario: Scenario) -> list[EvalTask]:
    """The tasks of `path` (JSON lines, CSV or a YAML list, by its extension) for `scenario`.

    Raises ScenarioError listing every problem of the file, located.
    """
    path = Path(path)
    reader = _reader(path)
    if reader is None:
        raise ScenarioError(
            [Issue(path, 1, 1, "a tasks file is .jsonl, .json, .csv, .tsv or .yaml (one task a row)")]
        )
    try:
        text = read_text(path, limit=TASKS_MAX_BYTES, what="tasks file")
    except FileProblem as e:
        raise ScenarioError([Issue(path, e.line, e.column, e.message)]) from None
    issues: list[Issue] = []
    tasks: list[EvalTask] = []
    seen: dict[str, int] = {}
    for n, (line, data, cols) in enumerate(reader(text, path, issues), 1):
        if n > MAX_TASKS:
            issues.append(Issue(path, line, 1, f"a tasks file holds at most {MAX_TASKS:,} tasks"))
            break
        task, problems = _task_from(n, line, data, cols, scenario, path)
        issues += problems
        given = data.get("id") if isinstance(data, dict) else None
        task_id = str(given) if given is not None else str(n)
        if task_id in seen:
            message = f"the id {task_id!r} is also the id of the task on line {seen[task_id]}"
            issues.append(Issue(path, line, cols.get("id", 1), message, "id"))
            continue
        seen[task_id] = line
        if task is not None:
            tasks.append(task)
    if not issues and not tasks:
        issues.append(Issue(path, 1, 1, "the tasks file holds no tasks"))
    if issues:
        raise ScenarioError(sorted(issues, key=lambda i: (i.line, i.column)))
    return tasks


def resolve_tasks_path(path: str | Path, scenario: Scenario) -> Path:
    """`path` as given, or, when it is relative and not found, the file of that name beside the scenario
    (so `troupe eval travel_eval --tasks travel_destinations.csv` finds the bundled example's tasks)."""
    given = Path(path)
    if given.exists() or given.is_absolute() or scenario.source is None:
        return given
    beside = scenario.source.parent / given
    return beside if beside.exists() else given
