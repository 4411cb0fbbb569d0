"""`troupe eval`'s inputs: tasks files (JSON lines, CSV, YAML, JSON), task templates, per-row
expectations, and the scenario's `judge:` block; every problem located, all at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import write

from autogen_troupe.errors import ScenarioError
from autogen_troupe.eval import load_tasks
from autogen_troupe.eval._tasks import resolve_tasks_path
from autogen_troupe.scenario import load_scenario

SCENARIO = """
    name: trip
    task: Plan a {{days}} day trip to {{city}}.
    team:
      kind: round_robin
      agents: [{name: planner}, {name: critic}]
    judge:
      rubric: A plan for {{city}}.
"""


@pytest.fixture
def sc(tmp_path: Path):
    return load_scenario(write(tmp_path, SCENARIO, "trip.yaml"))


def issues(path: Path, sc) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        load_tasks(path, sc)
    return [str(i) for i in caught.value.issues]


def test_csv_columns_become_variables_and_expect_cells_are_yaml(tmp_path: Path, sc) -> None:
    f = write(
        tmp_path,
        'id,city,days,reference,expect\nkyoto,Kyoto,2,Temples,"{final_message: {contains: Kyoto}}"\n'
        ",Lima,3,,\n",
        "t.csv",
    )
    a, b = load_tasks(f, sc)
    assert (a.id, a.task, a.reference, a.rubric) == (
        "kyoto",
        "Plan a 2 day trip to Kyoto.",
        "Temples",
        "A plan for Kyoto.",
    )
    assert a.expect is not None and a.expect.final_message is not None
    assert a.expect.final_message.contains == "Kyoto"
    assert (b.id, b.task, b.reference, b.expect, b.line) == ("2", "Plan a 3 day trip to Lima.", None, None, 3)
    assert a.digest != b.digest


def test_jsonl_yaml_and_json_lists_read_alike(tmp_path: Path, sc) -> None:
    jsonl = write(
        tmp_path,
        '{"id": "k", "vars": {"city": "Kyoto", "days": 2}}\n\n'
        '{"task": "Just {{city}}.", "vars": {"city": "Oslo"}, "reference": 42}\n',
        "t.jsonl",
    )
    yml = write(
        tmp_path,
        """
        - {id: k, vars: {city: Kyoto, days: 2}}
        - task: Just {{city}}.
          vars: {city: Oslo}
          reference: 42
        """,
        "t.yaml",
    )
    js = write(
        tmp_path,
        '[{"id": "k", "vars": {"city": "Kyoto", "days": 2}},\n {"task": "Just {{city}}.", '
        '"vars": {"city": "Oslo"}, "reference": 42}]',
        "t.json",
    )
    for f in (jsonl, yml, js):
        tasks = load_tasks(f, sc)
        assert [(t.id, t.task, t.reference) for t in tasks] == [
            ("k", "Plan a 2 day trip to Kyoto.", None),
            ("2", "Just Oslo.", "42"),
        ], f


def test_every_problem_of_a_tasks_file_is_located(tmp_path: Path, sc) -> None:
    f = write(
        tmp_path,
        '{"id": "a", "vars": {"city": "Kyoto"}}\n'  # no days
        '{"id": "b", "vars": {"city": "X", "days": 1}, "expct": {}}\n'  # misspelled key
        "not json\n"
        '{"id": "a", "vars": {"city": "Y", "days": 1}}\n'  # id again
        '{"vars": {"city": "Z", "days": 1}, "expect": {"speakers": {"first": "ghost"}}}\n'
        '{"vars": {"city": "Z", "days": 1}, "expect": {"final_mesage": {"contains": "Z"}}}\n',
        "t.jsonl",
    )
    found = issues(f, sc)
    assert any(x.startswith(f"{f}:1:") and "uses {{days}}, which this row does not give" in x for x in found)
    assert any(x.startswith(f"{f}:2:") and "unknown key 'expct'; did you mean 'expect'?" in x for x in found)
    assert any(x.startswith(f"{f}:3:") and "not valid JSON" in x for x in found)
    assert any(x.startswith(f"{f}:4:") and "also the id of the task on line 1" in x for x in found)
    assert any(x.startswith(f"{f}:5:") and "'ghost' is not an agent of this team" in x for x in found)
    assert any(x.startswith(f"{f}:6:") and "did you mean 'final_message'?" in x for x in found)
    assert len(found) == 6


def test_csv_problems_are_located_by_row(tmp_path: Path, sc) -> None:
    f = write(tmp_path, 'id,city,days,expect\na,Kyoto,2,"{final_message: {contains: [}"\nb,Lima\n', "t.csv")
    found = issues(f, sc)
    assert any(x.startswith(f"{f}:2:") and "expect" in x for x in found), found
    assert any(x.startswith(f"{f}:3:") and "this row has 2 fields; the header has 4" in x for x in found)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("t.txt", "a", "a tasks file is .jsonl, .json, .csv, .tsv or .yaml"),
        ("t.csv", "", "has no header row"),
        ("t.jsonl", "\n\n", "holds no tasks"),
        ("t.yaml", "tasks: []", "a YAML tasks file is a list of tasks"),
        ("t.jsonl", '["a list"]', "a task is a mapping"),
    ],
)
def test_files_that_hold_no_tasks_say_so(tmp_path: Path, sc, name: str, text: str, message: str) -> None:
    assert any(message in x for x in issues(write(tmp_path, text, name), sc))


def test_a_row_without_task_needs_the_scenarios(tmp_path: Path) -> None:
    bare = load_scenario(write(tmp_path, "name: b\nteam: {kind: single, agents: [{name: a}]}\n", "b.yaml"))
    f = write(tmp_path, '{"id": "x"}\n{"task": "Say hi."}\n', "t.jsonl")
    found = issues(f, bare)
    assert len(found) == 1 and "the row gives no task, and the scenario has none" in found[0]


def test_a_rubric_variable_must_be_given_too(tmp_path: Path, sc) -> None:
    f = write(tmp_path, '{"task": "Go.", "vars": {}}\n', "t.jsonl")
    assert any("the judge's rubric uses {{city}}" in x for x in issues(f, sc))


def test_a_tasks_file_is_found_beside_the_scenario(
    tmp_path: Path, sc, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, '{"vars": {"city": "A", "days": 1}}\n', "beside.jsonl")
    monkeypatch.chdir(tmp_path.parent)
    assert resolve_tasks_path("beside.jsonl", sc) == tmp_path / "beside.jsonl"
    assert resolve_tasks_path("nowhere.jsonl", sc) == Path("nowhere.jsonl")


# --------------------------------------------------------------------------- the judge block


def judge_issues(tmp_path: Path, judge: str) -> list[str]:
    f = write(
        tmp_path,
        f"name: j\ntask: t\nteam: {{kind: single, agents: [{{name: a}}]}}\njudge: {judge}\n",
        "j.yaml",
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(f)
    return [str(i) for i in caught.value.issues]


@pytest.mark.parametrize(
    ("judge", "message"),
    [
        ("{rubric: r, scale: 5}", "write the scale as LOW-HIGH, e.g. 1-5 (got '5')"),
        ("{rubric: r, scale: 5-1}", "the scale's low end must be under its high end"),
        ("{rubric: r, scale: 1-5, pass_at: 6}", "pass_at (6) must lie on the scale 1-5"),
        ("{rubric: r, pass_at: true}", "must be a number, not true"),
        ("{rubric: ''}", "at least 1 character"),
        ("{rubric: r, modle: x}", "unknown key 'modle'; did you mean 'model'?"),
        ("{scale: 1-5}", "required field is missing"),
    ],
)
def test_a_wrong_judge_block_is_located(tmp_path: Path, judge: str, message: str) -> None:
    found = judge_issues(tmp_path, judge)
    assert any(x.startswith(str(tmp_path / "j.yaml") + ":4:") and message in x for x in found), found


def test_the_judge_block_defaults(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        "name: j\ntask: t\nteam: {kind: single, agents: [{name: a}]}\n"
        "judge: {rubric: r, scale: ' 0 - 10 ', model: {profile: vllm, temperature: 0}}\n",
        "j.yaml",
    )
    judge = load_scenario(f).judge
    assert judge is not None
    assert (judge.scale, judge.low, judge.high, judge.passing) == ("0-10", 0, 10, 8.0)
    assert judge.model is not None and judge.model.profile == "vllm"
    assert load_scenario(write(tmp_path, SCENARIO, "trip.yaml")).judge.passing == 4.0  # type: ignore[union-attr]


def test_a_csv_of_100000_columns_is_refused_at_the_bound(tmp_path: Path, sc) -> None:
    """The header is checked in one pass (it was quadratic: minutes for 100,000 columns); past 1,000
    columns it is refused, located at the first column too many."""
    n = 100_000
    f = write(tmp_path, ",".join(f"c{i}" for i in range(n)) + "\n" + ",".join("x" * n) + "\n", "t.csv")
    assert issues(f, sc) == [f"{f}:1:1001: the header has 100,000 columns; a tasks file has at most 1,000"]


def test_repeated_columns_are_each_located(tmp_path: Path, sc) -> None:
    names = ["id", "city", "days", *(f"v{i}" for i in range(990)), "city", "v5", ""]
    f = write(tmp_path, ",".join(names) + "\n" + ",".join(["a", "Kyoto", "2"] + ["x"] * 993) + "\n", "t.csv")
    assert issues(f, sc) == [
        f"{f}:1:994: column 'city' appears twice in the header",
        f"{f}:1:995: column 'v5' appears twice in the header",
        f"{f}:1:996: column 996 of the header has no name",
    ]


def test_a_row_of_100000_keys_is_refused(tmp_path: Path, sc) -> None:
    wide = {f"v{i}": "x" for i in range(100_000)}
    f = write(tmp_path, json.dumps({"vars": wide}) + "\n" + json.dumps(wide) + "\n", "t.jsonl")
    assert issues(f, sc) == [
        f"{f}:1:1: a task has at most 1,000 keys and 1,000 variables (this one 100,000)",
        f"{f}:2:1: a task has at most 1,000 keys and 1,000 variables (this one 100,000)",
    ]


def test_keys_are_located_however_they_are_written(tmp_path: Path, sc) -> None:
    # a key written with an escape, after a nested object holding the same word, after ':' inside a string
    line = '{"vars": {"expct": 1, "city": "a: b", "days": 1}, "note": "x\\"y", "\\u0065xpct": {}}'
    f = write(tmp_path, line + "\n", "t.jsonl")
    column = line.index('"\\u0065xpct"') + 1
    assert issues(f, sc) == [
        f"{f}:1:51: note: unknown key 'note'; valid keys: id, task, vars, reference, expect, persona",
        f"{f}:1:{column}: expct: unknown key 'expct'; did you mean 'expect'?",
    ]


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("t.jsonl", '{"id": "a", "vars": {"city": "Ky\\ud800", "days": 1}}\n', "1:13: vars.city"),
        ("t.jsonl", '{"task": "t", "vars": {"city": "c"}}\n{"id": "b\\udfff", "task": "t"}\n', "2:2: id"),
        ("t.yaml", '- id: a\n  vars: {city: "Ky\\ud800", days: 1}\n', "2:16: [0].vars.city"),
        ("t.csv", 'id,city,days,expect\na,K,1,"{final_message: {contains: ""\\ud800""}}"\n', "2:1: expect"),
        ("t.json", '[{"id": "a", "vars": {"city": "\\ud800", "days": 1}}]', "1:1: vars.city"),
    ],
    ids=["jsonl", "jsonl-id", "yaml", "csv-expect-cell", "json-list"],
)
def test_a_lone_surrogate_is_refused_where_it_sits(
    tmp_path: Path, sc, name: str, text: str, where: str
) -> None:
    f = write(tmp_path, text, name)
    found = issues(f, sc)
    assert len(found) == 1 and found[0].startswith(f"{f}:{where}"), found
    assert "lone surrogate" in found[0] and "write the character itself" in found[0]


def test_bytes_that_are_not_utf8_are_located(tmp_path: Path, sc) -> None:
    f = write(tmp_path, b"id,city,days\nkyoto,Ky\xffoto,2\n", "t.csv")
    assert issues(f, sc) == [
        f"{f}:2:9: the tasks file is not UTF-8 text: byte 0xFF here cannot be decoded (saved as Latin-1 or "
        "another code page? save it as UTF-8)"
    ]


def test_a_surrogate_pair_escape_in_json_is_one_character(tmp_path: Path, sc) -> None:
    f = write(tmp_path, '{"vars": {"city": "\\ud83d\\uddfb", "days": 1}}\n', "t.jsonl")
    (task,) = load_tasks(f, sc)
    assert task.task == "Plan a 1 day trip to \U0001f5fb."
