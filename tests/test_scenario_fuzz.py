"""Property-based fuzzing of the file loaders: whatever the bytes, loading a scenario returns a Scenario or
raises ScenarioError (a cassette: a Cassette or ScenarioError), never anything else.

Examples are derandomized (the same cases every run) and each one is bounded by hypothesis' deadline,
set generously: a case that hangs or explodes fails the test instead of stalling the suite.
"""

from __future__ import annotations

import json
import re
import string
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autogen_troupe.errors import ScenarioError
from autogen_troupe.scenario._loader import _schema_places, bundled_scenarios, load_scenario
from autogen_troupe.scenario._schema import MAX_MESSAGES, MAX_TIMEOUT_S, Scenario
from autogen_troupe.tapes._cassette import Cassette

FUZZ = settings(
    max_examples=150,
    deadline=timedelta(seconds=20),  # a bound on a hang, not a speed requirement
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

BUNDLED = {name: path.read_text(encoding="utf-8") for name, path in sorted(bundled_scenarios().items())}
KEYS = [*sorted(_schema_places()), "<<", "", "x", "any", "all"]
SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
YAML_CHARS = string.ascii_letters + string.digits + " \n\t:-[]{},&*!|>'\"#%@`?=<~.$\\/\x00\x07é€😀"


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="troupe-fuzz-") as d:
        yield Path(d)


def load(folder: Path, data: bytes) -> None:
    """The property: a Scenario, or a ScenarioError whose every issue is located."""
    path = folder / "case.yaml"
    path.write_bytes(data)
    try:
        scenario = load_scenario(path, env={})
    except ScenarioError as e:
        assert e.issues, "a ScenarioError names at least one issue"
        for issue in e.issues:
            assert issue.line >= 1 and issue.column >= 1 and issue.message
        str(e)  # renders
    else:
        assert isinstance(scenario, Scenario)
        assert SAFE_NAME.fullmatch(scenario.name), scenario.name  # it becomes a file name
        assert 1 <= scenario.limits.max_messages <= MAX_MESSAGES
        assert 0 < scenario.limits.timeout_s <= MAX_TIMEOUT_S


# --------------------------------------------------------------------------- generated YAML

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["TERMINATE", "round_robin", "single", "swarm", "${X}", "${X:-1}", "a", "python"]),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=12))
trees = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(keys, inner, max_size=6),
    ),
    max_leaves=40,
)
agents = st.lists(
    st.fixed_dictionaries(
        {"name": st.one_of(st.sampled_from(["a", "b", "planner"]), st.text(max_size=70))},
        optional={k: trees for k in ("description", "system_message", "mcp", "tools", "handoffs", "model")},
    ),
    max_size=4,
)
near_scenarios = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.text(max_size=80), st.sampled_from(["ok", "../../x", "a" * 300])),
        "task": trees,
        "model": trees,
        "team": st.fixed_dictionaries(
            {"kind": st.sampled_from(["round_robin", "selector", "swarm", "single", "other"])},
            optional={"agents": agents, "termination": trees, "max_turns": scalars, "mcp": trees},
        ),
        "mcp_servers": st.dictionaries(st.text(max_size=8), trees, max_size=3),
        "limits": st.dictionaries(st.sampled_from(["max_messages", "timeout_s", "x"]), scalars),
        "expect": trees,
        "termination": trees,
    },
)


def dump(data: Any, style: bool | None) -> bytes:
    return yaml.safe_dump(data, allow_unicode=True, default_flow_style=style, sort_keys=False).encode()


@FUZZ
@given(data=st.one_of(near_scenarios, trees), style=st.sampled_from([None, True, False]))
def test_generated_yaml_loads_or_raises_scenario_error(folder: Path, data: Any, style: bool | None) -> None:
    load(folder, dump(data, style))


# --------------------------------------------------------------------------- mutated bundled scenarios

mutations = st.lists(
    st.tuples(
        st.sampled_from(["insert", "delete", "replace", "dup_line", "indent"]),
        st.integers(min_value=0, max_value=10**6),
        st.text(alphabet=YAML_CHARS, max_size=8),
    ),
    min_size=1,
    max_size=4,
)


def mutate(text: str, steps: list[tuple[str, int, str]]) -> str:
    for op, at, chunk in steps:
        i = at % (len(text) + 1)
        if op == "insert":
            text = text[:i] + chunk + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + len(chunk) + 1 :]
        elif op == "replace":
            text = text[:i] + chunk + text[i + len(chunk) :]
        else:
            lines = text.splitlines(keepends=True) or [""]
            k = at % len(lines)
            lines.insert(k, lines[k] if op == "dup_line" else "  " + lines[k])
            text = "".join(lines)
    return text


@FUZZ
@given(name=st.sampled_from(sorted(BUNDLED)), steps=mutations)
def test_mutated_bundled_scenarios_load_or_raise_scenario_error(
    folder: Path, name: str, steps: list[tuple[str, int, str]]
) -> None:
    load(folder, mutate(BUNDLED[name], steps).encode("utf-8", errors="surrogatepass"))


# --------------------------------------------------------------------------- raw text and bytes


@FUZZ
@given(
    data=st.one_of(
        st.text(alphabet=YAML_CHARS, max_size=300).map(lambda t: t.encode("utf-8")),
        st.binary(max_size=300),
    )
)
def test_raw_text_and_bytes_load_or_raise_scenario_error(folder: Path, data: bytes) -> None:
    load(folder, data)


# --------------------------------------------------------------------------- cassettes

json_trees = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
cassettes = st.fixed_dictionaries(
    {"format": st.just("troupe-cassette"), "version": st.sampled_from([1, 1, 2, "1", True])},
    optional={
        "scenario": json_trees,
        "agents": json_trees,
        "model_calls": json_trees,
        "tool_calls": json_trees,
        "mcp_tools": json_trees,
    },
)


@FUZZ
@given(data=st.one_of(cassettes, json_trees), cut=st.integers(min_value=0, max_value=400))
def test_generated_cassettes_load_or_raise_scenario_error(folder: Path, data: Any, cut: int) -> None:
    text = json.dumps(data)
    for variant in (text, text[: cut % (len(text) + 1)]):  # whole, and broken off
        path = folder / "case.cassette.json"
        path.write_text(variant, encoding="utf-8")
        try:
            assert isinstance(Cassette.load(path), Cassette)
        except ScenarioError as e:
            assert e.issues and all(i.line >= 1 and i.column >= 1 for i in e.issues)
